"""Backend interface, errors and helpers shared by the extraction backends."""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hardymer._registry import Registry
from hardymer.errors import HardymerError

HASH_CHUNK = 1 << 20


class InputError(Exception):
    """One utterance's input is missing or unusable: that modality gets mask 0 and a report line."""


class MissingExtraError(HardymerError, ImportError):
    """An optional backend's package is not installed; the message names the pip extra."""


def require(module: str, *, extra: str, package: str | None = None, what: str = "", hint: str = "") -> Any:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pkg = package or module
        msg = (
            f"{what or 'this backend'} needs the optional package {pkg!r} (import {module!r} failed: {exc}). "
            f"Install it with: pip install 'hardymer[{extra}]'"
        )
        if hint:
            msg += f" {hint}"
        raise MissingExtraError(msg) from exc


def sha256_file(path: Path, h: hashlib._Hash | None = None) -> hashlib._Hash:
    """Feed a file's bytes into ``h`` (new sha256 when None); ``InputError`` when it cannot be read."""
    h = h or hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while True:
                block = fh.read(HASH_CHUNK)
                if not block:
                    break
                h.update(block)
    except FileNotFoundError as exc:
        raise InputError(f"file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise InputError(f"expected a file, got a folder: {path}") from exc
    except OSError as exc:
        raise InputError(f"unreadable file {path} ({type(exc).__name__}: {exc})") from exc
    return h


def package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


class Backend:
    """A feature extractor for one modality.

    Life cycle: ``load()`` once in the main thread (imports, model files; raises
    :class:`MissingExtraError`), then ``fingerprint(value)`` and ``embed(value)`` per utterance,
    possibly from several threads at once. Both raise :class:`InputError` for an unusable input.
    ``value`` is a resolved :class:`~pathlib.Path` for audio and video, the transcript for text.
    """

    modality: ClassVar[str] = ""
    name: str = ""
    dim: int = 0

    def load(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def config(self) -> dict:
        """Everything that changes the output besides the input (part of the cache key)."""
        raise NotImplementedError

    def fingerprint(self, value: Any) -> str:
        """sha256 of the input's content (file bytes, frame files, or the text)."""
        raise NotImplementedError

    def embed(self, value: Any) -> np.ndarray:
        raise NotImplementedError

    def config_json(self) -> str:
        return json.dumps({"modality": self.modality, "dim": self.dim, **self.config()}, sort_keys=True)


def read_mono(sf: Any, path: Path) -> tuple[np.ndarray, int]:
    """``(signal, sample rate)`` of an audio file read with soundfile ``sf``, channels averaged;
    InputError for an unreadable or empty file or NaN/inf samples."""
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # LibsndfileError, RuntimeError, ...
        raise InputError(f"unreadable audio {path} ({type(exc).__name__}: {exc})") from exc
    if x.shape[0] == 0:
        raise InputError(f"empty audio (0 samples): {path}")
    if not np.isfinite(x).all():
        raise InputError(f"audio has NaN/inf samples: {path}")
    return x.mean(axis=1), int(sr)


# -- backends by name: each backend module registers its factories where the class is defined --------
#: ``factory(spec, *, video_fps, max_frames, device) -> Backend``; keyed ``"<modality>:<name>"``
BACKENDS: Registry[Backend] = Registry("extractor backend")


def register_backend(
    modality: str, name: str, *, prefix: bool = False
) -> Callable[[Callable[..., Backend]], Callable[..., Backend]]:
    """Register a backend factory for ``modality`` under ``name`` (``--<modality>-backend name``);
    with ``prefix``, every spec starting ``name:`` (e.g. ``hf:models/wavlm``) goes to it, the whole
    spec passed as its first argument."""
    return BACKENDS.register(f"{modality}:{name}", modality=modality, name=name, prefix=prefix)


def find_backend(modality: str, spec: str) -> Callable[..., Backend] | None:
    """The factory registered for ``spec`` (exact name, else a registered ``prefix:``), or ``None``."""
    low = spec.strip().lower()
    if f"{modality}:{low}" in BACKENDS and not BACKENDS.meta(f"{modality}:{low}")["prefix"]:
        return BACKENDS.get(f"{modality}:{low}")
    for key in BACKENDS.names():
        meta = BACKENDS.meta(key)
        if meta["modality"] == modality and meta["prefix"] and low.startswith(meta["name"] + ":"):
            if low[len(meta["name"]) + 1 :].strip():
                return BACKENDS.get(key)
    return None
