"""Seeding: the only place that seeds process-wide generators.

A run seeds Python's, numpy's and torch's global generators once, at its entry point
(:func:`seed_everything`). Library code otherwise draws from generators it is handed or creates
from a seed (``torch.Generator``, ``numpy.random.default_rng``). The exception is what torch only
draws from its global generator (module initialisation, ``nn.Dropout``, attention dropout): a
nested fit inside a run (a method's teacher) runs in :func:`own_torch_stream`, which gives it a
stream of its own and leaves the run's stream exactly where it was.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's (CPU and CUDA) global generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@contextmanager
def own_torch_stream(seed: int | None = None, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run the block on torch's global generator(s) and restore their state on exit, so the
    caller's stream does not move: from ``seed`` when given (``torch.manual_seed``), else from the
    caller's current state (the block draws what the caller would have drawn next, without
    consuming it). On CUDA the generator of ``device`` is restored too."""
    device = torch.device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        yield
