"""The model-batched backbone of benchmarks/bench_members.py computes what its members compute."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hardymer.data import create_dataset
from hardymer.data.batching import GroupBatcher
from hardymer.optim import Adam

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from _lib.member_stack import BackboneStack, check_equal, seeded_members, stack_batches  # noqa: E402


def _members_and_batches(condition: str, m: int = 3):
    members, ds, fold = seeded_members(create_dataset("synthetic", size="tiny"), m, hidden=16, decoder_hidden=32)
    batches = [  # batch sizes differ, so the stack pads to a common shape
        next(iter(GroupBatcher(ds, fold.train, batch_size=4 + i, shuffle=True, seed=i))).with_condition(condition)
        for i in range(m)
    ]
    return members, batches


@pytest.mark.parametrize("condition", ["a", "tv", "atv"])
def test_stack_matches_members_loss_and_gradient(condition: str) -> None:
    """Dropout off, batches of different shapes padded to one: the stack's per-member loss and the
    fusion layer's gradient equal each member's own ``stage2_loss`` and gradient."""
    members, batches = _members_and_batches(condition)
    assert check_equal(members, batches, atol=1e-5) <= 1e-5


def test_stack_steps_like_separate_members() -> None:
    """Three AdamW steps of the stack (per-member clipping) leave each member's parameters where
    three separate steps leave them (dropout off, same batches)."""
    members, batches = _members_and_batches("a", m=2)
    stack = BackboneStack(members).eval()
    opt = Adam(stack.parameters(), lr=1e-2, weight_decay=1e-5, decoupled=True)
    stacked = stack_batches(batches)
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        stack.losses(stacked).sum().backward()
        stack.clip_grad_norm_(0.5)
        opt.step()
    for i, (mem, b) in enumerate(zip(members, batches, strict=True)):
        mem.eval()
        mopt = Adam(mem.parameters(), lr=1e-2, weight_decay=1e-5, decoupled=True)
        for _ in range(3):
            mopt.zero_grad(set_to_none=True)
            mem.stage2_loss(b).backward()
            torch.nn.utils.clip_grad_norm_(mem.parameters(), 0.5)
            mopt.step()
        torch.testing.assert_close(stack.head.weight.detach()[i], mem.head.weight.detach().t(), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(stack.fuse.bias.detach()[i, 0], mem.fuse[0].bias.detach(), atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_bench_members_quick_writes_figures(tmp_path: Path) -> None:
    out = tmp_path / "members.json"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_members.py"), "--quick", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    res = json.loads(out.read_text())
    assert res["equivalence_max_abs_diff"] < 1e-4
    assert [r["M"] for r in res["rows"]] == [1, 3]
    for r in res["rows"]:
        assert r["speedup"] > 0 and r["stacked"]["peak_rss_mib"] > 0


@pytest.mark.slow
def test_bench_members_table_runs_both_arms_and_pairs_them(tmp_path: Path) -> None:
    out = tmp_path / "table.json"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_members_table.py"), "--epochs", "2", "--seeds", "0-2"]
        + ["--conditions", "a,atv", "--out", str(tmp_path / "runs"), "--fresh", "--json", str(out)],
        check=True,
        capture_output=True,
    )
    res = json.loads(out.read_text())
    assert set(res["arms"]) == {"separate", "batched"} and all(a["cpu_s"] > 0 for a in res["arms"].values())
    assert len(res["seeds"]) == 3 and set(res["batched_minus_separate"]) == {"a", "atv"}
    metrics = json.loads(
        (tmp_path / "runs" / "batched" / "backbone" / "a" / "fold0" / "seed0" / "metrics.json").read_text()
    )
    assert metrics["batched"]["members"] == 6 and metrics["batched"]["seeds"] == [0, 0, 1, 1, 2, 2]  # 7 per group
