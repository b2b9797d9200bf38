import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hardymer.bench.grid import RunSpec, execute, is_done, plan_grid, run_grid
from hardymer.cli import app
from hardymer.config import config_hash, load_config
from hardymer.errors import ConfigError

runner = CliRunner()
TINY = ["--data-opt", "size=tiny", "--set", "method.options.hidden=16", "--set", "cache_dir=null"]


def _bench(out, *args):
    r = runner.invoke(app, ["bench", *TINY, "--out", str(out), *args])
    assert r.exit_code == 0, r.output
    return r


def _flat(text):
    return " ".join(text.split())


def _mtimes(out):
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in Path(out).rglob("metrics.json")}


# ---------------------------------------------------------------------------------- planning
def test_plan_grid_expands_methods_conditions_seeds_folds_with_presets(tmp_path):
    base = load_config({"train": {"epochs": 3}})
    specs = plan_grid(base, ["zero-fill", "hardymer-no-dh"], ["a", "atv"], [0, 1], ["0", "1"], tmp_path)
    assert len(specs) == 2 * 2 * 2 * 2
    assert len({s.out for s in specs}) == len(specs) and len({s.label for s in specs}) == len(specs)
    s = next(s for s in specs if (s.method, s.condition, s.fold, s.seed) == ("hardymer-no-dh", "atv", "1", 1))
    assert s.out == str(tmp_path / "hardymer-no-dh" / "atv" / "fold1" / "seed1")
    assert s.label == "hardymer-no-dh/atv/1/seed1"
    c = s.config
    assert c["method"] == {"name": "hardymer", "options": {"use_direct": False}}
    assert (c["condition"], c["seed"], c["data"]["fold"], c["out"], c["train"]["epochs"]) == ("atv", 1, "1", s.out, 3)
    zf = [s for s in specs if s.method == "zero-fill"]
    assert all(s.config["method"] == {"name": "zero-fill", "options": {}} for s in zf)  # presets don't leak
    assert base.method.name == "zero-fill" and dict(base.method.options) == {} and base.seed == 0  # base untouched


def test_plan_grid_unified_and_unknown_method(tmp_path):
    base = load_config({"protocol": "unified"})
    (s,) = plan_grid(base, ["zero-fill"], ["all"], [3], ["0"], tmp_path)
    assert s.condition == "all" and s.config["condition"] == "atv" and s.out.endswith("zero-fill/all/fold0/seed3")
    with pytest.raises(ConfigError, match="unknown method or preset 'nope'"):
        plan_grid(base, ["nope"], ["a"], [0], ["0"], tmp_path)


def test_is_done_needs_metrics_with_the_same_config_hash(tmp_path):
    (s,) = plan_grid(load_config(), ["zero-fill"], ["a"], [0], ["0"], tmp_path)
    assert not is_done(s)
    p = Path(s.out) / "metrics.json"
    p.parent.mkdir(parents=True)
    p.write_text("{truncated")
    assert not is_done(s)
    p.write_text(json.dumps({"config_hash": "something else"}))
    assert not is_done(s)
    p.write_text(json.dumps({"config_hash": config_hash(s.config)}))
    assert is_done(s)
    # where the outputs go does not change the hash
    assert config_hash({**s.config, "out": "elsewhere"}) == config_hash(s.config)


def test_run_grid_reports_failures_and_keeps_going(tmp_path):
    specs = plan_grid(
        load_config(
            {
                "data": {"options": {"size": "tiny"}},
                "train": {"epochs": 2},
                "cache_dir": None,
                "method": {"options": {"hidden": 16}},
            }
        ),
        ["zero-fill"],
        ["a"],
        [0, 1],
        ["0"],
        tmp_path,
    )
    bad_cfg = json.loads(json.dumps(specs[0].config))
    bad_cfg["method"]["options"]["no_such_option"] = 1
    bad = RunSpec(specs[0].method, specs[0].condition, specs[0].fold, specs[0].seed, specs[0].out, bad_cfg)
    seen = []
    with pytest.raises(RuntimeError, match="1 of 2 runs failed"):
        run_grid([bad, specs[1]], on_done=lambda s, m: seen.append(s.label))
    assert len(seen) == 2
    assert is_done(specs[1]) and not (Path(bad.out) / "metrics.json").exists()
    assert (Path(bad.out) / "log.txt").is_file()  # the per-run log of the failed run


