"""benchmarks/analysis/grid_accuracy.py and benchmarks/analysis/bf16_summary.py on small hand-made inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from analysis import bf16_summary, grid_accuracy

CONDS = ["a", "t", "v", "at", "av", "tv", "atv"]


def _t_interval(d: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return d.mean() - half, d.mean() + half


def test_grid_accuracy_pairs_by_seed_and_condition(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ref_runs, new_acc = [], {}
    for seed in range(3):
        rows = []
        for c in CONDS:
            acc_ref, acc_new = 60 + rng.normal(), 60 + rng.normal()
            ref_runs.append({"method": "hardymer", "condition": c, "seed": seed, "test": {"acc2": acc_ref, "mae": 1.0}})
            ref_runs.append({"method": "backbone", "condition": c, "seed": seed, "test": {"acc2": 0.0, "mae": 9.0}})
            new_acc[(c, seed)] = (acc_new, acc_ref)
            rows.append({"condition": c, "cpu_s": 10.0 + seed, "test": {"acc2": acc_new, "mae": 1.1}})
        grid = {"args": {"seed": seed}, "grid": {"1.0": {"new-fast": rows}}}
        (tmp_path / f"g{seed}.json").write_text(json.dumps(grid))
    (tmp_path / "ref.json").write_text(json.dumps({"runs": ref_runs}))
    out = tmp_path / "acc.md"
    assert (
        grid_accuracy.main(
            ["--grid", str(tmp_path / "g*.json"), "--reference", str(tmp_path / "ref.json"), "--out", str(out)]
        )
        == 0
    )
    text = out.read_text()
    d = np.array([new_acc[("t", s)][0] - new_acc[("t", s)][1] for s in range(3)])
    lo, hi = _t_interval(d)
    assert f"| t | acc2 | {np.mean([new_acc[('t', s)][1] for s in range(3)]):.2f} |" in text
    assert f"{d.mean():+.2f} [{lo:+.2f}, {hi:+.2f}]" in text
    six = np.array([np.mean([new_acc[(c, s)][0] - new_acc[(c, s)][1] for c in CONDS[:6]]) for s in range(3)])
    lo, hi = _t_interval(six)
    assert "| mean of the six missing | acc2 |" in text and f"{six.mean():+.2f} [{lo:+.2f}, {hi:+.2f}]" in text
    assert "| 2 | " + " | ".join(["12.0"] * 7) + " | 84 |" in text  # CPU s per condition and the grid sum
    with pytest.raises(SystemExit, match="no arm"):
        grid_accuracy.main(
            ["--grid", str(tmp_path / "g0.json"), "--reference", str(tmp_path / "ref.json"), "--arm", "today"]
        )


def test_bf16_summary_means_intervals_and_counts() -> None:
    rng = np.random.default_rng(1)
    runs = []
    for s in range(5):
        for c in ("a", "t"):
            for p in ("fp32", "bf16"):
                runs.append(
                    {
                        "method": "m",
                        "condition": c,
                        "seed": s,
                        "precision": p,
                        "cpu_s": 2.0 if p == "fp32" else 1.0,
                        "test": {"acc2": 60 + rng.normal(), "mae": 1 + 0.1 * rng.normal()},
                    }
                )
    text = bf16_summary.summarise(runs)
    get = {(r["condition"], r["seed"], r["precision"]): r["test"] for r in runs}
    a = np.array([np.mean([get[(c, s, "bf16")]["acc2"] for c in "at"]) for s in range(5)])
    b = np.array([np.mean([get[(c, s, "fp32")]["acc2"] for c in "at"]) for s in range(5)])
    lo, hi = _t_interval(a - b)
    assert (
        f"| m | {b.mean():.2f} ± {b.std(ddof=1):.2f} | {a.mean():.2f} ± {a.std(ddof=1):.2f} | "
        f"{(a - b).mean():+.2f} [{lo:+.2f}, {hi:+.2f}] |" in text
    )
    assert "| 20 / 10 |" in text  # CPU s of all runs per precision
    excl = 0
    for c in "at":
        for k in ("acc2", "mae"):
            lo, hi = _t_interval(np.array([get[(c, s, "bf16")][k] - get[(c, s, "fp32")][k] for s in range(5)]))
            excl += lo > 0 or hi < 0
    assert f"4 (method, condition, metric) cells: 95 % interval excludes 0 in {excl}" in text
