"""``hardymer evaluate`` of a run trained on a dataset folder given relative to where training ran:
from any folder, with the run folder for ``--checkpoint``, after the tree moved, and a clear error
(naming ``--root``) when the data is gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hardymer.cli import app
from hardymer.data import create_dataset
from hardymer.data.loaders.npz import save_npz
from hardymer.training.checkpoint import checkpoint_file, data_root_candidates

runner = CliRunner()


@pytest.fixture()
def project(tmp_path, monkeypatch) -> Path:
    """``tmp/proj`` with ``data/tiny.npz`` and ``runs/r`` trained with ``--root data/tiny.npz`` from ``proj``."""
    proj = tmp_path / "proj"
    save_npz(create_dataset("synthetic", size="tiny", seed=3), proj / "data" / "tiny.npz")
    monkeypatch.chdir(proj)
    r = runner.invoke(
        app,
        [
            "train",
            "--dataset",
            "npz",
            "--root",
            "data/tiny.npz",
            "--epochs",
            "2",
            "--condition",
            "at",
            "--set",
            "cache_dir=null",
            "--out",
            "runs/r",
        ],
    )
    assert r.exit_code == 0, r.output
    return proj


def _evaluate(*args: str) -> dict:
    r = runner.invoke(app, ["evaluate", *args, "--condition", "at", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)["at"]


def test_checkpoint_stores_the_root_absolute_and_relative(project):
    ck = torch.load(project / "runs" / "r" / "checkpoint.pt", weights_only=True)
    assert ck["config"]["data"]["root"] == "data/tiny.npz"  # the config stays as typed
    stored = ck["dataset"]["data_root"]
    assert stored["absolute"] == str(project / "data" / "tiny.npz")
    assert stored["relative"] == str(Path("..") / ".." / "data" / "tiny.npz")


def test_evaluate_from_another_folder_and_with_the_run_folder(project, tmp_path, monkeypatch):
    want = json.loads((project / "runs" / "r" / "metrics.json").read_text())["test"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    got = _evaluate("--checkpoint", str(project / "runs" / "r" / "checkpoint.pt"))
    assert got["wa"] == pytest.approx(want["wa"], abs=1e-9)
    assert _evaluate("--checkpoint", str(project / "runs" / "r")) == got  # the run folder
    monkeypatch.chdir(project / "runs")
    assert _evaluate("--checkpoint", "r") == got


def test_evaluate_after_the_tree_moved(project, tmp_path, monkeypatch):
    moved = tmp_path / "moved"
    monkeypatch.chdir(tmp_path)
    shutil.move(str(project), str(moved))
    ck = torch.load(moved / "runs" / "r" / "checkpoint.pt", weights_only=True)
    first = data_root_candidates(ck, moved / "runs" / "r" / "checkpoint.pt")
    assert first[1] == str(moved / "data" / "tiny.npz")  # relative to the checkpoint, after the absolute path
    want = json.loads((moved / "runs" / "r" / "metrics.json").read_text())["test"]
    assert _evaluate("--checkpoint", str(moved / "runs" / "r"))["wa"] == pytest.approx(want["wa"], abs=1e-9)


def test_missing_data_says_root_overrides(project, tmp_path, monkeypatch):
    run = project / "runs" / "r"
    keep = tmp_path / "kept.npz"
    shutil.move(str(project / "data" / "tiny.npz"), str(keep))
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["evaluate", "--checkpoint", str(run), "--condition", "at"])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "not found" in lines[0]
    assert "--root DIR overrides it" in lines[0] and str(project / "data" / "tiny.npz") in lines[0]
    assert _evaluate("--checkpoint", str(run), "--root", str(keep))


def test_checkpoint_file_of_a_folder(tmp_path):
    from hardymer.errors import DataError

    (tmp_path / "a" / "seed0").mkdir(parents=True)
    (tmp_path / "a" / "seed0" / "checkpoint.pt").write_bytes(b"")
    assert checkpoint_file(tmp_path / "a" / "seed0") == tmp_path / "a" / "seed0" / "checkpoint.pt"
    with pytest.raises(DataError, match="a folder of several runs.*seed0"):
        checkpoint_file(tmp_path)
    with pytest.raises(DataError, match="a folder without checkpoint.pt"):
        checkpoint_file(tmp_path / "a")
