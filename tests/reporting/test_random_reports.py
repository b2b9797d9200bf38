"""Reports of a random-protocol grid: one column per missing rate, ``auc`` per seed (trapezoid area
over the span of r, checked against numpy), paired differences per rate and for ``auc`` (checked
against scipy), the curve plot, and ``compare`` over such folders."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hardymer.reporting.compare import compare_results, load_bench_results
from hardymer.reporting.paired import paired_vs_reference, per_seed_values
from hardymer.reporting.plots import is_rate_grid, write_plots
from hardymer.reporting.results import summarise, write_results

RATES = (0.0, 0.1, 0.3, 0.7)


def _runs(methods=("zero-fill", "backbone"), seeds=range(5), rates=RATES, offset=0.0):
    rng = np.random.default_rng(0)
    runs = []
    for i, m in enumerate(methods):
        for r in rates:
            for s in seeds:
                acc = 80 - 20 * r + i + offset + rng.normal(0, 1)
                mets = {"acc2": acc, "f1": acc, "mae": 1.0 + r + rng.normal(0, 0.01)}
                runs.append(
                    {
                        "method": m,
                        "bench_method": m,
                        "condition": f"r{r:.2f}",
                        "seed": s,
                        "fold": "0",
                        "dataset": "synthetic",
                        "protocol": "random",
                        "select_on": "val",
                        "select_metric": "mae",
                        "best_epoch": 1,
                        "val": dict(mets),
                        "test": dict(mets),
                        "train_seconds": 1.0,
                        "missing": {
                            "rate": r,
                            "mask": "independent",
                            "mask_seed": 0,
                            "test_digest": f"d{r}",
                            "test_missing_rate": r,
                        },
                    }
                )
    return runs


def _curve(runs, method, seed, metric="acc2"):
    pts = sorted(
        (float(r["condition"][1:]), r["test"][metric]) for r in runs if r["method"] == method and r["seed"] == seed
    )
    return np.array([p[0] for p in pts]), np.array([p[1] for p in pts])


def test_auc_per_seed_then_mean_and_std():
    runs = _runs()
    agg = summarise(runs)
    per = []
    for s in range(5):
        r, y = _curve(runs, "backbone", s)
        per.append(np.trapezoid(y, r) / (r[-1] - r[0]))
    mean, std, n = agg[("backbone", "auc")]["acc2"]
    assert mean == pytest.approx(np.mean(per)) and std == pytest.approx(np.std(per, ddof=1)) and n == 5
    assert ("backbone", "mean6") not in agg


def test_auc_needs_every_rate_of_the_grid():
    runs = [r for r in _runs() if not (r["seed"] == 4 and r["condition"] == "r0.70")]
    values = per_seed_values(runs)
    assert "auc" not in values[("backbone", "4/0")] and "auc" in values[("backbone", "3/0")]


def test_paired_auc_and_rates_match_scipy():
    runs = _runs()
    paired = paired_vs_reference(runs, ["zero-fill", "backbone"], "backbone")
    cells = {(d["condition"], d["metric"]): d for d in paired["differences"]}
    assert {c for c, _ in cells} == {"r0.00", "r0.10", "r0.30", "r0.70", "auc"}
    vals = per_seed_values(runs)
    d = np.array(
        [vals[("zero-fill", f"{s}/0")]["auc"]["acc2"] - vals[("backbone", f"{s}/0")]["auc"]["acc2"] for s in range(5)]
    )
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    got = cells[("auc", "acc2")]
    assert got["mean"] == pytest.approx(d.mean()) and got["ci_low"] == pytest.approx(lo)
    assert got["ci_high"] == pytest.approx(hi)


def test_results_md_columns_header_and_curves(tmp_path):
    runs = _runs()
    md = write_results(runs, tmp_path, "synthetic", ["zero-fill", "backbone"]).read_text()
    assert "| method | r0.00 | r0.10 | r0.30 | r0.70 | auc |" in md
    assert "`auc` = area under the metric-over-rate curve" in md
    assert "r0.70: 70.0 % (`d0.7`)" in md
    assert is_rate_grid(runs)
    written = write_plots(runs, tmp_path, ["zero-fill", "backbone"])
    assert {p.name for p in written} == {"curve_acc2.png", "curve_mae.png"}
    assert all(p.stat().st_size > 1000 for p in written)


def test_compare_reads_random_grids(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    write_results(_runs(), a, "synthetic", ["zero-fill", "backbone"])
    write_results(_runs(("hardymer",), offset=1.0), b, "synthetic", ["hardymer"])
    cmp = compare_results([load_bench_results(a), load_bench_results(b)])
    assert cmp.columns == ["r0.00", "r0.10", "r0.30", "r0.70", "auc"]
    assert [r.name for r in cmp.rows] == ["zero-fill@a", "backbone@a", "hardymer@b"]
