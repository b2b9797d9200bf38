"""scripts/replot.py: bar charts from a results.json (with the constant-prediction reference read from the
dataset when the runs lack it), history.png from a tuning folder, hardness figures from run folders."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hardymer.conditions import CONDITIONS
from hardymer.data import create_dataset
from hardymer.reporting.reference import CONSTANT_KEY, constant_predictor_metrics
from hardymer.reporting.results import write_results

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _module():
    spec = importlib.util.spec_from_file_location("replot", ROOT / "scripts" / "replot.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _synthetic_results(folder: Path) -> None:
    def scores(j: int, s: int) -> dict:
        return {"wa": 50.0 + j + s, "ua": 45.0 + j, "wf1": 49.0}

    runs = [
        {"method": m, "dataset": "synthetic", "condition": c, "seed": s, "fold": "default", "protocol": "fixed",
         "select_on": "val", "select_metric": "wa", "best_epoch": 1, "train_seconds": 0.1,
         "val": scores(j, s), "test": scores(j, s)}
        for m in ("zero-fill", "hardymer") for j, c in enumerate(CONDITIONS) for s in (0, 1)
    ]  # fmt: skip
    write_results(runs, folder, "synthetic", ["zero-fill", "hardymer"], command="hardymer bench --dataset synthetic")


def test_command_data_args():
    mod = _module()
    cmd = (
        "hardymer bench --dataset mosi-poria --root ../x --data-opt text_features=f.npz --data-opt size=tiny --seeds 0"
    )
    assert mod.command_data_args(cmd) == ("mosi-poria", "../x", {"text_features": "f.npz", "size": "tiny"})
    assert mod.command_data_args(None) == (None, None, {})


def test_bars_get_the_constant_of_the_test_labels(tmp_path):
    mod = _module()
    _synthetic_results(tmp_path)
    js = json.loads((tmp_path / "results.json").read_text())
    assert all(CONSTANT_KEY not in r for r in js["runs"])  # these runs predate the field
    runs = mod.add_constant_predictor(js)
    ds = create_dataset("synthetic")
    want = constant_predictor_metrics(ds.task, ds.labels[ds.fold("default").test])
    assert all(r[CONSTANT_KEY] == want for r in runs)
    assert want["wa"] == pytest.approx(
        100 * np.bincount(ds.labels[ds.fold("default").test]).max() / len(ds.fold(0).test)
    )
    before = (tmp_path / "results.json").read_text()
    paths = mod.replot_results(tmp_path)
    assert sorted(p.name for p in paths) == ["bars_ua.png", "bars_wa.png"]
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in paths)
    assert (tmp_path / "results.json").read_text() == before  # numbers untouched


def test_missing_feature_file_option_is_dropped(tmp_path, caplog):
    mod = _module()
    ds = mod._load_dataset("synthetic", None, {"size": "tiny", "extra_features": str(tmp_path / "absent.npz")})
    assert len(ds) == len(create_dataset("synthetic", size="tiny")) and "not at hand" in caplog.text


def test_history_from_a_tuning_folder(tmp_path):
    mod = _module()
    with open(tmp_path / "trials.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["number", "state", "value", "duration_s", "error"])
        for i, (state, value) in enumerate([("COMPLETE", 1.2), ("PRUNED", ""), ("COMPLETE", 1.1)]):
            w.writerow([i, state, value, 1.0, ""])
    tune = {"method": "gru-context", "conditions": ["a", "t"], "metric": "mae", "direction": "minimize"}
    (tmp_path / "tune.json").write_text(json.dumps(tune))
    path = mod.replot_history(tmp_path)
    assert path == tmp_path / "history.png" and path.read_bytes()[:8] == PNG_MAGIC


def test_hardness_figures_from_run_folders(tmp_path):
    mod = _module()
    run = tmp_path / "runs" / "hardymer" / "a" / "fold0" / "seed0"
    run.mkdir(parents=True)
    rng = np.random.default_rng(0)
    dh, ih = rng.random(8), -rng.random(8)
    s = 0.6 * (dh - dh.min()) / np.ptp(dh) + 0.4 * (ih - ih.min()) / np.ptp(ih)
    rows = [{"utt_id": f"u{i}", "condition": "a", "dh": dh[i], "ih": ih[i], "s": s[i], "h": i / 7, "k": 1,
             "neighbours": []} for i in range(8)]  # fmt: skip
    (run / "hardness.json").write_text(json.dumps(rows))
    (run / "hardness_summary.json").write_text(
        json.dumps({"mapping": "rank", "conditions": {"a": {"label_agreement_at_k": {"1": 0.5}}}})
    )
    out = tmp_path / "report"
    out.mkdir()
    paths = mod.replot_hardness(out, tmp_path / "runs")
    assert sorted(p.name for p in paths) == ["hardness.png", "label_agreement.png"]
    with pytest.raises(Exception, match="no run folder"):
        mod.replot_hardness(out, tmp_path / "report")
