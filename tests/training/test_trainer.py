import json

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from hardymer.data import create_dataset
from hardymer.inference.evaluate import evaluate_checkpoint
from hardymer.training.checkpoint import load_checkpoint
from hardymer.training.run import run_experiment


@pytest.fixture(scope="module")
def tiny():
    return create_dataset("synthetic", size="tiny", seed=3)


def test_run_writes_outputs_and_checkpoint_reproduces_metrics(tmp_path, tiny, tiny_config):
    cfg = tiny_config(tmp_path / "run")
    cfg.condition = "ta"
    m = run_experiment(cfg, ds=tiny)
    out = tmp_path / "run"
    saved = json.loads((out / "metrics.json").read_text())
    for key in (
        "method",
        "dataset",
        "condition",
        "seed",
        "fold",
        "protocol",
        "select_on",
        "best_epoch",
        "val",
        "test",
        "train_seconds",
    ):
        assert key in saved
    assert saved["condition"] == "at" and saved["select_on"] == "val" and not saved["optimistic"]
    assert set(saved["test"]) == {"wa", "ua", "wf1"}
    assert OmegaConf.load(out / "config.yaml").condition == "ta"
    # the saved checkpoint reproduces the reported validation and test metrics
    for split in ("val", "test"):
        res = evaluate_checkpoint(out / "checkpoint.pt", ["at"], split=split)
        for k, v in m[split].items():
            assert res["at"][k] == pytest.approx(v, abs=1e-6)


def test_best_state_is_a_copy_and_selected_on_validation(tmp_path, tiny, tiny_config):
    cfg = tiny_config(tmp_path / "run", epochs=6)
    m = run_experiment(cfg, ds=tiny)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    vals = [h["val_wa"] for h in hist]
    assert m["best_epoch"] == hist[int(np.argmax(vals))]["epoch"]  # first best epoch on validation (1-based)
    assert m["val"]["wa"] == pytest.approx(max(vals))


def test_seeds_make_runs_reproducible(tmp_path, tiny, tiny_config):
    a = run_experiment(tiny_config(tmp_path / "a" / "run"), ds=tiny)
    b = run_experiment(tiny_config(tmp_path / "b" / "run"), ds=tiny)
    assert a["test"] == b["test"]


def test_select_on_test_is_stamped_optimistic(tmp_path, tiny, tiny_config):
    m = run_experiment(tiny_config(tmp_path / "run", train={"select_on": "test"}), ds=tiny)
    assert m["select_on"] == "test" and m["optimistic"] is True


def test_load_checkpoint_rejects_garbage(tmp_path):
    from hardymer.errors import DataError

    p = tmp_path / "x.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="x.pt"):
        load_checkpoint(p)
    torch.save({"format": "other"}, p)
    with pytest.raises(DataError, match="format"):
        load_checkpoint(p)


def test_atomic_writes_leave_no_temp_files_and_normal_permissions(tmp_path):
    import os

    from hardymer._io import atomic_write_json

    atomic_write_json(tmp_path / "m.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
    assert os.stat(tmp_path / "m.json").st_mode & 0o644 == 0o644
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "bad.json", {"a": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]  # nothing half-written
