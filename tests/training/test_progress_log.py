"""Progress a person can follow: 1-based epochs everywhere, one plain line per epoch in files,
``log.txt`` in every run folder, an ETA from epoch times only, Ctrl-C that leaves no empty folder,
and a warning for splits too small to measure anything."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest

from hardymer.data import create_dataset
from hardymer.training import trainer as trainer_mod
from hardymer.training.progress import EpochLogger
from hardymer.training.run import run_experiment


@pytest.fixture(scope="module")
def tiny():
    return create_dataset("synthetic", size="tiny", seed=3)


BACKBONE = {"method": "backbone", "cache_dir": None}  # tiny_config keywords of these runs: no cache


def test_epochs_are_one_based_in_metrics_history_and_log(tmp_path, tiny, tiny_config) -> None:
    m = run_experiment(tiny_config(tmp_path / "run", **BACKBONE), ds=tiny, save_checkpoint_file=False, log_epochs=True)
    out = tmp_path / "run"
    rows = list(csv.DictReader(io.StringIO((out / "history.csv").read_text())))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert m["epoch_numbering"] == "1-based"
    sel = [r for r in rows if r.get("val_wa")]
    best = max(sel, key=lambda r: float(r["val_wa"]))  # the first best (strictly better replaces)
    assert m["best_epoch"] == int(best["epoch"])
    assert json.loads((out / "history.json").read_text())[0]["epoch"] == 1
    log_txt = (out / "log.txt").read_text().splitlines()
    epoch_lines = [line for line in log_txt if re.search(r"epoch \d+/4", line)]
    assert [re.search(r"epoch (\d+)/4", line).group(1) for line in epoch_lines] == ["1", "2", "3", "4"]
    assert f"(epoch {m['best_epoch']})" in epoch_lines[-1]


def test_cli_log_to_a_file_is_one_line_per_epoch(tmp_path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    err = tmp_path / "stderr.txt"
    with open(err, "w") as fh:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "hardymer",
                "train",
                "--dataset",
                "synthetic",
                "--data-opt",
                "size=tiny",
                "--method",
                "backbone",
                "--epochs",
                "4",
                "--out",
                str(tmp_path / "r"),
                "--set",
                "cache_dir=null",
            ],
            stdout=subprocess.DEVNULL,
            stderr=fh,
            env=env,
            timeout=300,
        )
    assert r.returncode == 0
    lines = err.read_text().splitlines()
    epoch_lines = [line for line in lines if "epoch " in line and "/4" in line]
    assert len(epoch_lines) == 4  # one record per epoch, not wrapped over several lines
    assert all("loss" in line and "ETA" in line for line in epoch_lines)
    assert all(line[:4].isdigit() for line in lines if line.strip())  # every line is a whole record


def test_eta_counts_epoch_time_only() -> None:
    ticks = iter([0.0, 100.0, 101.0])  # 100 s of setup before the first epoch ends
    lg = EpochLogger(5, clock=lambda: next(ticks))
    lg(0, 1, {"loss": 1.0, "seconds": 2.0})
    assert "ETA 0:08" in lg.lines[0]  # 4 epochs left at 2 s each, setup not counted
    lg(1, 1, {"loss": 1.0, "restored": True, "seconds": 0.0})  # restored stage 1: takes no time now
    assert "ETA 0:06" in lg.lines[1]


def test_interrupt_removes_the_unfinished_run_folder(tmp_path, tiny, tiny_config, monkeypatch, caplog) -> None:
    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr("hardymer.training.run.fit", interrupted)
    with caplog.at_level(logging.WARNING, logger="hardymer.training.run"), pytest.raises(KeyboardInterrupt):
        run_experiment(tiny_config(tmp_path / "cut", **BACKBONE), ds=tiny)
    assert not (tmp_path / "cut").exists()
    assert any("removed the unfinished run folder" in r.getMessage() for r in caplog.records)
    assert trainer_mod.fit is not interrupted


def test_a_tiny_split_warns(tmp_path, tiny_config, caplog) -> None:
    ds = create_dataset("synthetic", size="tiny", seed=3)
    fold = ds.fold(0)
    small_fold = type(fold)(fold.name, fold.train, fold.val, fold.test[:2])  # 2 test items, 4 classes
    ds.folds = [small_fold]
    with caplog.at_level(logging.WARNING, logger="hardymer.training.run"):
        run_experiment(tiny_config(tmp_path / "run", epochs=2, **BACKBONE), ds=ds, save_checkpoint_file=False)
    small = [r.getMessage() for r in caplog.records if "measure little" in r.getMessage()]
    assert any("test split has 2 utterance(s) for 4 classes" in m for m in small), small
    assert not any("val split" in m for m in small)
