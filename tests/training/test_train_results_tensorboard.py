"""``train`` over several runs writes bench's results files; ``--log tensorboard`` writes per-epoch scalars."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hardymer.cli import app
from hardymer.errors import ConfigError
from hardymer.training.tensorboard import check_log_backend

runner = CliRunner()
TINY = [
    "train",
    "--dataset",
    "synthetic",
    "--data-opt",
    "size=tiny",
    "--method-opt",
    "hidden=16",
    "--method-opt",
    "layers=1",
]


def test_several_runs_write_results_files(tmp_path):
    out = tmp_path / "r"
    r = runner.invoke(app, [*TINY, "--epochs", "2", "--condition", "a,at", "--seed", "0,1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("results.md", "results.csv", "results.json", "paired.csv"):
        assert (out / f).is_file(), f
    js = json.loads((out / "results.json").read_text())
    assert js["methods"] == ["zero-fill"] and js["seeds"] == [0, 1] and len(js["runs"]) == 4
    at = next(s for s in js["summary"] if s["condition"] == "at")
    want = [json.loads((out / "at" / f"seed{s}" / "metrics.json").read_text())["test"]["wa"] for s in (0, 1)]
    assert at["wa"]["mean"] == pytest.approx(sum(want) / 2) and at["wa"]["n"] == 2
    # the folder is a `hardymer compare` input
    r = runner.invoke(app, ["compare", str(out), "--metric", "ua"])
    assert r.exit_code == 0, r.output
    assert "zero-fill@r" in r.output


def test_single_run_writes_no_results_files(tmp_path):
    r = runner.invoke(app, [*TINY, "--epochs", "1", "--condition", "at", "--out", str(tmp_path / "one")])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "one" / "results.json").exists() and not (tmp_path / "one" / "tensorboard").exists()


def test_log_option_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="--log wandb"):
        check_log_backend("wandb")
    r = runner.invoke(app, [*TINY, "--log", "wandb", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--log wandb" in r.output


def test_tensorboard_scalars_per_epoch(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    r = runner.invoke(app, [*TINY, "--epochs", "3", "--condition", "at", "--out", str(out), "--log", "tensorboard"])
    assert r.exit_code == 0, r.output
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    history = json.loads((out / "history.json").read_text())
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == [h["epoch"] for h in history]
    assert [e.value for e in loss] == pytest.approx([h["loss"] for h in history], rel=1e-6)
    key = next(k for k in history[-1] if k.startswith("val_"))
    assert acc.Scalars(key)[-1].value == pytest.approx(history[-1][key], rel=1e-6)
