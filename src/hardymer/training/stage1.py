"""Shared stage 1: train the full-modality warm-up once and start every condition's stage 2 from it.

Stage 1 sees full modalities, so for the same data, fold, seed, initial weights and stage-1
training config it is the same computation for every condition (and for ``backbone`` and
``hardymer`` students, whose networks are the same). :func:`fit` trains it once and stores, at the
end of stage 1, everything the stage-2 start of the unshared path would see: the weights, the
optimizer state (Adam moments and step counts), torch's global generator(s) and the training
batcher's shuffle generator, plus the stage-1 history. A later run with the same key restores all
of it and skips stage 1, so its results are identical to training stage 1 itself.

The key holds a digest of the initial weights and of the generator states at the start of stage 1,
so two runs share only when they really start from the same state. Generators stage 1 must not
move (numpy's and Python's global ones, the condition sampler's) are checked: if stage 1 moved one,
the entry is not written (that method's stage 1 is not shareable).
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from hardymer._cache import cache_key, cache_path, train_key
from hardymer._io import atomic_torch_save
from hardymer.data.batching import GroupBatcher
from hardymer.models.base import Method
from hardymer.models.context import FitContext
from hardymer.optim import Adam

log = logging.getLogger(__name__)

#: training-config keys stage 1 depends on (epochs only through the stage-1 length)
#: run-key entries that do not change stage 1
_CONDITION_KEYS = ("condition", "protocol", "missing")


def _digest_tensors(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous().reshape(-1)
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:20]


def _rng_states(device: torch.device) -> dict[str, torch.Tensor]:
    states = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _unshared_generators(ctx: FitContext) -> str:
    """A digest of the generators stage 1 must leave alone (numpy, Python, the condition sampler)."""
    h = hashlib.sha256()
    # the legacy global state is a tuple (numpy's stubs declare the dict form)
    h.update(repr(cast(tuple, np.random.get_state())[1].tolist()).encode())
    h.update(repr(random.getstate()).encode())
    gen = getattr(ctx.conditions, "gen", None)
    if isinstance(gen, torch.Generator):
        h.update(gen.get_state().numpy().tobytes())
    return h.hexdigest()


@dataclass
class SharedStage1:
    """The stage-1 cache entry of one fit: its path and the generator digest at stage-1 start."""

    path: Path
    key: str
    guard: str

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        return torch.load(self.path, map_location="cpu", weights_only=True)


def shared_stage1(method: Method, ctx: FitContext, s1_epochs: int, total_epochs: int) -> SharedStage1 | None:
    """The stage-1 entry for this fit (call right before the first epoch), or ``None`` when stage 1
    is not shared: ``train.share_stage1`` false, no ``cache_dir``, no stage 1 (or no stage 2), or a
    method whose stage 1 is not declared condition-independent (:meth:`Method.stage1_signature`)."""
    cfg = ctx.train
    if not bool(getattr(cfg, "share_stage1", True)) or ctx.cache_dir is None:
        return None
    if s1_epochs <= 0 or s1_epochs >= total_epochs:
        return None
    sig = method.stage1_signature()
    if sig is None:
        return None
    train = train_key(cfg, "stage1")
    run = {k: v for k, v in ctx.run_key.items() if k not in _CONDITION_KEYS}
    key = cache_key(
        "stage1",
        run,
        sig,
        s1_epochs,
        train,
        ctx.seed,
        ctx.device.type,
        _digest_tensors(method.state_dict()),
        _digest_tensors(_rng_states(ctx.device)),
    )
    path = cache_path(ctx.cache_dir, "stage1", key, ".pt")
    assert path is not None
    return SharedStage1(path=path, key=key, guard=_unshared_generators(ctx))


def save_stage1(
    entry: SharedStage1,
    method: Method,
    opt: Adam,
    train_b: GroupBatcher,
    ctx: FitContext,
    history: list[dict],
    seconds: float,
) -> bool:
    """Write the end-of-stage-1 state (atomically); ``False`` (nothing written) when stage 1 moved
    a generator that the entry does not restore."""
    if _unshared_generators(ctx) != entry.guard:
        log.warning("stage 1 of %s moved the numpy/Python/condition generators: not shared", type(method).__name__)
        return False
    obj: dict[str, Any] = {
        "state": {k: v.detach().cpu().clone() for k, v in method.state_dict().items()},
        "optimizer": opt.state_dict(),
        "rng": {k: v.clone() for k, v in _rng_states(ctx.device).items()},
        "batcher_gen": train_b.gen.get_state(),
        "history": history,
        "seconds": float(seconds),
    }
    atomic_torch_save(entry.path, obj)
    log.info("stage 1 saved for sharing: %s", entry.path.name)
    return True


def restore_stage1(obj: dict, method: Method, opt: Adam, train_b: GroupBatcher, ctx: FitContext) -> list[dict]:
    """Put ``method``, ``opt`` and the generators in the saved end-of-stage-1 state; the saved
    stage-1 history records."""
    with torch.no_grad():
        for k, v in method.state_dict().items():  # in place: the optimizer keeps its parameters
            v.copy_(obj["state"][k])
    opt.load_state_dict(obj["optimizer"])
    torch.set_rng_state(obj["rng"]["cpu"])
    if ctx.device.type == "cuda" and "cuda" in obj["rng"]:
        torch.cuda.set_rng_state(obj["rng"]["cuda"], ctx.device)
    train_b.gen.set_state(obj["batcher_gen"])
    return [dict(r) for r in obj["history"]]
