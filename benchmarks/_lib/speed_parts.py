"""Timed pieces of the speed benchmark: per-stage figures, prepare instrumentation, one epoch of ours."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from hardymer.models import curriculum as curriculum_module
from hardymer.models.backbone import Backbone
from hardymer.models.context import FitContext
from hardymer.training.teacher import fit_teacher
from hardymer.training.trainer import FitResult, train_epoch


def per_stage(res: FitResult) -> dict:
    """Epoch counts and seconds per epoch of each stage from a FitResult."""
    out: dict[str, Any] = {}
    for s in (1, 2):
        n = sum(1 for r in res.history if r["stage"] == s)
        sec = float(res.stage_seconds.get(f"stage{s}", 0.0))
        out[f"stage{s}_epochs"] = n
        out[f"stage{s}_seconds"] = sec
        out[f"stage{s}_s_per_epoch"] = sec / n if n else math.nan
    return out


def headline(metrics: dict, task: str) -> dict:
    keys = ("wa",) if task == "classification" else ("acc2", "mae")
    return {k: float(metrics[k]) for k in keys}


class Timers:
    """Wraps functions to accumulate their wall time and keep their last return value."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.last: dict[str, Any] = {}

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            out = fn(*a, **kw)
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
            self.calls[name] = self.calls.get(name, 0) + 1
            self.last[name] = out
            return out

        return timed


@contextmanager
def instrument_prepare(student: Any, teacher: Backbone, timers: Timers) -> Iterator[None]:
    """While active, ``student.prepare`` uses the already trained ``teacher`` and every part of it
    is timed; the critics and faiss indexes it builds are kept in ``timers.last``.

    The real ``Hardymer.prepare`` runs unchanged: only the module-level helpers it calls (and its
    teacher, on this instance) are wrapped with timers.
    """
    names = (
        "train_pair_critics",
        "critic_indirect_hardness",
        "entropy_indirect_hardness",
        "build_indexes",
        "retrieve_neighbours",
        "direct_hardness",
        "install_views",
    )
    saved = {n: getattr(curriculum_module, n) for n in names}
    try:
        for n in names:
            setattr(curriculum_module, n, timers.wrap(n, saved[n]))
        student.__dict__["_train_teacher"] = lambda ctx: teacher
        yield
    finally:
        for n, fn in saved.items():
            setattr(curriculum_module, n, fn)
        student.__dict__.pop("_train_teacher", None)


def train_teacher(student: Any, ctx: FitContext) -> tuple[Backbone, FitResult, float, float]:
    """Train the student's teacher exactly as ``Hardymer._train_teacher`` does (without its cache)."""
    t0, c0 = time.perf_counter(), time.process_time()
    teacher, res = fit_teacher(student.spec, student.teacher_config(), ctx, student.config.teacher_epochs)
    return teacher, res, time.perf_counter() - t0, time.process_time() - c0


def ours_stage2_epoch(
    student: Any, ctx: FitContext, optimizer: torch.optim.Optimizer, epoch: int, batches: Any
) -> tuple[float, float]:
    """One stage-2 epoch of our method, the trainer's inner loop (stacked K+1 views, one step)."""
    t0 = time.perf_counter()
    losses = train_epoch(student, batches, ctx, optimizer, epoch)
    return time.perf_counter() - t0, float(np.mean(losses))
