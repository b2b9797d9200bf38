"""hardymer.optim.Adam against torch.optim.Adam / AdamW: bit-equal updates, compatible state."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from hardymer.optim import Adam


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 2))


def _train(net: torch.nn.Module, opt, steps: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x, y = torch.randn(9, 5, generator=g), torch.randn(9, 2, generator=g)
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()


@pytest.mark.parametrize("decoupled, wd", [(True, 0.01), (True, 0.0), (False, 0.0), (False, 1e-4)])
def test_updates_are_bit_equal_to_torch(decoupled: bool, wd: float) -> None:
    ref, ours = _net(), _net()
    ref_cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    ref_opt = ref_cls(ref.parameters(), lr=3e-3, weight_decay=wd)
    our_opt = Adam(ours.parameters(), lr=3e-3, weight_decay=wd, decoupled=decoupled)
    _train(ref, ref_opt, 25)
    _train(ours, our_opt, 25)
    for a, b in zip(ref.parameters(), ours.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(ref.parameters(), ours.parameters()):
        ra, rb = ref_opt.state[a], our_opt.state[b]
        assert torch.equal(ra["exp_avg"], rb["exp_avg"]) and torch.equal(ra["exp_avg_sq"], rb["exp_avg_sq"])
        assert float(ra["step"]) == float(rb["step"]) == 25.0


def test_parameters_without_gradient_are_left_alone() -> None:
    net = _net()
    frozen = net[0].weight.detach().clone()
    net[0].weight.requires_grad_(False)
    opt = Adam(net.parameters(), lr=1e-2)
    _train(net, opt, 3)
    assert torch.equal(net[0].weight, frozen)
    assert net[0].weight not in opt.state


@pytest.mark.parametrize("direction", ["torch->ours", "ours->torch"])
def test_state_dict_round_trips_with_torch(direction: bool) -> None:
    """Half the steps with one optimizer, its state loaded into the other, the rest there: equal
    to all steps with torch's."""
    ref = _net()
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=2e-3, weight_decay=0.01)
    _train(ref, ref_opt, 10, seed=1)
    _train(ref, ref_opt, 10, seed=2)

    net = _net()
    first = (
        torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
        if direction == "torch->ours"
        else Adam(net.parameters(), lr=2e-3, weight_decay=0.01, decoupled=True)
    )
    _train(net, first, 10, seed=1)
    second = (
        Adam(net.parameters(), lr=0.5, weight_decay=0.5, decoupled=True)
        if direction == "torch->ours"
        else torch.optim.AdamW(net.parameters(), lr=0.5, weight_decay=0.5)
    )
    second.load_state_dict(first.state_dict())  # hyper-parameters come with the state
    assert second.param_groups[0]["lr"] == 2e-3
    _train(net, second, 10, seed=2)
    for a, b in zip(ref.parameters(), net.parameters()):
        assert torch.equal(a, b)


def test_state_dict_layout_matches_torch() -> None:
    ref, ours = _net(), _net()
    ref_opt = torch.optim.AdamW(ref.parameters(), lr=1e-3)
    our_opt = Adam(ours.parameters(), lr=1e-3, weight_decay=0.01, decoupled=True)
    _train(ref, ref_opt, 2)
    _train(ours, our_opt, 2)
    a, b = ref_opt.state_dict(), our_opt.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    assert all(a["state"][i].keys() == b["state"][i].keys() for i in a["state"])


def test_bad_arguments_and_mismatched_state() -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(ValueError, match="lr=-1"):
        Adam(_net().parameters(), lr=-1)
    with pytest.raises(ValueError, match="betas"):
        Adam(_net().parameters(), betas=(0.9, 1.0))
    opt = Adam(_net().parameters())
    other = Adam(torch.nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="does not match"):
        opt.load_state_dict(other.state_dict())


def test_zero_grad_keeps_tensors_when_asked() -> None:
    net = _net()
    opt = Adam(net.parameters())
    _train(net, opt, 1)
    torch.nn.functional.mse_loss(net(torch.ones(1, 5)), torch.zeros(1, 2)).backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_stepping_does_not_import_torch_dynamo() -> None:
    code = (
        "import sys, torch\nfrom hardymer.optim import Adam\nm = torch.nn.Linear(3, 2)\n"
        "o = Adam(m.parameters(), weight_decay=0.1, decoupled=True)\nm(torch.ones(1, 3)).sum().backward()\n"
        "torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)\no.step()\n"
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
