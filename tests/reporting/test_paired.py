import csv
import json

import numpy as np
import pytest
from scipy import stats

from hardymer._env import describe, environment
from hardymer.conditions import CONDITIONS
from hardymer.errors import ConfigError, DataError
from hardymer.reporting.paired import paired_table, paired_vs_reference, per_seed_values
from hardymer.reporting.results import rebuild_results, write_results


def _run(method, cond, seed, test, bench_method=None, env=None):
    r = {
        "method": method,
        "dataset": "synthetic",
        "condition": cond,
        "seed": seed,
        "fold": "0",
        "protocol": "fixed",
        "select_on": "val",
        "select_metric": "wa",
        "optimistic": False,
        "best_epoch": 1,
        "val": test,
        "test": test,
        "train_seconds": 0.1,
    }
    if bench_method:
        r["bench_method"] = bench_method
    if env is not None:
        r["environment"] = env
    return r


def _wa(method, seeds, offset, noise=0.0, bench_method=None, env=None):
    """wa = 50 + 3 j + offset (+ seeded noise) for condition j; ua = wa - 5."""
    rng = np.random.default_rng(len(method))
    out = []
    for s in seeds:
        for j, c in enumerate(CONDITIONS):
            wa = 50 + 3 * j + offset + s + noise * rng.normal()
            out.append(_run(method, c, s, {"wa": wa, "ua": wa - 5, "wf1": wa - 1}, bench_method, env))
    return out


def _grid(seeds=(0, 1, 2, 3, 4)):
    return _wa("backbone", seeds, 0.0) + _wa("zero-fill", seeds, 2.0, noise=0.3) + _wa("m", seeds, 0.0, noise=2.0)


def test_paired_numbers_match_scipy():
    runs = _grid()
    paired = paired_vs_reference(runs, ["zero-fill", "backbone", "m"], "backbone")
    values = per_seed_values(runs)
    keys = [f"{s}/0" for s in range(5)]
    for d in paired["differences"]:
        a = [values[(d["method"], k)][d["condition"]][d["metric"]] for k in keys]
        b = [values[("backbone", k)][d["condition"]][d["metric"]] for k in keys]
        assert d["keys"] == keys and d["n"] == 5
        np.testing.assert_allclose(d["diffs"], np.subtract(a, b))
        lo, hi = stats.t.interval(0.95, 4, loc=np.mean(np.subtract(a, b)), scale=stats.sem(np.subtract(a, b)))
        assert (d["ci_low"], d["ci_high"]) == pytest.approx((lo, hi))
        assert d["excludes_zero"] == (stats.ttest_rel(a, b).pvalue < 0.05)
    # mean6 is the per-seed mean over the six missing conditions, then paired
    d6 = next(d for d in paired["differences"] if (d["method"], d["condition"], d["metric"]) == ("m", "mean6", "wa"))
    per_seed = [
        np.mean([values[("m", k)][c]["wa"] - values[("backbone", k)][c]["wa"] for c in CONDITIONS[:-1]]) for k in keys
    ]
    np.testing.assert_allclose(d6["diffs"], per_seed)
    assert {d["method"] for d in paired["differences"]} == {"zero-fill", "m"}


def test_pairs_only_shared_seeds():
    runs = _wa("backbone", (0, 1, 2), 0.0) + _wa("zero-fill", (1, 2, 3), 1.0, noise=0.5)
    paired = paired_vs_reference(runs, ["backbone", "zero-fill"], "backbone")
    d = next(d for d in paired["differences"] if (d["condition"], d["metric"]) == ("a", "wa"))
    assert d["keys"] == ["1/0", "2/0"] and d["n"] == 2


def test_results_md_and_json_carry_paired_tables(tmp_path):
    env = environment()
    runs = _grid(seeds=(0, 1, 2))
    for r in runs:
        r["environment"] = env
    md = write_results(runs, tmp_path, "synthetic", ["zero-fill", "backbone", "m"]).read_text()
    for metric in ("wa", "ua"):
        section = md.split(f"## paired difference vs backbone: {metric} (test)")[1].split("\n## ")[0]
        assert "| method − backbone | a | t | v | at | av | tv | atv | mean6 |" in section
        zf = next(line for line in section.splitlines() if line.startswith("| zero-fill"))
        # zero-fill is 2 points above backbone with little noise: every interval excludes 0
        assert zf.count("\\*") == 8 and zf.count("+2.") >= 1
        assert "| backbone |" not in section
        assert "Fewer than 5 seeds" in section and "n = 3 seeds" in section
    assert f"- numeric environment: {describe(env)}" in md
    js = json.loads((tmp_path / "results.json").read_text())
    assert js["paired"]["reference"] == "backbone" and js["environment"]["runs"] == [env]
    assert all(r["environment"] == env for r in js["runs"])
    d = next(d for d in js["paired"]["differences"] if (d["method"], d["condition"], d["metric"]) == ("m", "t", "wa"))
    assert len(d["diffs"]) == 3 and d["few_seeds"] is True
    rows = list(csv.DictReader((tmp_path / "paired.csv").open()))
    assert len(rows) == len(js["paired"]["differences"])
    row = next(r for r in rows if (r["method"], r["condition"], r["metric"]) == ("m", "t", "wa"))
    assert row["reference"] == "backbone" and row["n"] == "3" and row["keys"] == "0/0;1/0;2/0"
    assert [float(x) for x in row["diffs"].split(";")] == pytest.approx(d["diffs"], abs=1e-6)
    assert float(row["ci_low"]) == pytest.approx(d["ci_low"], abs=1e-6)


