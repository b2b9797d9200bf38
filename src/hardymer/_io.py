"""Atomic file writes: outputs are either complete or absent, never half-written."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def _atomic(path: Path, write: Callable[[str], None]) -> None:
    """Write through a temporary file in the same folder, then rename; on any failure the temporary
    file is removed and an ``OSError`` (full disk, read-only folder, ...) becomes a ``DiskError``
    naming ``path``."""
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    def w(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    _atomic(Path(path), w)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_torch_save(path: str | Path, obj: Any) -> None:
    import torch

    def w(tmp: str) -> None:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:  # torch reports a failed write (e.g. a full disk) as RuntimeError
            raise OSError(f"torch.save failed: {' '.join(str(exc).split())}") from exc

    _atomic(Path(path), w)


def atomic_numpy_save(path: str | Path, **arrays: Any) -> None:
    import numpy as np

    def w(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    _atomic(Path(path), w)


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
