"""One table of display decimals and one paired-interval formatter behind every report."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from hardymer.evaluation.metrics import metric_decimals
from hardymer.evaluation.stats import paired_differences
from hardymer.reporting.compare import diff_cell, metric_digits
from hardymer.reporting.evaluation import format_metric
from hardymer.reporting.paired import paired_cell
from hardymer.reporting.tables import markdown_table

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"_fmt_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_reports_round_with_the_one_table():
    agg = {("m", "a"): {"mae": (0.98765, 0.01234, 3), "acc2": (61.2345, 1.2345, 3)}}
    for metric in ("mae", "acc2"):
        k = metric_decimals(metric)
        mu, sd, _ = agg[("m", "a")][metric]
        assert metric_digits(metric) == k and format_metric(metric, mu) == f"{mu:.{k}f}"
        assert f"| m | {mu:.{k}f} ± {sd:.{k}f} |" in markdown_table(agg, metric, ["m"], ["a"])


@pytest.mark.parametrize("diffs", [[-4.25, -4.25], [1.0], [0.5, 2.0], [1.2, 0.8, 1.5, 0.9, 1.1], [1.0, -1.0, 0.5]])
def test_every_formatter_gives_the_same_cell(diffs):
    d = paired_differences(np.asarray(diffs) + 60.0, np.full(len(diffs), 60.0))
    verdict = _load(ROOT / "scripts" / "verdict_report.py")
    grid = _load(ROOT / "benchmarks" / "analysis" / "grid_accuracy.py")
    cell = d.cell(2)
    assert diff_cell(d.to_dict(), 2) == cell == verdict.fmt(d, 2)
    assert paired_cell(d.to_dict(), 2) == cell.replace(" *", " \\*")
    assert grid._fmt(d, 2) == d.cell(2, mark="")
    assert ("*" in cell) == d.excludes_zero and ("no interval" in cell) == (not d.estimable)
