"""Exceptions with messages that name the offending file and field."""

from __future__ import annotations


class HardymerError(Exception):
    """Base class of the library's own errors."""


class DataError(HardymerError, ValueError):
    """Bad input data: wrong shape, NaN/inf, missing file, label out of range, ...

    ``source`` (a file path or dataset name) and ``field`` are prefixed to the message.
    """

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None) -> None:
        where = []
        if source:
            where.append(str(source))
        if field:
            where.append(f"field {field!r}")
        prefix = (": ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)
        self.source = source
        self.field = field


class ConfigError(HardymerError, ValueError):
    """Bad configuration value (unknown name, inconsistent options)."""


class DiskError(HardymerError, OSError):
    """An output could not be written (full disk, read-only folder); names the file."""

    def __init__(self, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno_code = errno

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