# ---------------------------------------------------------------------------------- CLI grid
def test_bench_cli_writes_results_and_resumes(tmp_path):
    out = tmp_path / "grid"
    args = ["--methods", "zero-fill,backbone", "--conditions", "a,atv", "--seeds", "0-1", "--epochs", "2"]
    _bench(out, *args)
    md = (out / "results.md").read_text()
    assert "| zero-fill |" in md and "| backbone |" in md and "| method | a | atv |" in md
    assert "validation (honest)" in md and "seeds: 0, 1" in md
    assert (out / "results.csv").is_file() and (out / "results.json").is_file()
    first = _mtimes(out)
    assert len(first) == 8
    for meth in ("zero-fill", "backbone"):
        for c in ("a", "atv"):
            for s in (0, 1):
                d = out / meth / c / "fold0" / f"seed{s}"
                assert {"metrics.json", "config.yaml", "checkpoint.pt", "log.txt"} <= {p.name for p in d.iterdir()}
                m = json.loads((d / "metrics.json").read_text())
                assert (m["method"], m["condition"], m["seed"], m["protocol"]) == (meth, c, s, "fixed")

    # the same command again: everything is finished, nothing is rerun
    r = _bench(out, *args)
    assert "8 runs planned, 8 already finished, 0 to run" in _flat(r.output)
    assert _mtimes(out) == first

    # a crashed run (no metrics.json) is redone, and only that one
    crashed = "backbone/a/fold0/seed1/metrics.json"
    (out / crashed).unlink()
    r = _bench(out, *args)
    assert "8 runs planned, 7 already finished, 1 to run" in _flat(r.output)
    again = _mtimes(out)
    assert set(again) == set(first)
    assert {k for k in first if again[k] != first[k]} == {crashed}

    # a changed config (more epochs) is refused without --overwrite, naming the differing key
    r = runner.invoke(app, ["bench", *TINY, "--out", str(out), *args[:-1], "3"])
    assert r.exit_code == 2 and "train.epochs: 2 -> 3" in _flat(r.output)
    assert _mtimes(out) == again
    # with --overwrite every run is redone
    r = _bench(out, *args[:-1], "3", "--overwrite")
    assert "8 runs planned, 0 already finished, 8 to run" in _flat(r.output)
    assert all(json.loads((out / k).read_text())["best_epoch"] >= 0 for k in first)
    assert all(_mtimes(out)[k] != again[k] for k in first)


def test_bench_cli_select_on_test_is_stamped_optimistic(tmp_path):
    _bench(
        tmp_path, "--methods", "zero-fill", "--conditions", "a", "--seeds", "0", "--epochs", "2", "--select-on", "test"
    )
    md = (tmp_path / "results.md").read_text()
    assert "TEST — optimistic" in md
    assert json.loads((tmp_path / "results.json").read_text())["optimistic"] is True
    assert json.loads((tmp_path / "zero-fill" / "a" / "fold0" / "seed0" / "metrics.json").read_text())["optimistic"]


def test_bench_cli_unified_protocol_has_per_condition_columns(tmp_path):
    report = tmp_path / "report"
    _bench(
        tmp_path / "grid",
        "--methods",
        "zero-fill",
        "--protocol",
        "unified",
        "--seeds",
        "0",
        "--epochs",
        "2",
        "--report",
        str(report),
        "--title",
        "Unified tiny",
    )
    md = (report / "results.md").read_text()
    assert md.startswith("# Unified tiny") and "protocol: `unified`" in md
    assert "| method | a | t | v | at | av | tv | atv | mean6 |" in md
    m = json.loads((tmp_path / "grid" / "zero-fill" / "all" / "fold0" / "seed0" / "metrics.json").read_text())
    assert m["condition"] == "all" and {"a", "atv", "mean6"} <= set(m["test"])


def test_bench_cli_errors_exit_2(tmp_path):
    r = runner.invoke(app, ["bench", "--methods", "nope", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "unknown method or preset" in _flat(r.output)
    r = runner.invoke(
        app,
        [
            "bench",
            *TINY,
            "--methods",
            "zero-fill",
            "--conditions",
            "a",
            "--seeds",
            "0",
            "--backend",
            "nope",
            "--out",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 2 and "unknown backend" in _flat(r.output)


# ---------------------------------------------------------------------------------- ray
def test_run_with_ray_local(tmp_path):
    ray = pytest.importorskip("ray")
    from hardymer.bench.ray_backend import run_with_ray

    specs = plan_grid(
        load_config(
            {
                "data": {"options": {"size": "tiny"}},
                "train": {"epochs": 2},
                "cache_dir": None,
                "method": {"options": {"hidden": 16}},
            }
        ),
        ["zero-fill"],
        ["a"],
        [0, 1],
        ["0"],
        tmp_path,
    )
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        done = []
        assert run_with_ray(specs, execute, threads=1, on_done=lambda s, m: done.append(s.label)) == []
    finally:
        ray.shutdown()
    assert sorted(done) == sorted(s.label for s in specs)
    assert all(is_done(s) for s in specs)


def test_ray_backend_does_not_import_the_grid():
    import ast

    import hardymer.bench.ray_backend as rb

    tree = ast.parse(Path(rb.__file__).read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not any(m and m.startswith("hardymer.bench.grid") for m in mods)
