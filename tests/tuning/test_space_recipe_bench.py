"""Search-space parsing, the release recipe, and ``bench --tuned``."""

from __future__ import annotations

import json

import optuna
import pytest
from omegaconf import OmegaConf
from typer.testing import CliRunner

from hardymer.bench.tuned import tuned_config_path
from hardymer.catalog.recipes import list_recipes
from hardymer.cli import app
from hardymer.cli._common import build_config
from hardymer.config import load_config, to_yaml
from hardymer.errors import ConfigError
from hardymer.models import list_methods, method_config
from hardymer.models.backbone import Backbone, BackboneConfig
from hardymer.models.base import MethodSpec
from hardymer.tuning.space import build_space

runner = CliRunner()


def test_packaged_space_parses_for_every_method_and_task():
    for method in list_methods():
        for task in ("regression", "classification"):
            space = build_space(method, task)
            options = {f for f in method_config(method).__dataclass_fields__}
            for p in space.params:
                assert p.key.startswith("train.") or p.key.split(".", 1)[1] in options, (method, p.key)
            assert ("method.regression_loss" in space.as_dict()) == (
                task == "regression" and "regression_loss" in options
            )
    keys = build_space("hardymer", "regression").as_dict()
    assert {"method.K", "method.alpha1", "method.beta", "method.mapping", "train.lr"} <= set(keys)
    assert "method.K" not in build_space("backbone", "regression").as_dict()  # backbone has no K


