"""The on-disk cache (teachers, stage-1 states, hardness tables), keyed by everything they depend
on: the key helpers, the one policy for which train-config keys enter a key (:func:`train_key`),
and what a cache folder holds (``hardymer cache info|clean``)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
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
    "optimizer": "adamw",
    "evaluate_test": True,
    "stage2_steps": None,
    "bucket": False,
    "bucket_batches": 1,
    "share_stage1": True,
    "precision": "fp32",
    "fast_dropout": False,
    "batch_members": 1,
}
#: train keys that stage 1 depends on (with the data, the initial weights and the seed)
STAGE1_TRAIN_KEYS = (
    "batch_size",
    "lr",
    "weight_decay",
    "grad_clip",
    "max_len",
    "optimizer",
    "precision",
    "fast_dropout",
)
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


# -- what is in a cache folder, and cleaning it ----------------------------------------------------
#: the kinds of cached artefact and what reuses each
CACHE_KINDS: dict[str, str] = {
    "teacher": "frozen teacher backbones: reused by hardymer runs with the same data, fold, condition(s), seed, "
    "teacher config and train config",
    "stage1": "stage-1 states of two-stage methods: reused by every condition of the same method, data, fold, "
    "seed and stage-1 config",
    "hardness": "hardness and neighbour tables: reused by hardymer runs with the same teacher, options and conditions",
}
_ENTRY = re.compile(r"^(?P<kind>[a-z0-9]+)-(?P<key>[0-9a-f]{20})\.(pt|npz)$")


@dataclass(frozen=True)
class CacheEntry:
    """One cached file: its kind (``teacher``, ``stage1``, ``hardness``; ``partial`` for a write
    left unfinished by an interrupted process), size in bytes and modification time."""

    path: Path
    kind: str
    bytes: int
    mtime: float


def cache_entries(cache_dir: str | Path) -> list[CacheEntry]:
    """The cache's files that this package wrote (anything else in the folder is ignored)."""
    root = Path(cache_dir)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if not p.is_file():
            continue
        m = _ENTRY.match(p.name)
        kind = m.group("kind") if m and m.group("kind") in CACHE_KINDS else None
        if kind is None and p.name.startswith(".") and p.name.endswith(".tmp"):
            kind = "partial"
        if kind is not None:
            st = p.stat()
            out.append(CacheEntry(p, kind, st.st_size, st.st_mtime))
    return out


def cache_summary(cache_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``{kind: {"files", "bytes", "oldest", "newest"}}`` (times as POSIX seconds) of a cache folder."""
    out: dict[str, dict[str, Any]] = {}
    for e in cache_entries(cache_dir):
        s = out.setdefault(e.kind, {"files": 0, "bytes": 0, "oldest": e.mtime, "newest": e.mtime})
        s["files"] += 1
        s["bytes"] += e.bytes
        s["oldest"] = min(s["oldest"], e.mtime)
        s["newest"] = max(s["newest"], e.mtime)
    return out


def clean_cache(
    cache_dir: str | Path,
    kinds: Sequence[str] | None = None,
    older_than_days: float | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> list[CacheEntry]:
    """Remove the cache's files of ``kinds`` (all, and unfinished writes, when ``None``) not modified
    for ``older_than_days``; return what was (or, with ``dry_run``, would be) removed."""
    import time

    known = (*CACHE_KINDS, "partial")
    for k in kinds or ():
        if k not in known:
            raise ValueError(f"unknown cache kind {k!r}; kinds: {', '.join(known)}")
    if older_than_days is not None and not older_than_days >= 0:
        raise ValueError(f"older than {older_than_days} days: must be >= 0")
    cutoff = (now if now is not None else time.time()) - 86400.0 * (older_than_days or 0.0)
    gone = [
        e
        for e in cache_entries(cache_dir)
        if (kinds is None or e.kind in kinds) and (older_than_days is None or e.mtime <= cutoff)
    ]
    if not dry_run:
        for e in gone:
            e.path.unlink(missing_ok=True)
    return gone
