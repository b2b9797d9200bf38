"""Concurrent benches on one folder split the work; a dead holder's lock does not block."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

from hardymer.bench.grid import execute, plan_grid
from hardymer.config import load_config

BENCH = [
    "bench",
    "--methods",
    "zero-fill",
    "--conditions",
    "at",
    "--seeds",
    "0-3",
    "--epochs",
    "2",
    "--data-opt",
    "size=tiny",
]


def test_two_benches_train_each_run_once(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    cmd = [sys.executable, "-c", "from hardymer.cli import app; app()", *BENCH, "--out", str(tmp_path / "grid")]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    trained = sum(err.count("train zero-fill on synthetic") for _, err in outs)
    assert trained == 4, [err for _, err in outs]
    assert len(list((tmp_path / "grid").rglob("metrics.json"))) == 4


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    cfg = load_config({"train": {"epochs": 2}, "data": {"options": {"size": "tiny"}}, "cache_dir": None})
    spec = plan_grid(cfg, ["zero-fill"], ["at"], [0], ["0"], tmp_path)[0]
    lock = Path(spec.out) / ".lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from filelock import FileLock; import time; "
            f"lk = FileLock({str(lock)!r}); lk.acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert execute(spec, wait=False) is None  # held by a live process: skipped
    holder.kill()
    holder.wait()
    time.sleep(0.2)
    assert lock.exists()  # the file stays behind; it is not a marker
    with FileLock(str(lock)).acquire(timeout=5):
        pass
    m = execute(spec, wait=False)
    assert m is not None and m["condition"] == "at"
