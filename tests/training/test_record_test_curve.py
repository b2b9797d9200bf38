"""``train.record_test_curve``: the per-epoch test metrics are recorded beside validation selection
and never feed it (same selected epoch, metrics and weights with and without recording); the
test-selected figures are the best epoch of the recorded curve."""

import json

import pytest
import torch

from hardymer.catalog.validation import validate_config
from hardymer.config import load_config
from hardymer.errors import ConfigError
from hardymer.evaluation.metrics import LOWER_IS_BETTER
from hardymer.training.run import run_experiment


def _cfg(tmp_path, name, record, method="zero-fill", task="regression", protocol="fixed"):
    return load_config(
        {
            "data": {"name": "synthetic", "options": {"size": "tiny", "seed": 0, "task": task}},
            "method": {"name": method, "options": {}},
            "condition": "at",
            "protocol": protocol,
            "cache_dir": None,
            "train": {"epochs": 6, "patience": 0, "record_test_curve": record},
            "out": str(tmp_path / name),
        }
    )


@pytest.mark.parametrize(
    ("method", "task", "protocol"),
    [
        ("zero-fill", "regression", "fixed"),
        ("backbone", "classification", "fixed"),
        ("zero-fill", "regression", "unified"),
    ],
)
def test_recording_never_changes_selection(tmp_path, method, task, protocol):
    plain = run_experiment(_cfg(tmp_path, "plain", False, method, task, protocol))
    rec = run_experiment(_cfg(tmp_path, "rec", True, method, task, protocol))
    for key in ("best_epoch", "val", "test"):
        assert rec[key] == plain[key], key
    a = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "rec" / "checkpoint.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert "test_selected" not in plain
    metric = rec["select_metric"]
    hist = json.loads((tmp_path / "rec" / "history.json").read_text())
    curve = [r for r in hist if f"test_{metric}" in r]
    assert curve and all(r["stage"] == 2 for r in curve)
    values = [r[f"test_{metric}"] for r in curve]
    best = min(values) if metric in LOWER_IS_BETTER else max(values)
    sel = rec["test_selected"] if protocol == "fixed" else rec["test_selected"]["mean6"]
    assert sel[metric] == pytest.approx(best)
    assert curve[[r["epoch"] for r in curve].index(rec["test_selected_epoch"])][f"test_{metric}"] == pytest.approx(best)
    # the test-selected number is never worse than the validation-selected one on the same run
    ours = rec["test"][metric] if protocol == "fixed" else rec["test"]["mean6"][metric]
    assert (best <= ours + 1e-12) if metric in LOWER_IS_BETTER else (best >= ours - 1e-12)


def test_recording_needs_the_test_split_and_validation_selection(tmp_path):
    cfg = _cfg(tmp_path, "x", True)
    cfg.train.evaluate_test = False
    with pytest.raises(ConfigError, match="record_test_curve"):
        validate_config(cfg)
    cfg.train.evaluate_test = True
    cfg.train.select_on = "test"
    with pytest.raises(ConfigError, match="record_test_curve"):
        validate_config(cfg)
