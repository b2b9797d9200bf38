"""Machine facts every benchmark records next to its figures: CPU, threads, load, peak memory."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import sys

import torch


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)  # bytes on macOS, KiB on Linux


def loadavg() -> list[float]:
    """1/5/15-minute load averages (other processes on a shared machine make timings noisy)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    from hardymer.retrieval.index import _faiss

    faiss = _faiss()

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = os.cpu_count()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "faiss": getattr(faiss, "__version__", "?"),
        "faiss_omp_threads": faiss.omp_get_max_threads(),
        "cuda": torch.cuda.is_available(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "loadavg_start": loadavg(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS") if k in os.environ},
    }
