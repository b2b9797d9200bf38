"""Faithfulness of the MMIN family (mmin, if-mmin, cif-mmin): the building blocks against direct
computations, the stage-2 teacher, the training patterns, and end-to-end runs."""

import json
import math
import types

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from hardymer.conditions import MODALITIES
from hardymer.config import TrainConfig
from hardymer.data import GroupBatcher, create_dataset
from hardymer.data.batching import Batch
from hardymer.data.protocol import FixedCondition, make_condition_sampler
from hardymer.errors import ConfigError
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.models.imagination import ResidualAE, cmd, pair_info_nce
from hardymer.models.mmin import PARTIAL_MASKS, valid_rows
from hardymer.testing import check_method
from hardymer.training.run import run_experiment
from hardymer.training.trainer import fit

METHODS = ("mmin", "if-mmin", "cif-mmin")
SMALL = dict(hidden=8, cls_layers=[16], ae_layers=[12, 6], n_blocks=3)


@pytest.fixture(scope="module")
def ds():
    return create_dataset("synthetic", size="tiny", seed=0)


def _make(ds, name, **opts):
    torch.manual_seed(0)
    return create_method(name, MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task), **{**SMALL, **opts})


def _ctx(ds, epochs=4, conditions=None, **train):
    tc = OmegaConf.structured(TrainConfig(epochs=epochs, patience=0, batch_size=4, **train))
    return FitContext(
        ds=ds,
        fold=ds.folds[0],
        conditions=conditions or FixedCondition("at"),
        train=tc,
        seed=0,
        device=torch.device("cpu"),
    )


def _batch(ds, n=4) -> Batch:
    return next(iter(GroupBatcher(ds, ds.folds[0].train, batch_size=n)))


# -- building blocks ------------------------------------------------------------------------------


def test_cmd_matches_a_direct_numpy_computation():
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(7, 4)), rng.normal(1.0, 2.0, size=(9, 4)) ** 2
    m1, m2 = x1.mean(0), x2.mean(0)
    want = np.linalg.norm(m1 - m2)
    for k in range(2, 6):
        want += np.linalg.norm(((x1 - m1) ** k).mean(0) - ((x2 - m2) ** k).mean(0))
    got = cmd(torch.tensor(x1), torch.tensor(x2), n_moments=5)
    assert float(got) == pytest.approx(want, rel=1e-10)
    assert float(cmd(torch.tensor(x1), torch.tensor(x1))) == 0.0
    assert float(cmd(torch.tensor(x1), torch.tensor(x2), n_moments=1)) == pytest.approx(np.linalg.norm(m1 - m2))


def test_cmd_gradient_is_finite_at_identical_inputs():
    x = torch.randn(5, 3, requires_grad=True)
    cmd(x, x.detach().clone()).backward()
    assert torch.isfinite(x.grad).all()


def _record(ae):
    seen = {"in": [], "out": []}
    hooks = [e.register_forward_hook(lambda mod, a, o: seen["in"].append(a[0].detach())) for e in ae.encoders]
    hooks += [d.register_forward_hook(lambda mod, a, o: seen["out"].append(o.detach())) for d in ae.decoders]
    return seen, hooks


def test_cascade_autoencoder_block_k_sees_the_input_plus_all_earlier_outputs():
    torch.manual_seed(0)
    ae = ResidualAE(6, [5, 4, 3], n_blocks=4, mode="cascade")
    x = torch.randn(2, 3, 6)
    seen, hooks = _record(ae)
    out, latents = ae(x)
    for h in hooks:
        h.remove()
    assert out.shape == x.shape and latents.shape == (2, 3, 4 * 3)
    assert len(seen["in"]) == len(seen["out"]) == 4
    for k in range(4):
        want = x + sum((seen["out"][j] for j in range(k)), torch.zeros_like(x))
        assert torch.allclose(seen["in"][k], want, atol=1e-6), k
        assert torch.allclose(latents[..., 3 * k : 3 * k + 3], ae.encoders[k](seen["in"][k]), atol=1e-6)
    assert torch.allclose(out, ae.transition(seen["in"][-1] + seen["out"][-1]), atol=1e-6)
    # the release's sizes: 384 -> 256 -> 128 -> 64 per block, 5 blocks -> 320-d latents
    big = ResidualAE(384, [256, 128, 64], n_blocks=5)
    assert [m.out_features for m in big.encoders[0] if isinstance(m, torch.nn.Linear)] == [256, 128, 64]
    assert [m.out_features for m in big.decoders[0] if isinstance(m, torch.nn.Linear)] == [128, 256, 384]
    assert big(torch.zeros(1, 384))[1].shape == (1, 320)


