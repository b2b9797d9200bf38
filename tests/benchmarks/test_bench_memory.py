"""benchmarks/bench_memory.py and the import discipline it reports on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_hardymer_training_imports_no_heavy_library(tmp_path: Path) -> None:
    """A whole ``hardymer train`` run (teacher, critics, hardness diagnostics, retrieval) imports
    neither sklearn, scipy, matplotlib nor pandas (faiss only when an index is built), nor
    ``torch._dynamo`` (the optimizers are ``hardymer.optim.Adam``)."""
    code = (
        "import sys; from hardymer.cli import app\n"
        "try:\n"
        f"    app(['train', '--dataset', 'synthetic', '--data-opt', 'size=tiny', '--method', 'hardymer', "
        f"'--condition', 'a', '--epochs', '2', '--set', 'cache_dir=null', '--out', {str(tmp_path)!r}], "
        "standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'matplotlib', 'pandas'})"
        " + [m for m in ('torch._dynamo',) if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_bench_memory_quick_writes_figures(tmp_path: Path) -> None:
    out = tmp_path / "mem.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_memory.py"),
            "--quick",
            "--methods",
            "backbone",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    res = json.loads(out.read_text())
    assert res["heavy_after_import_cli"] == []
    imp = res["imports"]
    assert imp["import hardymer.cli"]["peak_rss_mib"] < imp["import torch"]["peak_rss_mib"]
    (run,) = res["train"]
    assert run["method"] == "backbone" and run["peak_rss_mib"] > imp["import torch"]["peak_rss_mib"]
