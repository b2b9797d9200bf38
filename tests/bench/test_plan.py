"""Planning below the command line: ``plan_bench`` (bench runs, recipes, tuned configs, run options)
and ``plan_train`` (the runs of ``hardymer train``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from typer.testing import CliRunner

from hardymer.bench.plan import (
    BenchRequest,
    check_parallelism,
    parse_folds,
    parse_int_list,
    plan_bench,
    plan_train,
)
from hardymer.cli import app
from hardymer.config import load_config, to_yaml
from hardymer.errors import ConfigError

runner = CliRunner()


def _factory(**over):
    base = {"data": {"options": {"size": "tiny"}}, "train": {"epochs": 2}, "cache_dir": None, **over}
    return lambda method=None: load_config(base)


def _write_tuned(path: Path, method: str, options: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    cfg = load_config({"method": {"name": method, "options": options}, "train": {"epochs": 3, "lr": 0.002}})
    (path / "best.yaml").write_text(to_yaml(cfg))
    (path / "tune.json").write_text(json.dumps({"trials_requested": 4, "seeds": [0], "metric": "wa"}))


def test_parsers():
    assert parse_int_list("0-2,5", "--seeds") == [0, 1, 2, 5]
    assert parse_folds("0-1") == ["0", "1"] and parse_folds("s1, s2") == ["s1", "s2"]
    with pytest.raises(ConfigError, match="--seeds 3-1: empty range"):
        parse_int_list("3-1", "--seeds")
    with pytest.raises(ConfigError, match="--folds ','"):
        parse_folds(",")
    with pytest.raises(ConfigError, match="--workers 0: must be >= 1"):
        check_parallelism(0, 1)
    check_parallelism(2, 1, "ray")


def test_plan_bench_grid_labels_and_method_options(tmp_path):
    req = BenchRequest(
        methods="zero-fill,hardymer-no-dh",
        conditions="a,atv",
        seeds="0-1",
        out=str(tmp_path),
        method_options={"hidden": 16, "K": 2},
    )
    plan = plan_bench(req, _factory())
    assert plan.methods == ["zero-fill", "hardymer-no-dh"] and plan.notes == []
    assert len(plan.specs) == 2 * 2 * 2 and plan.run_dirs == [Path(s.out) for s in plan.specs]
    zf = [s.config["method"] for s in plan.specs if s.method == "zero-fill"]
    hm = [s.config["method"] for s in plan.specs if s.method == "hardymer-no-dh"]
    # each option goes to the methods that have it, over the preset's options
    assert all(m["options"] == {"hidden": 16} for m in zf)
    assert all(m["options"] == {"use_direct": False, "hidden": 16, "K": 2} for m in hm)
    assert {s.config["train"]["epochs"] for s in plan.specs} == {2}


def test_plan_bench_unified_and_refusals(tmp_path):
    plan = plan_bench(
        BenchRequest(methods="zero-fill", protocol="unified", conditions="a", seeds="3", out=str(tmp_path)),
        _factory(protocol="unified"),
    )
    assert [(s.condition, s.seed) for s in plan.specs] == [("all", 3)]
    with pytest.raises(ConfigError, match="--workers 0"):
        plan_bench(BenchRequest(methods="zero-fill", workers=0, out=str(tmp_path)), _factory())
    with pytest.raises(ConfigError, match="did you mean 'backbone'"):
        plan_bench(BenchRequest(methods="backbon", out=str(tmp_path)), _factory())
    with pytest.raises(ConfigError, match="none of zero-fill has an option 'K'"):
        plan_bench(BenchRequest(methods="zero-fill", method_options={"K": 2}, out=str(tmp_path)), _factory())


def test_plan_bench_refuses_a_finished_run_of_another_config_before_any_work(tmp_path):
    req = BenchRequest(methods="zero-fill", conditions="a", seeds="0-1", out=str(tmp_path))
    plan = plan_bench(req, _factory())
    done = Path(plan.specs[1].out)
    done.mkdir(parents=True)
    (done / "metrics.json").write_text(json.dumps({"config_hash": "other"}))
    (done / "config.yaml").write_text(to_yaml(load_config({"train": {"epochs": 9}})))
    with pytest.raises(ConfigError, match="holds a finished run of another config"):
        plan_bench(req, _factory())
    assert not Path(plan.specs[0].out).exists()
    assert len(plan_bench(dataclasses.replace(req, overwrite=True), _factory()).specs) == 2


def test_plan_bench_tuned_with_explicit_flags_winning(tmp_path):
    tuned = tmp_path / "tuned"
    _write_tuned(tuned / "zero-fill", "zero-fill", {"hidden": 24, "layers": 1})
    req = BenchRequest(
        methods="zero-fill",
        conditions="a",
        seeds="0",
        out=str(tmp_path / "b"),
        tuned=str(tuned),
        train={"epochs": None, "lr": 0.0005, "batch_size": 4},
        method_options={"layers": 3},
        set_=("train.patience=2",),
    )
    (spec,) = plan_bench(req, _factory()).specs
    c = spec.config
    assert c["method"] == {"name": "zero-fill", "options": {"hidden": 24, "layers": 3}}  # --method-opt wins
    train = c["train"]
    assert (train["epochs"], train["lr"], train["batch_size"], train["patience"]) == (3, 0.0005, 4, 2)
    assert "tuned configs from" in plan_bench(req, _factory()).notes[0]


def test_plan_train_layout_and_checks(tmp_path):
    cfg = load_config({"train": {"epochs": 2}})
    (one,) = plan_train(cfg, ["at"], [1], tmp_path / "one")
    assert (one.condition, one.seed, one.out) == ("at", 1, str(tmp_path / "one"))
    runs = plan_train(cfg, ["a", "tv"], [0, 1], tmp_path / "many")
    assert [(r.condition, r.seed, r.out) for r in runs] == [
        (c, s, str(tmp_path / "many" / c / f"seed{s}")) for c in ("a", "tv") for s in (0, 1)
    ]
    (uni,) = plan_train(load_config({"protocol": "unified"}), ["all"], [0], tmp_path / "u")
    assert uni.condition == "atv"
    with pytest.raises(ConfigError, match="backbone trains 2 stages"):
        plan_train(load_config({"method": {"name": "backbone"}, "train": {"epochs": 1}}), ["a"], [0], tmp_path / "x")


def test_bench_takes_the_run_options_of_train(tmp_path):
    out = tmp_path / "b"
    r = runner.invoke(
        app,
        [
            "bench",
            "--data-opt",
            "size=tiny",
            "--set",
            "cache_dir=null",
            "--method",
            "zero-fill",
            "--condition",
            "a",
            "--seed",
            "0",
            "--epochs",
            "2",
            "--method-opt",
            "hidden=16",
            "--batch-size",
            "4",
            "--lr",
            "0.002",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = OmegaConf.load(out / "zero-fill" / "a" / "fold0" / "seed0" / "config.yaml")
    assert (cfg.method.options.hidden, cfg.train.batch_size, cfg.train.lr, cfg.train.device) == (16, 4, 0.002, "cpu")