@pytest.mark.parametrize("mode", ["chained", "chained-residual"])
def test_invariant_guided_autoencoder_wiring(mode):
    torch.manual_seed(0)
    ae = ResidualAE(6, [4, 3], n_blocks=3, mode=mode)
    x, g = torch.randn(5, 6), torch.randn(5, 6)
    seen, hooks = _record(ae)
    out, _ = ae(x, g)
    for h in hooks:
        h.remove()
    assert torch.allclose(seen["in"][0], x + g)
    for k in (1, 2):
        assert torch.allclose(seen["in"][k], seen["out"][k - 1] + g, atol=1e-6)
    last = seen["out"][-1] if mode == "chained" else seen["in"][-1] + seen["out"][-1]
    assert torch.allclose(out, ae.transition(last), atol=1e-6)
    with pytest.raises(ValueError, match="guiding"):
        ae(x)


@pytest.mark.parametrize("exclude", [True, False])
def test_pair_info_nce_against_a_direct_computation(exclude):
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    a = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    b = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    s = 2.5 * a @ b.T

    def one_way(m):
        tot = 0.0
        for i in range(len(m)):
            others = [m[i, j] for j in range(len(m)) if j != i or not exclude]
            tot += -m[i, i] + math.log(sum(math.exp(v) for v in others))
        return tot / len(m)

    want = (one_way(s) + one_way(s.T)) / 2
    got = pair_info_nce(torch.tensor(z1), torch.tensor(z2), torch.tensor(2.5), exclude_positive=exclude)
    assert float(got) == pytest.approx(want, rel=1e-10)


# -- the methods ----------------------------------------------------------------------------------


def test_cycle_loss_is_the_backward_ae_against_the_detached_fused_input(ds):
    m = _make(ds, "mmin", task_weight=0.0, imagination_weight=0.0, cycle_weight=1.0, dropout=0.0)
    m.on_stage_start(2, types.SimpleNamespace(seed=0))
    b = valid_rows(_batch(ds).with_condition("t"))
    loss = m.stage2_loss(b)
    with torch.no_grad():
        o = m.outputs(b)
        back, _ = m.ae_cycle(o["recon"])
        want = ((back - o["fused"]) ** 2).mean()
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in m.ae_cycle.parameters())
    assert all(p.grad is not None for p in m.ae.parameters())  # through the backward AE's input
    assert all(p.grad is None or not p.grad.any() for p in m.head.parameters())  # no task term
    m.zero_grad(set_to_none=True)
    m.config.cycle_weight = 0.0
    m.config.task_weight = 1.0
    m.stage2_loss(b).backward()
    assert all(p.grad is None for p in m.ae_cycle.parameters())


def test_imagination_targets_release_and_missing(ds):
    m = _make(ds, "mmin", dropout=0.0)
    m.on_stage_start(2, types.SimpleNamespace(seed=0))
    b = valid_rows(_batch(ds).with_condition("at"))  # video missing
    enc = m.teacher["encoders"]
    zeros = {k: torch.zeros_like(v) for k, v in b.x_full.items()}
    target, mask = m.imagination_target(b)
    assert mask is None
    H = m.config.hidden
    assert torch.allclose(target[..., :H], enc["a"](zeros["a"]))  # available: the response to zeros
    assert torch.allclose(target[..., 2 * H :], enc["v"](b.x_full["v"]))  # missing: the real features
    m.config.target = "missing"
    target, mask = m.imagination_target(b)
    assert torch.allclose(target[..., 2 * H :], enc["v"](b.x_full["v"]))
    assert mask is not None and mask[..., 2 * H :].all() and not mask[..., : 2 * H].any()


