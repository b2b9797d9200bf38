"""Content-hash cache: one ``.npy`` per (backend config, input content), so re-runs skip finished items."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from hardymer._io import atomic_npy_save


def cache_key(config_json: str, content_sha256: str) -> str:
    """sha256 of the backend's configuration and the input's content hash."""
    return hashlib.sha256(f"{config_json}\0{content_sha256}".encode()).hexdigest()


class FeatureCache:
    """``<dir>/<modality>/<key[:2]>/<key>.npy`` (float32 vectors). ``dir=None`` disables caching.

    Only successful extractions are stored; failed items are tried again on the next run. A cache
    file that cannot be read or has the wrong shape counts as a miss and is overwritten.
    """

    def __init__(self, directory: str | Path | None) -> None:
        self.dir = Path(directory) if directory is not None else None

    def _path(self, modality: str, key: str) -> Path:
        assert self.dir is not None
        return self.dir / modality / key[:2] / f"{key}.npy"

    def get(self, modality: str, key: str, dim: int) -> np.ndarray | None:
        """The cached ``(dim,)`` float32 vector of ``key``, or ``None`` (a miss)."""
        if self.dir is None:
            return None
        p = self._path(modality, key)
        if not p.is_file():
            return None
        try:
            v = np.load(p, allow_pickle=False)
        except Exception:
            return None
        if v.shape != (dim,) or v.dtype != np.float32 or not np.isfinite(v).all():
            return None
        return v

    def put(self, modality: str, key: str, vec: np.ndarray) -> None:
        """Store ``vec`` as float32 under ``key`` (atomically: a crash leaves no partial file)."""
        if self.dir is None:
            return
        atomic_npy_save(self._path(modality, key), np.asarray(vec, dtype=np.float32))
