"""``hardymer tune``: budget, resume, best.yaml accepted by ``train``, test never read."""

from __future__ import annotations

import csv
import dataclasses
import json

import optuna
import pytest
import torch
from typer.testing import CliRunner

from hardymer.cli import app
from hardymer.config import load_config
from hardymer.data import create_dataset
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.training.run import run_experiment
from hardymer.tuning.tuner import TuneSettings, tune

runner = CliRunner()

TINY_SPACE = """
common:
  train.lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
  method.hidden: {type: categorical, choices: [16, 32]}
  method.dropout: {type: float, low: 0.0, high: 0.5}
"""


def _trials(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _tune_args(out, space, trials: int) -> list[str]:
    return [
        "tune",
        "--method",
        "zero-fill",
        "--data-opt",
        "size=tiny",
        "--conditions",
        "a,t",
        "--trials",
        str(trials),
        "--seeds",
        "0",
        "--set",
        "train.epochs=2",
        "--space",
        str(space),
        "--out",
        str(out),
    ]


def test_tune_writes_outputs_best_yaml_trains_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE)
    out = tmp_path / "tune"
    r = runner.invoke(app, _tune_args(out, space, 3))
    assert r.exit_code == 0, r.output
    for name in ("study.db", "best.yaml", "trials.csv", "history.png", "tune.json"):
        assert (out / name).is_file(), name
    rows = _trials(out / "trials.csv")
    assert [row["number"] for row in rows] == ["0", "1", "2"]
    assert all(row["state"] == "COMPLETE" for row in rows)
    info = json.loads((out / "tune.json").read_text())
    assert info["trials_requested"] == 3 and info["trials_finished"] == 3
    assert info["sampler"] == {"name": "TPESampler", "seed": 0} and info["metric"] == "wa"
    assert info["direction"] == "maximize" and "train.epochs" not in info["search_space"]  # pinned by --set
    # the best value is the best of the trial table, and the mean of its runs' validation metric
    best_row = max(rows, key=lambda row: float(row["value"]))
    assert info["best_value"] == pytest.approx(float(best_row["value"]))
    runs = [
        json.loads((out / "trials" / best_row["number"] / c / "seed0" / "metrics.json").read_text()) for c in ("a", "t")
    ]
    assert info["best_value"] == pytest.approx(sum(m["val"]["wa"] for m in runs) / 2)
    assert all(m["test"] == {} for m in runs)  # test never evaluated while tuning
    assert not list((out / "trials").rglob("checkpoint.pt"))
    # best.yaml is a full run config that `hardymer train --config` accepts
    best = load_config(str(out / "best.yaml"))
    assert best.method.name == "zero-fill" and best.train.evaluate_test is True
    assert best.method.options.hidden == info["best_params"]["method.hidden"]
    r = runner.invoke(
        app, ["train", "--config", str(out / "best.yaml"), "--condition", "a", "--out", str(tmp_path / "t")]
    )
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert m["method"] == "zero-fill" and m["test"]
    # resume: the same budget runs nothing, one more trial runs exactly one
    r = runner.invoke(app, _tune_args(out, space, 3))
    assert r.exit_code == 0, r.output
    assert len(_trials(out / "trials.csv")) == 3
    r = runner.invoke(app, _tune_args(out, space, 4))
    assert r.exit_code == 0, r.output
    assert len(_trials(out / "trials.csv")) == 4
    study = optuna.load_study(study_name="hardymer-tune", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 4


class _NoTestSplit(Split):
    """A fold whose test indices cannot be read."""

    def __getattribute__(self, name: str):
        if name == "test":
            raise AssertionError("the test split was read")
        return super().__getattribute__(name)


class _NoTestDataset(MultimodalDataset):
    def fold(self, which=0):
        s = super().fold(which)
        return _NoTestSplit(name=s.name, train=s.train, val=s.val, test=s.test)


def _no_test_dataset() -> _NoTestDataset:
    ds = create_dataset("synthetic", size="tiny", seed=1)
    return _NoTestDataset(**{f.name: getattr(ds, f.name) for f in dataclasses.fields(ds)})


@pytest.mark.parametrize("method", ["zero-fill", "backbone"])
def test_tuner_never_reads_test(tmp_path, method):
    ds = _no_test_dataset()
    cfg = load_config({"train": {"epochs": 2}, "cache_dir": None})
    # the guard works: an ordinary run reads test and fails
    with pytest.raises(AssertionError, match="test split was read"):
        run_experiment(load_config(cfg, {"out": str(tmp_path / "plain"), "method": {"name": method}}), ds=ds)
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE)
    settings = TuneSettings(
        method=method,
        protocol="fixed",
        conditions=["at"],
        trials=2,
        seeds=[0],
        out=str(tmp_path / "tune"),
        space_file=str(space),
        fixed={"train.epochs"},
    )
    info = tune(cfg, settings, ds=ds)
    assert info["trials_finished"] == 2 and info["states"]["COMPLETE"] == 2
    assert (tmp_path / "tune" / "best.yaml").is_file()


def test_tuner_unified_and_per_condition(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE)
    cfg = load_config({"train": {"epochs": 2}, "data": {"options": {"size": "tiny"}}, "cache_dir": None})
    uni = tune(
        cfg,
        TuneSettings(
            method="zero-fill", protocol="unified", trials=1, seeds=[0], out=str(tmp_path / "u"), space_file=str(space)
        ),
    )
    m = json.loads(next((tmp_path / "u" / "trials").rglob("metrics.json")).read_text())
    assert m["protocol"] == "unified" and uni["best_value"] == pytest.approx(m["val"]["mean6"]["wa"])
    per = tune(
        cfg,
        TuneSettings(
            method="zero-fill",
            conditions=["a", "tv"],
            trials=1,
            seeds=[0],
            per_condition=True,
            out=str(tmp_path / "p"),
            space_file=str(space),
        ),
    )
    assert set(per["studies"]) == {"a", "tv"}
    for c in ("a", "tv"):
        assert load_config(str(tmp_path / "p" / c / "best.yaml")).condition == c
    assert json.loads((tmp_path / "p" / "summary.json").read_text())["per_condition"] is True


def test_fit_on_epoch_callback_and_pruning_propagate(tmp_path):
    from hardymer.data.protocol import FixedCondition
    from hardymer.models import MethodSpec, create_method
    from hardymer.models.context import FitContext
    from hardymer.training.teacher import load_or_fit_teacher
    from hardymer.training.trainer import fit

    ds = create_dataset("synthetic", size="tiny", seed=1)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    train = load_config({"train": {"epochs": 3, "evaluate_test": False}}).train
    seen = []

    def make_ctx():
        return FitContext(
            ds=ds,
            fold=ds.fold(0),
            conditions=FixedCondition("at"),
            train=train,
            seed=0,
            device=torch.device("cpu"),
            teacher_provider=load_or_fit_teacher,
        )

    res = fit(create_method("zero-fill", spec), make_ctx(), on_epoch=lambda e, s, rec: seen.append((e, s, rec)))
    assert [e for e, _, _ in seen] == [0, 1, 2] and res.test == {}
    assert [rec["val_wa"] for _, _, rec in seen] == [h["val_wa"] for h in res.history]

    def prune(epoch, stage, rec):
        raise optuna.TrialPruned("stop")

    with pytest.raises(optuna.TrialPruned):
        fit(create_method("zero-fill", spec), make_ctx(), on_epoch=prune)
