"""The scale benchmark runs end to end on a small N and reports what it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_scale_small(tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_scale.py"),
            "--sizes",
            "1500",
            "--critic-epochs",
            "1",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads(out.read_text())["runs"][0]
    assert run["n"] == 1500 and run["dims"] == {"a": 512, "t": 1024, "v": 1024}
    assert set(run["index"]) == {"a", "t", "v"} and all(i["kind"] == "exact" for i in run["index"].values())
    cpu = run["cpu_seconds"]
    assert all(cpu[k] > 0 for k in ("indexes", "candidates", "critics", "pmi", "precompute_total"))
    assert cpu["precompute_total"] >= cpu["indexes"] + cpu["candidates"] + cpu["critics"] + cpu["pmi"]
    assert all(i["recall_at_8"] == 1.0 and i["heldout_recall_at_8"] == 1.0 for i in run["index"].values())
    assert run["peak_rss_mb"] > run["feature_mb"] > 0
    assert len(run["conditions"]) == 7 and all(v == 1.0 for v in run["neighbours_found_share"].values())
