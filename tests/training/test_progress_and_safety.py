"""Per-epoch log lines, history.csv, device auto and the finished-run check of a changed config."""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest
import torch

from hardymer._env import devices, resolve_device
from hardymer.data import create_dataset
from hardymer.errors import ConfigError
from hardymer.training.progress import EpochLogger, chain, format_seconds, history_csv
from hardymer.training.resultdir import check_run_dir, config_differences
from hardymer.training.run import run_experiment


@pytest.fixture(scope="module")
def tiny():
    return create_dataset("synthetic", size="tiny", seed=3)


def test_format_seconds() -> None:
    assert format_seconds(5.4) == "0:05"
    assert format_seconds(125) == "2:05"
    assert format_seconds(3725) == "1:02:05"
    assert format_seconds(float("nan")) == "?"


def test_epoch_logger_tracks_best_and_eta(caplog) -> None:
    ticks = iter([0.0, 10.0, 20.0, 30.0])
    lg = EpochLogger(4, label="m atv seed0", clock=lambda: next(ticks))
    with caplog.at_level(logging.INFO, logger="hardymer.training.progress"):
        lg(0, 1, {"epoch": 0, "stage": 1, "loss": 1.5})
        lg(1, 2, {"epoch": 1, "stage": 2, "loss": 1.0, "val_wf1": 40.0})
        lg(2, 2, {"epoch": 2, "stage": 2, "loss": 0.9, "val_wf1": 35.0})
    assert lg.best == 40.0 and lg.best_epoch == 1
    assert lg.lines[0].startswith("m atv seed0: stage 1, epoch 1/4, loss 1.5000")
    assert "ETA 0:30" in lg.lines[0]  # 10 s per epoch, 3 left
    assert "val_wf1 35.0000, best 40.0000 (epoch 2)" in lg.lines[2] and "ETA 0:10" in lg.lines[2]
    assert [r.getMessage() for r in caplog.records] == lg.lines


def test_epoch_logger_lower_is_better_metric() -> None:
    lg = EpochLogger(3, clock=lambda: 0.0)
    lg(0, 2, {"loss": 1.0, "val_mae": 0.9})
    lg(1, 2, {"loss": 1.0, "val_mae": 0.7})
    lg(2, 2, {"loss": 1.0, "val_mae": 0.8})
    assert lg.best == 0.7 and lg.best_epoch == 1


def test_chain_calls_all_in_order() -> None:
    seen: list = []
    cb = chain(None, lambda e, s, r: seen.append(("a", e)), lambda e, s, r: seen.append(("b", e)))
    cb(0, 1, {})
    assert seen == [("a", 0), ("b", 0)]
    assert chain(None, None) is None


def test_history_csv_union_of_columns() -> None:
    text = history_csv([{"epoch": 0, "stage": 1, "loss": 2.0}, {"epoch": 1, "stage": 2, "loss": 1.0, "val_wf1": 50.0}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["epoch", "stage", "loss", "val_wf1"]
    assert rows[0]["val_wf1"] == "" and float(rows[1]["val_wf1"]) == 50.0


def test_run_writes_history_csv_and_logs_epochs(tmp_path, tiny, tiny_config, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="hardymer.training.progress"):
        run_experiment(tiny_config(tmp_path / "run", epochs=3), ds=tiny, save_checkpoint_file=False, log_epochs=True)
    out = tmp_path / "run"
    hist = json.loads((out / "history.json").read_text())
    rows = list(csv.DictReader(io.StringIO((out / "history.csv").read_text())))
    assert len(rows) == len(hist) == 3
    for rec, row in zip(hist, rows):
        for k, v in rec.items():
            assert float(row[k]) == pytest.approx(float(v))
    lines = [r.getMessage() for r in caplog.records if r.name == "hardymer.training.progress"]
    assert len(lines) == 3 and all("ETA" in line for line in lines)


def test_resolve_device_and_devices() -> None:
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto")
    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    devs = devices()
    assert devs[0]["device"] == "cpu" and devs[0]["threads"] == torch.get_num_threads()
    assert len(devs) == 1 + (torch.cuda.device_count() if torch.cuda.is_available() else 0)


def test_device_auto_trains(tmp_path, tiny, tiny_config) -> None:
    cfg = tiny_config(tmp_path / "run", epochs=2, train={"device": "auto"})
    m = run_experiment(cfg, ds=tiny, save_checkpoint_file=False)
    assert m["best_epoch"] >= 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_device_cuda_without_cuda_is_a_config_error(tmp_path, tiny, tiny_config) -> None:
    cfg = tiny_config(tmp_path / "run", epochs=3, train={"device": "cuda"})
    with pytest.raises(ConfigError, match="CUDA is not available"):
        run_experiment(cfg, ds=tiny, save_checkpoint_file=False)


def test_config_differences() -> None:
    old = {"train": {"epochs": 3, "lr": 0.001, "device": "cpu"}, "seed": 0, "out": "a"}
    new = {"train": {"epochs": 5, "lr": 0.001, "device": "cuda"}, "seed": 0, "out": "b", "extra": 1}
    assert config_differences(old, new) == ["extra: '<absent>' -> 1", "train.epochs: 3 -> 5"]


def test_check_run_dir_refuses_a_changed_config(tmp_path, tiny, tiny_config) -> None:
    cfg = tiny_config(tmp_path / "run", epochs=2)
    assert check_run_dir(tmp_path / "run", cfg) is False  # nothing there yet
    run_experiment(cfg, ds=tiny, save_checkpoint_file=False)
    assert check_run_dir(tmp_path / "run", cfg) is True  # same config: finished
    same_but_device = tiny_config(tmp_path / "run", epochs=2, train={"num_threads": 1})
    assert check_run_dir(tmp_path / "run", same_but_device) is True
    changed = tiny_config(tmp_path / "run", epochs=3)
    with pytest.raises(ConfigError, match=r"train\.epochs: 2 -> 3.*--overwrite"):
        check_run_dir(tmp_path / "run", changed)
    assert check_run_dir(tmp_path / "run", changed, overwrite=True) is False
