"""``hardymer compare``: results.json folders side by side, paired differences on shared seeds."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from hardymer.cli import app
from hardymer.conditions import CONDITIONS
from hardymer.errors import ConfigError, DataError
from hardymer.reporting.compare import (
    compare_results,
    comparison_csv,
    comparison_markdown,
    default_metric,
    diff_cell,
    load_bench_results,
    write_comparison,
)
from hardymer.reporting.results import write_results

runner = CliRunner()


def _runs(methods, seeds, offset=0.0, dataset="synthetic", protocol="fixed", rng_seed=0, task="regression"):
    """Fake finished fixed-protocol runs (what metrics.json holds), one per method × condition × seed."""
    rng = np.random.default_rng(rng_seed)
    runs = []
    for i, m in enumerate(methods):
        for c in CONDITIONS:
            for s in seeds:
                if task == "regression":
                    mets = {
                        "acc2": 60 + i + offset + rng.normal(0, 1) + s * 0.1,
                        "f1": 60 + rng.normal(),
                        "acc2_has0": 60.0,
                        "f1_has0": 60.0,
                        "acc7": 20.0,
                        "mae": 1.1 + rng.normal(0, 0.01),
                        "corr": 0.3,
                    }
                else:
                    mets = {"wa": 50 + i + rng.normal(), "ua": 50 + rng.normal(), "wf1": 50 + rng.normal()}
                runs.append(
                    {
                        "method": m,
                        "bench_method": m,
                        "condition": c,
                        "seed": s,
                        "fold": "0",
                        "dataset": dataset,
                        "protocol": protocol,
                        "select_on": "val",
                        "select_metric": "mae" if task == "regression" else "wa",
                        "best_epoch": 1,
                        "val": dict(mets),
                        "test": dict(mets),
                        "train_seconds": 1.0,
                    }
                )
    return runs


def _folder(path, runs, methods):
    write_results(runs, path, runs[0]["dataset"], methods)
    return path


@pytest.fixture()
def two(tmp_path):
    a = _folder(tmp_path / "first", _runs(["zero-fill", "backbone"], range(5)), ["zero-fill", "backbone"])
    b = _folder(tmp_path / "second", _runs(["hardymer"], range(2, 7), rng_seed=1), ["hardymer"])
    return a, b


def test_values_and_paired_differences_match_numpy_scipy(two):
    a, b = two
    ra, rb = load_bench_results(a), load_bench_results(b)
    cmp = compare_results([ra, rb])
    assert cmp.metric == "acc2" == default_metric("regression") and cmp.reference == "backbone@first"
    assert [r.name for r in cmp.rows] == ["zero-fill@first", "backbone@first", "hardymer@second"]
    assert cmp.columns == [*CONDITIONS, "mean6"]

    def per_seed(res, method, cond):
        if cond == "mean6":
            return {
                r["seed"]: np.mean(
                    [
                        x["test"]["acc2"]
                        for x in res.runs
                        if x["method"] == method and x["seed"] == r["seed"] and x["condition"] != "atv"
                    ]
                )
                for r in res.runs
                if r["method"] == method
            }
        return {r["seed"]: r["test"]["acc2"] for r in res.runs if r["method"] == method and r["condition"] == cond}

    for cond in ("at", "mean6"):
        zf = per_seed(ra, "zero-fill", cond)
        row = next(r for r in cmp.rows if r.name == "zero-fill@first")
        assert row.cells[cond][0] == pytest.approx(np.mean(list(zf.values())))
        assert row.cells[cond][1] == pytest.approx(np.std(list(zf.values()), ddof=1))
        # hardymer@second shares seeds 2, 3, 4 with backbone@first: only those are paired
        hm, bb = per_seed(rb, "hardymer", cond), per_seed(ra, "backbone", cond)
        shared = sorted(set(hm) & set(bb))
        assert shared == [2, 3, 4]
        d = np.array([hm[s] - bb[s] for s in shared])
        got = cmp.paired["hardymer@second"][cond]
        lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
        assert got["n"] == 3 and got["mean"] == pytest.approx(d.mean())
        assert (got["ci_low"], got["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
        assert got["excludes_zero"] == bool(lo > 0 or hi < 0) and got["few_seeds"]
        assert got["keys"] == [f"{s}/0" for s in shared]
    assert any("fewer than 5 shared seeds" in n for n in cmp.notes)
    assert "backbone@first" not in cmp.paired


def test_metric_reference_and_outputs(two, tmp_path):
    a, b = two
    res = [load_bench_results(a, "A"), load_bench_results(b, "B")]
    cmp = compare_results(res, metric="mae", reference="hardymer@B")
    assert cmp.reference == "hardymer@B" and set(cmp.paired) == {"zero-fill@A", "backbone@A"}
    assert cmp.lower_is_better
    md = comparison_markdown(cmp)
    assert "| backbone@A |" in md and "paired difference vs hardymer@B: mae" in md
    rows = list(csv.DictReader(io.StringIO(comparison_csv(cmp))))
    assert {r["row"] for r in rows} == {"zero-fill@A", "backbone@A", "hardymer@B"}
    assert all(r["diff_mean"] == "" for r in rows if r["row"] == "hardymer@B")
    js = json.loads(write_comparison(cmp, tmp_path / "c.json").read_text())
    assert js["metric"] == "mae" and js["reference"] == "hardymer@B"
    assert (write_comparison(cmp, tmp_path / "c.md")).read_text() == md
    with pytest.raises(ConfigError, match="--out"):
        write_comparison(cmp, tmp_path / "c.txt")
    with pytest.raises(ConfigError, match="no method 'momke'"):
        compare_results(res, reference="momke@A")
    with pytest.raises(ConfigError, match="no folder 'C'"):
        compare_results(res, reference="backbone@C")
    with pytest.raises(ConfigError, match="--metric wa"):
        compare_results(res, metric="wa")
    # no backbone in the first folder: no differences, said so
    cmp = compare_results(res[::-1])
    assert cmp.reference is None and not cmp.paired and any("no paired differences" in n for n in cmp.notes)


def test_refusals(tmp_path, two):
    a, _ = two
    with pytest.raises(DataError, match="no results.json"):
        load_bench_results(tmp_path / "nothing")
    other = _folder(tmp_path / "other", _runs(["backbone"], range(5), dataset="mosi-poria"), ["backbone"])
    res = [load_bench_results(a), load_bench_results(other)]
    with pytest.raises(ConfigError, match="differ in dataset.*--allow-mixed"):
        compare_results(res)
    cmp = compare_results(res, allow_mixed=True)
    assert any(n.startswith("mixed dataset") for n in cmp.notes)
    uni = _folder(tmp_path / "uni", _runs(["backbone"], range(5), protocol="unified"), ["backbone"])
    with pytest.raises(ConfigError, match="protocol"):
        compare_results([load_bench_results(a), load_bench_results(uni)])
    cls = _folder(tmp_path / "cls", _runs(["backbone"], range(5), task="classification"), ["backbone"])
    with pytest.raises(ConfigError, match="task"):  # never comparable: the metrics differ
        compare_results([load_bench_results(a), load_bench_results(cls)], allow_mixed=True)
    assert compare_results([load_bench_results(cls)]).metric == "wa" == default_metric("classification")
    with pytest.raises(ConfigError, match="share the label"):
        compare_results([load_bench_results(a), load_bench_results(a)])
    # the run folders' configs are at hand: different dataset options are refused too
    small = _folder(tmp_path / "small", _runs(["backbone"], range(5)), ["backbone"])
    for folder, size in ((a, "tiny"), (small, "small")):
        run = folder / "backbone" / "a" / "fold0" / "seed0"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(f"data:\n  name: synthetic\n  root: null\n  options:\n    size: {size}\n")
    with pytest.raises(ConfigError, match="dataset options.*size"):
        compare_results([load_bench_results(a), load_bench_results(small)])


def test_compare_cli(two, tmp_path):
    a, b = two
    out = tmp_path / "cmp.csv"
    r = runner.invoke(app, ["compare", str(a), str(b), "--label", "x,y", "--out", str(out)])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "Δ acc2 vs backbone@x" in flat and "fewer than 5 shared seeds" in flat and "zero-fill@x" in flat
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["row"] for r in rows} == {"zero-fill@x", "backbone@x", "hardymer@y"}
    r = runner.invoke(app, ["compare", str(a), str(tmp_path / "missing")])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "no results.json" in lines[0]
    r = runner.invoke(app, ["compare", str(a), str(b), "--label", "x"])
    assert r.exit_code == 2 and "--label" in r.output
    r = runner.invoke(app, ["compare", str(a), "--out", str(tmp_path / "x.txt")])
    assert r.exit_code == 2 and ".md, .csv or .json" in r.output


def test_compare_committed_reports():
    """The committed CMU-MOSI reports: the paired differences equal those bench wrote (paired.csv's
    code path) for the tuned block, and tuned vs default folders of one dataset and split compare."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "docs" / "results"
    if not (root / "mosi-tuned" / "tuned" / "results.json").is_file():
        pytest.skip("docs/results is not in this checkout")
    tuned = load_bench_results(root / "mosi-tuned" / "tuned")
    cmp = compare_results([tuned, load_bench_results(root / "mosi-tuned" / "default")])
    assert cmp.reference == "backbone@tuned"
    stored = {
        (d["method"], d["condition"]): d
        for d in json.loads((root / "mosi-tuned" / "tuned" / "results.json").read_text())["paired"]["differences"]
        if d["metric"] == "acc2"
    }
    for cond, got in cmp.paired["gru-context@tuned"].items():
        want = stored[("gru-context", cond)]
        assert got["n"] == want["n"] == 5
        assert (got["mean"], got["ci_low"], got["ci_high"]) == (
            pytest.approx(want["mean"]),
            pytest.approx(want["ci_low"]),
            pytest.approx(want["ci_high"]),
        )
    assert cmp.paired["gru-context@default"]["mean6"]["n"] == 5


