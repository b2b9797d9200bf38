"""Atomic file writes: outputs are either complete or absent, never half-written.

The one implementation is :func:`atomic_write` (a temporary file in the target's folder, then
``os.replace``); the typed helpers (text, JSON, bytes, ``torch.save``, numpy ``.npz``/``.npy``)
and every other writer of the package go through it.

    >>> atomic_write("out/fig.png", lambda tmp: fig.savefig(tmp, format="png"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` with the name of a temporary file in ``path``'s folder (created when
    missing), then rename it to ``path``; return ``path``. On any failure the temporary file is
    removed and an ``OSError`` (full disk, read-only folder, ...) becomes a ``DiskError`` naming
    ``path``. The file gets the usual permissions (``0o666`` less the umask)."""
    from hardymer.errors import DiskError

    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, DiskError):
            reason = exc.strerror or str(exc)
            raise DiskError(f"{path}: cannot write ({reason})", errno=exc.errno) from exc
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_file(path: str | Path, mode: str, fill: Callable[[IO[Any]], object], **open_kw: Any) -> Path:
    """:func:`atomic_write` through an open file: ``fill(fh)`` writes, then the data are flushed to disk."""

    def w(tmp: str) -> None:
        with open(tmp, mode, **open_kw) as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(path, w)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return _write_file(path, "w", lambda fh: fh.write(text), encoding="utf-8")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return _write_file(path, "wb", lambda fh: fh.write(data))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (numpy scalars/arrays and paths converted) atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_torch_save(path: str | Path, obj: Any) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (a failed write becomes a ``DiskError``)."""
    import torch

    def w(tmp: str) -> None:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:  # torch reports a failed write (e.g. a full disk) as RuntimeError
            raise OSError(f"torch.save failed: {' '.join(str(exc).split())}") from exc

    return atomic_write(path, w)


def atomic_numpy_save(path: str | Path, **arrays: Any) -> Path:
    """``np.savez(**arrays)`` to ``path`` atomically (the name is used as given)."""
    return atomic_savez(path, arrays)


def atomic_savez(path: str | Path, arrays: Mapping[str, Any], *, compress: bool = False) -> Path:
    """``np.savez`` (``np.savez_compressed`` with ``compress``) of ``arrays`` to ``path`` atomically."""
    import numpy as np

    save = np.savez_compressed if compress else np.savez
    return _write_file(path, "wb", lambda fh: save(fh, **arrays))


def atomic_npy_save(path: str | Path, array: Any) -> Path:
    """``np.save(array)`` (one ``.npy`` array, no pickling) to ``path`` atomically."""
    import numpy as np

    return _write_file(path, "wb", lambda fh: np.save(fh, array, allow_pickle=False))


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
