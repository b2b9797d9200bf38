"""A restricted unpickler: pickles are code, so admit only builtins containers and numpy arrays."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from hardymer.errors import DataError

_ALLOWED: set[tuple[str, str]] = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "tuple"),
    ("builtins", "str"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("builtins", "bytes"),
    ("builtins", "bytearray"),
    ("builtins", "complex"),
    ("builtins", "bool"),
    ("__builtin__", "set"),
    ("__builtin__", "frozenset"),
    ("__builtin__", "unicode"),
    ("__builtin__", "list"),
    ("__builtin__", "dict"),
    ("__builtin__", "tuple"),
    ("__builtin__", "str"),
    ("__builtin__", "int"),
    ("__builtin__", "long"),
    ("__builtin__", "float"),
    ("__builtin__", "bytearray"),
    # Python 3 writes builtins as __builtin__.* under protocol < 3 (e.g. b"" -> __builtin__.bytes,
    # the empty data buffer of a zero-size numpy array)
    ("__builtin__", "bytes"),
    ("__builtin__", "complex"),
    ("__builtin__", "bool"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """Refuses every global outside a small allow-list (no ``os.system``, no ``eval``...)."""

    def __init__(self, file: Any, *, source: str = "<pickle>", **kw: Any) -> None:
        super().__init__(file, **kw)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise DataError(
            f"refusing to load global {module}.{name}: only builtins and numpy arrays are allowed "
            "(pickles are code; this one may be hostile)",
            source=self.source,
        )


def safe_load_pickle(path: str | Path, encoding: str = "latin1") -> Any:
    """Load a pickle file through :class:`RestrictedUnpickler`; clear errors for missing/corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    data = path.read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data), source=str(path), encoding=encoding).load()
    except DataError:
        raise
    except Exception as exc:  # corrupt / truncated pickle
        raise DataError(f"not a readable pickle ({type(exc).__name__}: {exc})", source=str(path)) from exc
