"""``scripts/reproduce_mosi_tuned.sh --quick``: the whole tune -> bench --tuned -> summary pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_pipeline(tmp_path):
    shim = tmp_path / "hardymer-cli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "from hardymer.cli import app; app()" "$@"\n')
    shim.chmod(0o755)
    env = dict(
        os.environ,
        METHODS="zero-fill,backbone",
        HARDYMER=str(shim),
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "reproduce_mosi_tuned.sh"), "--quick", "unused", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = tmp_path / "runs" / "quick-report"
    for part in ("tuned", "release", "default"):
        assert (report / part / "results.json").is_file()
    for m in ("zero-fill", "backbone"):
        summary = json.loads((tmp_path / "runs" / "quick-mosi-tune" / m / "summary.json").read_text())
        assert set(summary["studies"]) == {"a", "t", "v", "at", "av", "tv", "atv"}
        assert all(s["trials_finished"] == 2 for s in summary["studies"].values())
    md = (report / "tuned" / "results.md").read_text()
    assert "tuned configs from runs/quick-mosi-tune (2 trials each per condition, seeds 0" in md
    summary_md = (report / "summary.md").read_text()
    assert "| backbone | release |" in summary_md and "| zero-fill | tuned |" in summary_md
    # resumable: a second run trains nothing new
    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "reproduce_mosi_tuned.sh"), "--quick", "unused", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0
    assert "train zero-fill" not in r.stdout + r.stderr
