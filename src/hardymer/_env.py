"""The numeric environment a result was produced in (library versions, threads, CPU).

Results reproduce on another machine within seed noise, not bit for bit: these fields say what
changed when two runs differ.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

#: distributions whose versions are recorded (first installed name wins for each key)
_PACKAGES = {
    "torch": ("torch",),
    "numpy": ("numpy",),
    "faiss": ("faiss-cpu", "faiss-gpu", "faiss"),
    "scikit-learn": ("scikit-learn",),
}


def _version(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()`` or None."""
    try:
        for line in Path(cpuinfo).read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def environment() -> dict:
    """Versions of python/torch/numpy/faiss/scikit-learn, torch's thread count and the platform."""
    import torch

    env: dict = {"python": platform.python_version()}
    env.update({key: _version(names) for key, names in _PACKAGES.items()})
    env["torch_threads"] = torch.get_num_threads()
    env["machine"] = platform.machine()
    env["processor"] = platform.processor()
    env["cpu"] = cpu_model()
    env["system"] = platform.system()
    return env


def describe(env: dict, threads: bool = True) -> str:
    """One line: ``torch X, numpy Y, faiss Z, N threads, <cpu> (<machine>)``."""
    cpu = env.get("cpu") or env.get("processor") or env.get("machine") or "unknown CPU"
    n = env.get("torch_threads")
    th = f"{n} torch thread{'' if n == 1 else 's'}, " if threads else ""
    return (
        f"torch {env.get('torch')}, numpy {env.get('numpy')}, faiss {env.get('faiss')}, "
        f"{th}{cpu} ({env.get('machine')})"
    )


def resolve_device(spec: str | None) -> str:
    """The torch device for ``spec``: ``auto`` (or empty) is ``cuda`` when available, else ``cpu``.

    Other values (``cpu``, ``cuda``, ``cuda:1``, ``mps``) are returned unchanged; their availability
    is checked by the run-config validation.
    """
    import torch

    if spec is None or str(spec).strip().lower() in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(spec)


def devices() -> list[dict]:
    """The compute devices torch sees: the CPU (with torch's thread count) and each CUDA device."""
    import torch

    out: list[dict] = [{"device": "cpu", "name": cpu_model() or platform.machine(), "threads": torch.get_num_threads()}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out.append({"device": f"cuda:{i}", "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1)})
    return out
