"""diagnostics.md / diagnostics.json from run folders' hardness_summary.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hardymer.reporting.diagnostics import (
    COLUMNS,
    collect_diagnostics,
    summarise_diagnostics,
    write_diagnostics,
)


def _run(path, seed, auc, own, cond="a"):
    path.mkdir(parents=True)
    info = {k: None for k, _ in COLUMNS}
    info.update(auc_h_vs_hard=auc, own_group_share_used=own, anchor_split="true_hard_flag")
    (path / "hardness_summary.json").write_text(json.dumps({"K": 3, "conditions": {cond: info}}))
    (path / "metrics.json").write_text(json.dumps({"method": "hardymer", "seed": seed, "fold": "default"}))
    return path


def test_collect_summarise_and_write(tmp_path) -> None:
    dirs = [
        _run(tmp_path / "r0", 0, 0.8, 0.5),
        _run(tmp_path / "r1", 1, 0.6, None),
        _run(tmp_path / "r2", 0, None, 0.2, cond="at"),
    ]
    empty = tmp_path / "backbone"
    empty.mkdir()
    rows = collect_diagnostics([*dirs, empty], labels=["hm", "hm", "hm", "backbone"])
    assert len(rows) == 3 and {r["method"] for r in rows} == {"hm"}
    summary = {(e["method"], e["condition"]): e for e in summarise_diagnostics(rows)}
    a = summary[("hm", "a")]
    assert a["runs"] == 2
    assert a["auc_h_vs_hard"]["mean"] == pytest.approx(np.mean([0.8, 0.6])) and a["auc_h_vs_hard"]["n"] == 2
    assert a["own_group_share_used"] == {"mean": 0.5, "n": 1}
    assert summary[("hm", "at")]["auc_h_vs_hard"] == {"mean": None, "n": 0}
    md = write_diagnostics(dirs, tmp_path / "report")
    text = md.read_text()
    assert "| hardymer | a | 2 | 0.700 |" in text and "| hardymer | at | 1 | – |" in text
    saved = json.loads((tmp_path / "report" / "diagnostics.json").read_text())
    assert len(saved["runs"]) == 3 and len(saved["summary"]) == 2
    assert write_diagnostics([empty], tmp_path / "none") is None
    assert not (tmp_path / "none").exists()