def test_missing_reference_is_skipped_with_a_note(tmp_path):
    runs = _wa("zero-fill", (0, 1), 0.0) + _wa("m", (0, 1), 1.0)
    md = write_results(runs, tmp_path, "synthetic", ["zero-fill", "m"], reference="backbone").read_text()
    assert "No paired differences: reference method 'backbone' is not in this grid." in md
    assert "skipped" in json.loads((tmp_path / "results.json").read_text())["paired"]
    md = write_results(runs, tmp_path, "synthetic", ["zero-fill", "m"], reference="zero-fill").read_text()
    assert "## paired difference vs zero-fill: wa (test)" in md and "| m |" in md


def test_one_seed_has_no_interval():
    runs = _wa("backbone", (0,), 0.0) + _wa("m", (0,), 1.5)
    paired = paired_vs_reference(runs, ["backbone", "m"], "backbone")
    table = paired_table(paired, "wa", ["backbone", "m"], ["a", "mean6"])
    assert "| m | +1.50 (n=1, no interval) | +1.50 (n=1, no interval) |" in table and "Fewer than 5 seeds" in table
    assert "No interval (and no \\*) where fewer than 3 seeds" in table


def test_two_seeds_with_equal_differences_are_not_marked(tmp_path):
    # m is exactly 4.25 below the backbone on both seeds: the interval is degenerate, never "significant"
    runs = _wa("backbone", (0, 1), 0.0) + _wa("m", (0, 1), -4.25)
    paired = paired_vs_reference(runs, ["backbone", "m"], "backbone")
    d = next(d for d in paired["differences"] if (d["method"], d["condition"], d["metric"]) == ("m", "a", "wa"))
    assert d["diffs"] == pytest.approx([-4.25, -4.25]) and d["ci_low"] is None and not d["excludes_zero"]
    assert d["estimable"] is False
    table = paired_table(paired, "wa", ["backbone", "m"], ["a", "t"])
    assert "| m | -4.25 (n=2, no interval) | -4.25 (n=2, no interval) |" in table
    assert "\\*" not in table.split("\n")[2]
    md = write_results(runs, tmp_path, "synthetic", ["backbone", "m"]).read_text()
    assert "-4.25 [" not in md and "-4.25 (n=2, no interval)" in md
    rows = csv.DictReader((tmp_path / "paired.csv").open())
    row = next(r for r in rows if (r["method"], r["condition"], r["metric"]) == ("m", "a", "wa"))
    assert row["ci_low"] == row["ci_high"] == "" and row["excludes_zero"] == "0"


def test_results_notes_survive_a_rebuild(tmp_path):
    runs = _grid(seeds=(0, 1, 2))
    write_results(runs, tmp_path, "synthetic", ["backbone", "m"], notes=["tuned configs from somewhere"])
    before = (tmp_path / "results.md").read_text()
    assert "- tuned configs from somewhere" in before
    rebuild_results(tmp_path / "results.json")
    assert (tmp_path / "results.md").read_text() == before
    assert json.loads((tmp_path / "results.json").read_text())["notes"] == ["tuned configs from somewhere"]


def test_environment_line_when_runs_did_not_record_it(tmp_path):
    md = write_results(_grid(seeds=(0, 1)), tmp_path, "synthetic", ["backbone", "m"]).read_text()
    assert "- numeric environment: not recorded by these runs" in md


def test_rebuild_from_results_json_is_identical(tmp_path):
    env = environment()
    runs = _grid(seeds=(0, 1, 2)) + _wa("x", (0, 1, 2), 1.0, bench_method="x-preset", env=env)
    a, b = tmp_path / "a", tmp_path / "b"
    write_results(runs, a, "synthetic", ["backbone", "zero-fill", "m", "x-preset"], title="T", command="hardymer bench")
    b.mkdir()
    (b / "results.json").write_text((a / "results.json").read_text())
    rebuild_results(b / "results.json")
    for name in ("results.md", "results.csv", "results.json", "paired.csv"):
        assert (b / name).read_text() == (a / name).read_text(), name
    rows = list(csv.DictReader((b / "results.csv").open()))
    assert {r["method"] for r in rows} == {"backbone", "zero-fill", "m", "x-preset"}


def test_rebuild_older_results_json_needs_select_metric(tmp_path):
    write_results(_grid(seeds=(0, 1, 2)), tmp_path, "synthetic", ["backbone", "m"])
    js = json.loads((tmp_path / "results.json").read_text())
    for k in ("task", "select_metric", "title", "command", "environment", "paired"):
        js.pop(k)
    (tmp_path / "results.json").write_text(json.dumps(js))
    with pytest.raises(ConfigError, match="select_metric"):
        rebuild_results(tmp_path / "results.json")
    md = rebuild_results(tmp_path / "results.json", select_metric="wa", title="Old", command="cmd").read_text()
    assert md.startswith("# Old") and "metric `wa`" in md and "cmd" in md
    assert "## paired difference vs backbone: wa (test)" in md
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="bad.json"):
        rebuild_results(tmp_path / "bad.json")
