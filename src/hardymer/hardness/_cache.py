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
