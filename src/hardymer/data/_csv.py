"""Reading the quoted, header-less CSV files of the original public feature releases."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hardymer.errors import DataError


def read_rows(path: Path) -> list[list[str]]:
    """All rows of a CSV file; ``DataError`` naming the file when missing or unreadable."""
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return [r for r in csv.reader(fh) if r]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read CSV ({exc})", source=str(path)) from exc


def read_matrix(path: Path, field: str) -> np.ndarray:
    """A numeric CSV as float64 ``[rows, cols]``; errors name the row and column. Rows are parsed
    as they are read (never all held as strings at once)."""
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    out: list[np.ndarray] = []
    width = -1
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            for r in csv.reader(fh):
                if not r:
                    continue
                i = len(out)
                if width < 0:
                    width = len(r)
                if len(r) != width:
                    raise DataError(f"row {i} has {len(r)} columns, expected {width}", source=str(path), field=field)
                try:
                    out.append(np.array([float(v) for v in r], dtype=np.float64))
                except ValueError as exc:
                    raise DataError(f"row {i}: non-numeric value ({exc})", source=str(path), field=field) from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read CSV ({exc})", source=str(path)) from exc
    if not out:
        raise DataError("empty file", source=str(path), field=field)
    return np.stack(out)
