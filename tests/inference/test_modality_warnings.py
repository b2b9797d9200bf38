"""A fixed-protocol model given another modality set warns (``--strict``: refuses); a context model
given no groups warns; ``evaluate`` prints a rounded table, ``--json`` the old JSON, ``--out`` a file."""

from __future__ import annotations

import csv
import io
import json
import logging

import numpy as np
import pytest
from typer.testing import CliRunner

import hardymer
from hardymer.cli import app
from hardymer.config import load_config
from hardymer.data import create_dataset
from hardymer.errors import ConfigError
from hardymer.inference.compat import check_modalities, trained_condition
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.reporting.evaluation import evaluation_csv, evaluation_rows, write_evaluation
from hardymer.training.run import run_experiment

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny():
    return create_dataset("synthetic", size="tiny", seed=3)


def _train(out, ds, method, protocol="fixed", condition="at", **options):
    cfg = load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 3}},
            "method": {"name": method, "options": options},
            "protocol": protocol,
            "condition": condition,
            "train": {"epochs": 2, "patience": 0, "num_threads": 1},
            "out": str(out),
            "cache_dir": None,
        }
    )
    run_experiment(cfg, ds=ds)
    return out / "checkpoint.pt"


@pytest.fixture(scope="module")
def fixed_zf(tmp_path_factory, tiny):
    """zero-fill (no group context) trained under the fixed protocol on audio+text."""
    return _train(tmp_path_factory.mktemp("zf") / "run", tiny, "zero-fill", hidden=16, layers=1)


@pytest.fixture(scope="module")
def gru(tmp_path_factory, tiny):
    """gru-context (uses groups) trained under the unified protocol (no condition warnings)."""
    return _train(tmp_path_factory.mktemp("gru") / "run", tiny, "gru-context", protocol="unified", hidden=8)


def test_trained_condition_and_check():
    ckpt = {"method": "backbone", "config": {"protocol": "fixed", "condition": "ta"}}
    assert trained_condition(ckpt) == "at"
    assert trained_condition({"config": {"protocol": "unified", "condition": "atv"}}) is None
    assert check_modalities(ckpt, ["at"]) is None
    msg = check_modalities(ckpt, ["atv", "at", "t"])
    assert "audio+text (at)" in msg and "text (t)" in msg and "audio+text+video (atv)" in msg
    assert msg.index("text (t)") < msg.index("(atv)")  # canonical order
    with pytest.raises(ConfigError, match="--strict"):
        check_modalities(ckpt, ["t"], strict=True)


def test_predict_warns_on_another_modality_set(fixed_zf, tiny, caplog):
    te = tiny.fold(0).test
    model = hardymer.load(fixed_zf)
    with caplog.at_level(logging.WARNING, logger="hardymer"):
        model.predict(audio=tiny.features["a"][te], text=tiny.features["t"][te], groups=tiny.groups[te])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # the trained set: silent
    with caplog.at_level(logging.WARNING, logger="hardymer"):
        out = model.predict(text=tiny.features["t"][te], groups=tiny.groups[te])
    warns = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warns) == 1 and "audio+text (at)" in warns[0] and "text (t)" in warns[0]
    assert set(out.modalities) == {"t"}
    with pytest.raises(ConfigError, match="strict"):
        model.predict(text=tiny.features["t"][te], groups=tiny.groups[te], strict=True)


def test_context_model_without_groups_warns(gru, tiny, caplog):
    te = tiny.fold(0).test
    x = {m: tiny.features[k][te] for m, k in (("audio", "a"), ("text", "t"), ("video", "v"))}
    model = hardymer.load(gru)
    assert model.method.uses_groups
    with caplog.at_level(logging.WARNING, logger="hardymer"):
        model.predict(**x, groups=tiny.groups[te], masks={"a": np.arange(len(te)) % 2 == 0})
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # unified: any set is fine
    with caplog.at_level(logging.WARNING, logger="hardymer"):
        model.predict(**x)
    warns = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warns) == 1 and "no groups" in warns[0] and "gru-context" in warns[0]


def test_predict_cli_strict(fixed_zf, tiny, tmp_path):
    te = tiny.fold(0).test
    npz = tmp_path / "new.npz"
    np.savez(npz, text=tiny.features["t"][te], groups=tiny.groups[te])
    r = runner.invoke(
        app, ["predict", "--checkpoint", str(fixed_zf), "--input", str(npz), "--out", str(tmp_path / "p.csv")]
    )
    assert r.exit_code == 0, r.output
    assert "audio+text (at)" in " ".join(r.output.split())
    r = runner.invoke(app, ["predict", "--checkpoint", str(fixed_zf), "--input", str(npz), "--strict"])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "text (t)" in lines[0] and "--strict" in lines[0]


def test_evaluate_outputs_and_strict(fixed_zf, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hardymer"):
        res = evaluate_checkpoint(fixed_zf, ["at", "t"])
    assert any("text (t)" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    metrics, rows = evaluation_rows(res)
    assert [c for c, _ in rows] == ["t", "at", "mean"] and metrics == ["wa", "ua", "wf1"]
    table = list(csv.DictReader(io.StringIO(evaluation_csv(res))))
    assert float(table[1]["wa"]) == res["at"]["wa"]
    with pytest.raises(ConfigError, match="strict"):
        evaluate_checkpoint(fixed_zf, ["t"], strict=True)

    r = runner.invoke(app, ["evaluate", "--checkpoint", str(fixed_zf), "--condition", "at", "--json"])
    assert r.exit_code == 0, r.output
    js = json.loads(r.output)
    r = runner.invoke(
        app, ["evaluate", "--checkpoint", str(fixed_zf), "--condition", "at", "--out", str(tmp_path / "m.json")]
    )
    assert r.exit_code == 0, r.output
    assert f"{js['at']['wa']:.2f}" in r.output and "{" not in r.output  # a rounded table, not JSON
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["metrics"] == js and saved["split"] == "test"
    r = runner.invoke(
        app, ["evaluate", "--checkpoint", str(fixed_zf), "--condition", "a,at,atv", "--out", str(tmp_path / "m.csv")]
    )
    assert r.exit_code == 0, r.output
    assert [row["condition"] for row in csv.DictReader((tmp_path / "m.csv").open())] == [
        "a",
        "at",
        "atv",
        "mean",
        "mean6",
    ]
    r = runner.invoke(app, ["evaluate", "--checkpoint", str(fixed_zf), "--condition", "t", "--strict"])
    assert r.exit_code == 2 and r.output.strip().startswith("error:") and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["evaluate", "--checkpoint", str(fixed_zf), "--out", str(tmp_path / "m.txt")])
    assert r.exit_code == 2 and ".json or .csv" in r.output and not (tmp_path / "m.txt").exists()
    with pytest.raises(ConfigError, match="--out"):
        write_evaluation(res, tmp_path / "m.yaml")