@pytest.mark.parametrize("name", METHODS)
def test_stage2_targets_come_from_a_frozen_copy_of_the_stage1_teacher(ds, name, monkeypatch):
    m = _make(ds, name)
    at_start: dict = {}
    orig = m.on_stage_start

    def on_stage_start(stage, ctx):
        if stage == 2:
            parts = m.teacher_modules()
            at_start.update(
                {f"{k}.{n}": v.detach().clone() for k, mod in parts.items() for n, v in mod.state_dict().items()}
            )
        orig(stage, ctx)

    monkeypatch.setattr(m, "on_stage_start", on_stage_start)
    fit(m, _ctx(ds))
    teacher = m.teacher
    assert teacher is not None and set(teacher) == set(m.teacher_modules())
    frozen = {f"{k}.{n}": v for k, mod in teacher.items() for n, v in mod.state_dict().items()}
    assert frozen.keys() == at_start.keys()
    assert all(torch.equal(frozen[k], at_start[k]) for k in frozen), "the teacher changed during stage 2"
    assert all(not p.requires_grad for mod in teacher.values() for p in mod.parameters())
    assert not any(mod.training for mod in teacher.values())
    # the student's encoders were fine-tuned away from the teacher, which is not part of the state dict
    live = {f"{k}.{n}": v for k, mod in m.teacher_modules().items() for n, v in mod.state_dict().items()}
    assert any(not torch.equal(live[k], frozen[k]) for k in frozen)
    assert not any(k.startswith("_frozen") for k in m.state_dict())


@pytest.mark.parametrize("name", METHODS)
def test_training_never_reads_the_test_split(ds, name, monkeypatch):
    m = _make(ds, name)
    ctx = _ctx(ds, evaluate_test=False)
    parts: list[str] = []
    orig_batcher = FitContext.batcher

    def batcher(self, part, *a, **k):
        parts.append(part)
        return orig_batcher(self, part, *a, **k)

    monkeypatch.setattr(FitContext, "batcher", batcher)
    seen: list[np.ndarray] = []
    orig_loss = m.training_loss

    def training_loss(batch, ctx, epoch):
        seen.append(batch.idx[batch.valid].numpy())
        return orig_loss(batch, ctx, epoch)

    monkeypatch.setattr(m, "training_loss", training_loss)
    res = fit(m, ctx)
    assert res.test == {} and "test" not in parts
    used = np.concatenate(seen)
    assert set(used.tolist()) == set(ds.folds[0].train.tolist())
    assert not set(used.tolist()) & set(ds.folds[0].test.tolist())


def test_release_patterns_are_six_partial_ones_per_utterance_and_seeded(ds):
    m = _make(ds, "mmin", train_patterns="release")
    ctx = _ctx(ds)
    batch = next(iter(GroupBatcher(ds, ds.folds[0].train, batch_size=64)))
    m.on_stage_start(2, ctx)
    draws = [m.stage2_batch(batch, ctx).avail.reshape(-1, 3) for _ in range(20)]
    masks = torch.cat(draws)
    natural = valid_rows(batch).avail_full.reshape(-1, 3).repeat(20, 1)
    assert not (masks & ~natural).any()
    pattern_ids = {tuple(r.tolist()) for r in masks[natural.all(1)]}
    assert pattern_ids == {tuple(r.tolist()) for r in PARTIAL_MASKS}  # all six, never the full one
    assert len({tuple(r.tolist()) for r in draws[0]}) > 1  # drawn per utterance, not per batch
    m.on_stage_start(2, ctx)
    again = [m.stage2_batch(batch, ctx).avail.reshape(-1, 3) for _ in range(20)]
    assert all(torch.equal(a, b) for a, b in zip(draws, again))
    # the protocol's condition otherwise
    m.config.train_patterns = "condition"
    assert (m.stage2_batch(batch, ctx).avail.reshape(-1, 3)[:, 2] == 0).all()


