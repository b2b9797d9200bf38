"""scripts/selection_inflation.py: validation-selected vs test-selected figures from the same runs,
with the inflation's paired interval checked against scipy."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("selection_inflation", ROOT / "scripts" / "selection_inflation.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _write(root: Path, method: str, cond: str, seed: int, ours: float, field: float, protocol: str = "fixed"):
    d = root / method / cond / f"seed{seed}"
    d.mkdir(parents=True)
    m = {
        "method": method,
        "condition": cond,
        "seed": seed,
        "fold": "f0",
        "protocol": protocol,
        "select_on": "val",
        "test": {"mae": ours},
        "test_selected": {"mae": field},
    }
    (d / "metrics.json").write_text(json.dumps(m))


def test_inflation_is_paired_and_oriented(tmp_path):
    ours = [1.10, 1.20, 1.05, 1.15]
    field = [1.00, 1.18, 1.01, 1.02]
    for s, (o, f) in enumerate(zip(ours, field)):
        _write(tmp_path, "backbone", "at", s, o, f)
    mod = _module()
    cells = mod.collect([tmp_path], "mae")
    md, rows = mod.table(cells, "mae")
    (row,) = rows
    diffs = np.array(ours) - np.array(field)  # lower is better for mae: ours - test-selected
    lo, hi = stats.t.interval(0.95, len(diffs) - 1, loc=diffs.mean(), scale=stats.sem(diffs))
    assert row["mean"] == pytest.approx(diffs.mean())
    assert row["ci_low"] == pytest.approx(lo) and row["ci_high"] == pytest.approx(hi)
    assert row["runs"] == 4 and "backbone | at | 4" in md


def test_mean6_needs_every_missing_condition(tmp_path):
    for c in ("a", "t", "v", "at", "av", "tv"):
        for s in range(3):
            _write(tmp_path, "zero-fill", c, s, 1.0 + s / 10, 0.9 + s / 10)
    mod = _module()
    cells = mod.collect([tmp_path], "mae")
    mod.add_mean6(cells)
    assert ("zero-fill", "mean6") in cells
    assert all(o - f == pytest.approx(0.1) for o, f in cells[("zero-fill", "mean6")].values())


def test_runs_without_a_curve_are_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.json").write_text(json.dumps({"method": "x", "test": {}}))
    mod = _module()
    sys.argv = ["selection_inflation.py", str(tmp_path), "--metric", "mae", "--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit, match="record_test_curve"):
        mod.main()
    assert not (tmp_path / "out").exists()


def test_random_protocol_rows_per_rate_and_their_mean(tmp_path):
    rates = ("r0.00", "r0.30", "r0.70")
    vals = {}
    for i, c in enumerate(rates):
        for s in range(3):
            o, f = 1.0 + 0.1 * i + 0.01 * s, 0.98 + 0.1 * i
            vals[(c, s)] = (o, f)
            _write(tmp_path, "backbone", c, s, o, f, protocol="random")
    mod = _module()
    cells = mod.collect([tmp_path], "mae")
    assert set(cells) == {("backbone", c) for c in rates}
    mod.add_rate_mean(cells)
    md, rows = mod.table(cells, "mae")
    assert [r["condition"] for r in rows] == [*rates, "mean_r"]
    ours = [np.mean([vals[(c, s)][0] for c in rates]) for s in range(3)]
    field = [np.mean([vals[(c, s)][1] for c in rates]) for s in range(3)]
    assert rows[-1]["mean"] == pytest.approx(np.mean(np.array(ours) - np.array(field)))