def test_unknown_type_names_the_key(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("common:\n  train.lr: {type: loguniform, low: 1, high: 2}\n")
    with pytest.raises(ConfigError, match=r"train\.lr.*loguniform"):
        build_space("zero-fill", "regression", f)
    f.write_text("common:\n  train.nonsense: {type: float, low: 1, high: 2}\n")
    with pytest.raises(ConfigError, match="nonsense"):
        build_space("zero-fill", "regression", f)


def test_options_a_method_lacks_are_skipped_and_complement_is_derived(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "zero-fill:\n  method.layers: {type: int, low: 1, high: 3}\n  method.K: {type: int, low: 1, high: 5}\n"
        "  method.not_yet_an_option: {type: categorical, choices: [a, b]}\n"
        "hardymer:\n  method.alpha1: {type: float, low: 0.0, high: 1.0}\n"
        "  method.alpha2: {type: complement, of: method.alpha1}\n"
    )
    assert list(build_space("zero-fill", "regression", f).as_dict()) == ["method.layers"]
    space = build_space("hardymer", "regression", f)
    values = space.sample(optuna.trial.FixedTrial({"method.alpha1": 0.3}))
    assert values == {"method.alpha1": 0.3, "method.alpha2": pytest.approx(0.7)}


def test_release_recipe_values():
    cfg = build_config(None, protocol="fixed", data={}, train={}, method="hardymer", recipe="release")
    t, o = cfg.train, cfg.method.options
    assert (t.optimizer, t.lr, t.weight_decay, t.grad_clip, t.batch_size, t.epochs) == ("adam", 1e-4, 1e-5, 0.0, 16, 50)
    assert (o.hidden, o.depth, o.heads, o.dropout, o.attn_dropout) == (256, 4, 2, 0.5, 0.0)
    assert (o.stage1_fraction, o.K, o.mapping, o.teacher_epochs, o.regression_loss) == (0.5, 3, "release", 200, "mse")
    # flags and --config merge after the recipe
    cfg = build_config(
        None,
        protocol="fixed",
        data={},
        train={"epochs": 4},
        method="zero-fill",
        recipe="release",
        set_=["train.lr=0.01"],
    )
    assert cfg.train.epochs == 4 and cfg.train.lr == 0.01 and cfg.train.optimizer == "adam"
    assert "K" not in cfg.method.options  # options zero-fill lacks are not applied
    with pytest.raises(ConfigError, match="release"):
        build_config(None, protocol="fixed", data={}, train={}, method="hardymer", recipe="nope")
    assert "release" in list_recipes()


def test_attention_dropout_and_adam():
    from hardymer.training.trainer import make_optimizer

    spec = MethodSpec(dims={"a": 3, "t": 4, "v": 5}, output_dim=1, task="regression")
    m = Backbone(spec, BackboneConfig(hidden=8, depth=2, dropout=0.5, attn_dropout=0.0))
    for layer in m.encoders["a"].encoder.layers:
        assert layer.self_attn.dropout == 0.0 and layer.dropout1.p == 0.5
    m = Backbone(spec, BackboneConfig(hidden=8, depth=1, dropout=0.4))
    assert m.encoders["a"].encoder.layers[0].self_attn.dropout == 0.4
    train = load_config({"train": {"optimizer": "adam"}}).train
    adam, adamw = make_optimizer(m, train), make_optimizer(m, load_config().train)
    assert not adam.param_groups[0]["decoupled_weight_decay"]  # the release's Adam: L2 in the gradient
    assert adamw.param_groups[0]["decoupled_weight_decay"]
    with pytest.raises(ConfigError, match="optimizer"):
        make_optimizer(m, load_config({"train": {"optimizer": "sgd"}}).train)


def test_train_cli_with_release_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(
        app,
        [
            "train",
            "--recipe",
            "release",
            "--method",
            "backbone",
            "--data-opt",
            "size=tiny",
            "--epochs",
            "2",
            "--condition",
            "at",
            "--out",
            "run",
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = load_config(str(tmp_path / "run" / "config.yaml"))
    assert cfg.train.optimizer == "adam" and cfg.method.options.depth == 4
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    r = runner.invoke(app, ["train", "--recipe", "nope", "--out", "x"])
    assert r.exit_code == 2 and "release" in r.output


def _write_tuned(path, method: str, options: dict, trials: int, seeds: list[int], per_condition: bool = False) -> None:
    cfg = load_config({"method": {"name": method, "options": options}, "train": {"epochs": 2, "lr": 0.002}})
    path.mkdir(parents=True, exist_ok=True)
    (path / "best.yaml").write_text(to_yaml(cfg))
    (path.parent if per_condition else path).joinpath("tune.json").write_text(
        json.dumps({"trials_requested": trials, "seeds": seeds, "per_condition": per_condition, "metric": "wa"})
    )


def test_bench_tuned_uses_each_methods_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tuned = tmp_path / "tuned"
    _write_tuned(tuned / "zero-fill", "zero-fill", {"hidden": 24, "layers": 1}, trials=5, seeds=[0, 1])
    _write_tuned(tuned / "backbone" / "a", "backbone", {"hidden": 16, "depth": 1}, 5, [0, 1], per_condition=True)
    args = [
        "bench",
        "--methods",
        "zero-fill,backbone",
        "--data-opt",
        "size=tiny",
        "--conditions",
        "a",
        "--seeds",
        "0",
        "--out",
        "b",
        "--tuned",
        str(tuned),
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    zf = OmegaConf.load(tmp_path / "b" / "zero-fill" / "a" / "fold0" / "seed0" / "config.yaml")
    bb = OmegaConf.load(tmp_path / "b" / "backbone" / "a" / "fold0" / "seed0" / "config.yaml")
    assert zf.method.options.hidden == 24 and zf.train.lr == 0.002 and zf.train.evaluate_test is True
    assert bb.method.name == "backbone" and bb.method.options.hidden == 16 and bb.method.options.depth == 1
    md = (tmp_path / "b" / "results.md").read_text()
    assert f"tuned configs from {tuned} (5 trials each per condition, seeds 0, 1" in md
    # a method without a tuned config: an error naming the expected path
    with pytest.raises(ConfigError, match=r"momke[/\\]best\.yaml"):
        tuned_config_path(tuned, "momke", "a")
    r = runner.invoke(app, args[:2] + ["zero-fill,momke"] + args[3:])
    assert r.exit_code == 2 and "no tuned config for method 'momke'" in r.output


def test_bench_tuned_preset_uses_its_base_methods_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tuned = tmp_path / "tuned"
    _write_tuned(tuned / "backbone", "backbone", {"hidden": 16, "depth": 1}, trials=3, seeds=[0])
    assert tuned_config_path(tuned, "backbone", "a") == tuned / "backbone" / "best.yaml"
    _write_tuned(tuned / "hardymer", "hardymer", {"hidden": 16, "depth": 1, "K": 2}, trials=3, seeds=[0])
    # a preset without its own tuned folder runs with its base method's config plus the preset's options
    assert tuned_config_path(tuned, "hardymer-fixed-k", "a") == tuned / "hardymer" / "best.yaml"
    r = runner.invoke(
        app,
        [
            "bench",
            "--methods",
            "hardymer-fixed-k",
            "--data-opt",
            "size=tiny",
            "--conditions",
            "a",
            "--seeds",
            "0",
            "--out",
            "b",
            "--tuned",
            str(tuned),
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = OmegaConf.load(tmp_path / "b" / "hardymer-fixed-k" / "a" / "fold0" / "seed0" / "config.yaml")
    assert cfg.method.name == "hardymer" and cfg.method.options.K == 2 and cfg.method.options.hidden == 16
    assert cfg.method.options.hardness == "fixed" and cfg.method.options.share == 0.5


def test_bench_tuned_explicit_set_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tuned = tmp_path / "tuned"
    _write_tuned(tuned / "zero-fill", "zero-fill", {"hidden": 24}, trials=3, seeds=[0])
    r = runner.invoke(
        app,
        [
            "bench",
            "--methods",
            "zero-fill",
            "--data-opt",
            "size=tiny",
            "--conditions",
            "a",
            "--seeds",
            "0",
            "--out",
            "b",
            "--tuned",
            str(tuned),
            "--set",
            "train.lr=0.0005",
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = OmegaConf.load(tmp_path / "b" / "zero-fill" / "a" / "fold0" / "seed0" / "config.yaml")
    assert cfg.train.lr == 0.0005 and cfg.method.options.hidden == 24 and cfg.train.epochs == 2


def test_new_train_keys_at_default_keep_config_hashes():
    from hardymer.config import config_hash, to_container

    d = to_container(load_config())
    old = json.loads(json.dumps(d))
    del old["train"]["optimizer"], old["train"]["evaluate_test"]
    assert config_hash(d) == config_hash(old)
    assert config_hash(load_config({"train": {"optimizer": "adam"}})) != config_hash(d)
    assert config_hash(load_config({"train": {"evaluate_test": False}})) != config_hash(d)
