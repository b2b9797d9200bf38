"""On-disk cache for teachers, critics and hardness, keyed by everything they depend on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def cache_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (dataset, fold, condition, seed, configs)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def cache_path(cache_dir: Path | None, kind: str, key: str, suffix: str) -> Path | None:
    if cache_dir is None:
        return None
    return Path(cache_dir) / f"{kind}-{key}{suffix}"


# -- the one policy for which train-config keys enter a key ---------------------------------------
#: train keys added after results and caches existed: left out of every key while at this value,
#: so that older runs and caches keep their hashes
ADDED_LATER_DEFAULTS: dict[str, Any] = {
    "optimizer": "adamw", "evaluate_test": True, "stage2_steps": None, "bucket": False, "bucket_batches": 1,
    "share_stage1": True, "precision": "fp32", "fast_dropout": False,
}
#: train keys that stage 1 depends on (with the data, the initial weights and the seed)
STAGE1_TRAIN_KEYS = ("batch_size", "lr", "weight_decay", "grad_clip", "max_len", "optimizer", "precision",
                     "fast_dropout")
#: per purpose, the train keys that do not change what is keyed:
#: ``run`` (``config_hash``: a finished run is skipped): where it ran (device, threads);
#: ``model`` (a cached trained model, e.g. the teacher): what is reported (evaluate_test) and how
#: stage 1 was scheduled (share_stage1);
#: ``hardness`` (a cached hardness/neighbour table): those of ``run`` and ``model``, and the student's
#: step budget (the teacher trains epoch-based)
_NOT_KEYED = {
    "run": ("device", "num_threads"),
    "model": ("evaluate_test", "share_stage1"),
    "hardness": ("device", "num_threads", "evaluate_test", "share_stage1", "stage2_steps"),
}
KEY_PURPOSES = ("run", "model", "hardness", "stage1")


def train_key(train: Any, purpose: str) -> dict:
    """The part of a train config (dict, dataclass or OmegaConf node) that a ``purpose`` key
    depends on: ``run``, ``model``, ``hardness`` or ``stage1`` (see ``_NOT_KEYED`` and
    :data:`STAGE1_TRAIN_KEYS`); keys added later are left out while at their default."""
    if purpose not in KEY_PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}; one of {', '.join(KEY_PURPOSES)}")
    d = _as_dict(train)
    if purpose == "stage1":
        d = {k: d.get(k) for k in STAGE1_TRAIN_KEYS}
    else:
        for key in _NOT_KEYED[purpose]:
            d.pop(key, None)
    for key, default in ADDED_LATER_DEFAULTS.items():
        if key in d and d[key] == default:
            d.pop(key)
    return d


def _as_dict(train: Any) -> dict:
    import dataclasses

    if isinstance(train, dict):
        return dict(train)
    if dataclasses.is_dataclass(train) and not isinstance(train, type):
        return dataclasses.asdict(train)
    from omegaconf import OmegaConf

    if OmegaConf.is_config(train):
        out = OmegaConf.to_container(train, resolve=True)
        assert isinstance(out, dict)
        return out
    raise TypeError(f"a train config must be a dict, dataclass or OmegaConf node, not {type(train).__name__}")
