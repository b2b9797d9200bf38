"""Running grid specs on a Ray cluster (optional extra ``ray``): one task per run.

This module does not import the grid: the grid hands it the function that executes one spec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run_with_ray(
    specs: list,
    execute: Callable,
    threads: int = 1,
    address: str | None = None,
    on_done: Callable | None = None,
    local_mode: bool = False,
) -> list[tuple[str, str]]:
    """Submit one Ray task ``execute(spec, threads)`` per spec (each writes its own outputs) and
    wait; return failures."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError("the ray backend needs the optional extra: pip install 'hardymer[ray]'") from exc
    if not specs:
        return []

    started_here = not ray.is_initialized()
    if started_here:
        extra: dict[str, Any] = {"local_mode": True} if local_mode else {}
        ray.init(address=address, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False, **extra)
    remote = ray.remote(num_cpus=threads)(execute)
    refs = {remote.remote(s, threads): s for s in specs}
    failures = []
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for r in done:
            s = refs[r]
            try:
                ray.get(r)
            except Exception as exc:
                failures.append((s.label, repr(exc)))
            if on_done:
                on_done(s, None)
    if started_here:
        ray.shutdown()
    return failures