def test_equal_differences_on_two_seeds_are_not_starred(tmp_path):
    """A row exactly 4.25 acc2 below the reference on both shared seeds: no interval, no star."""
    base = _runs(["backbone"], (0, 1))
    shifted = [
        {**r, "method": "x", "bench_method": "x", "test": {**r["test"], "acc2": r["test"]["acc2"] - 4.25}} for r in base
    ]
    a = _folder(tmp_path / "a", base, ["backbone"])
    b = _folder(tmp_path / "b", shifted, ["x"])
    cmp = compare_results([load_bench_results(a), load_bench_results(b)])
    d = cmp.paired["x@b"]["a"]
    assert d["n"] == 2 and d["mean"] == pytest.approx(-4.25) and d["ci_low"] is None and not d["excludes_zero"]
    assert diff_cell(d, 2) == "-4.25 (n=2, no interval)"
    md = comparison_markdown(cmp)
    row = [line for line in md.splitlines() if line.startswith("| x@b |")][-1]  # the difference table's row
    assert "*" not in row and row.count("(n=2, no interval)") == len(cmp.columns)
    assert "No interval (and no \\*) where fewer than 3 seeds" in md
    for columns in ("250", "60"):  # full cells, and the means-only cells of a narrow terminal
        r = runner.invoke(app, ["compare", str(a), str(b)], env={"COLUMNS": columns})
        assert r.exit_code == 0, r.output
        assert "-4.25" in r.output and "-4.25 [" not in r.output and "-4.25*" not in r.output
        assert ("-4.25 (n=2, no interval)" in r.output) == (columns == "250")