@pytest.mark.parametrize("name", METHODS)
def test_padding_does_not_change_the_losses(ds, name):
    m = _make(ds, name, dropout=0.0)
    ctx = _ctx(ds)
    b = _batch(ds, n=3)
    pad = 5
    padded = Batch(
        x={k: torch.cat([v, torch.zeros(v.shape[0], pad, v.shape[2])], 1) for k, v in b.x.items()},
        x_full={k: torch.cat([v, torch.zeros(v.shape[0], pad, v.shape[2])], 1) for k, v in b.x_full.items()},
        avail=torch.cat([b.avail, torch.zeros(b.avail.shape[0], pad, 3, dtype=torch.bool)], 1),
        avail_full=torch.cat([b.avail_full, torch.zeros(b.avail.shape[0], pad, 3, dtype=torch.bool)], 1),
        valid=torch.cat([b.valid, torch.zeros(b.valid.shape[0], pad, dtype=torch.bool)], 1),
        y=torch.cat([b.y, torch.zeros(b.y.shape[0], pad, dtype=b.y.dtype)], 1),
        idx=torch.cat([b.idx, torch.full((b.idx.shape[0], pad), -1)], 1),
    )
    for epoch in (0, 3):  # stage 1, stage 2
        torch.manual_seed(1)
        a = m.training_loss(b, ctx, epoch)
        torch.manual_seed(1)
        c = m.training_loss(padded, ctx, epoch)
        assert float(a.detach()) == pytest.approx(float(c.detach()), rel=1e-6), epoch


def test_options_are_validated(ds):
    with pytest.raises(ConfigError, match="target must be one of"):
        _make(ds, "mmin", target="paper")
    with pytest.raises(ConfigError, match="train_patterns must be one of"):
        _make(ds, "if-mmin", train_patterns="six")
    with pytest.raises(ConfigError, match="pair_weights"):
        _make(ds, "cif-mmin", pair_weights={"at": 1.0})
    with pytest.raises(ConfigError, match="stage1_fraction"):
        _make(ds, "mmin", stage1_fraction=0.0)


@pytest.mark.parametrize("name", METHODS)
def test_stage1_is_condition_free_and_shareable(ds, name):
    m = _make(ds, name)
    sig = m.stage1_signature()
    assert sig is not None and sig["stage1"].startswith(name)
    assert "target" not in sig["config"] and "hidden" in sig["config"]
    assert m.stage1_signature() != _make(ds, name, hidden=12).stage1_signature()


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("protocol", ["fixed", "unified"])
def test_end_to_end_on_synthetic(tmp_path, name, task, protocol):
    from hardymer.config import load_config

    cfg = load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 0, "task": task}},
            "method": {"name": name, "options": {}},
            "condition": "at",
            "protocol": protocol,
            "cache_dir": None,
            "train": {"epochs": 4, "patience": 0},
            "out": str(tmp_path / "run"),
        }
    )
    metrics = run_experiment(cfg)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["method"] == name
    key = "mae" if task == "regression" else "wa"
    if protocol == "fixed":
        assert math.isfinite(metrics["test"][key])
        res = evaluate_checkpoint(tmp_path / "run" / "checkpoint.pt", ["at"], split="test")
        assert res["at"][key] == pytest.approx(metrics["test"][key], abs=1e-6)
    else:
        conds = set(make_condition_sampler("unified", "atv", 0).eval_conditions)
        assert conds <= set(metrics["test"]) and all(math.isfinite(metrics["test"][c][key]) for c in conds)


@pytest.mark.parametrize("name", METHODS)
def test_conformance(name):
    check_method(name)


def test_forward_uses_the_masked_input_only(ds):
    m = _make(ds, "cif-mmin").eval()
    b = _batch(ds).with_condition("t")
    noisy = Batch(
        x=b.x,
        x_full={k: v + (0 if k == "t" else 5.0) for k, v in b.x_full.items()},
        avail=b.avail,
        avail_full=b.avail_full,
        valid=b.valid,
        y=b.y,
        idx=b.idx,
    )
    with torch.no_grad():
        assert torch.equal(m(b), m(noisy))
    assert set(MODALITIES) == {"a", "t", "v"}
