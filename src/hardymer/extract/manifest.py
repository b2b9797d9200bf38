"""The extraction manifest: a CSV with a header, one utterance per row.

Columns (names are case-insensitive; only ``id`` is required):

    id       unique utterance id
    group    dialogue / video id (default: the id, every utterance its own group)
    order    integer position inside the group (default: order of appearance)
    label    class name, class id or score (all rows or none)
    split    train / val / test ('' = unused)
    speaker  optional speaker id
    audio    path of an audio file (wav, flac, ogg; mp3 where libsndfile reads it)
    text     the transcript itself
    video    path of a video file (mp4, avi, ...) or of a folder of frame images

Relative paths are relative to the manifest's folder. An empty cell means "no input" for that
modality (mask 0 and a line in the extraction report when that modality is extracted).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hardymer.errors import DataError

log = logging.getLogger(__name__)

KNOWN_COLUMNS = ("id", "group", "order", "label", "split", "speaker", "audio", "text", "video")
SPLIT_ALIASES = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "": "",
    "none": "",
}


@dataclass
class Manifest:
    path: Path
    ids: list[str]
    groups: list[str]
    order: np.ndarray
    columns: set[str]
    audio: list[str] = field(default_factory=list)  # raw cells ('' = none)
    text: list[str] = field(default_factory=list)
    video: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None
    class_names: list[str] | None = None
    split: list[str] | None = None
    speakers: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def base(self) -> Path:
        return self.path.parent

    def resolve(self, cell: str) -> Path:
        """A path cell relative to the manifest's folder (absolute paths and ``~`` kept)."""
        p = Path(cell).expanduser()
        return p if p.is_absolute() else self.base / p

    def has(self, modality: str) -> bool:
        """The column exists and at least one cell is not empty."""
        return modality in self.columns and any(c.strip() for c in getattr(self, modality))


def _labels(path: Path, cells: list[str], lines: list[int]) -> tuple[np.ndarray, list[str] | None]:
    try:
        ints = [int(c) for c in cells]
        arr = np.array(ints, dtype=np.int64)
        if (arr < 0).any():
            i = int(np.flatnonzero(arr < 0)[0])
            raise DataError(
                f"line {lines[i]}: negative class id {ints[i]} (class ids are 0..C-1)", source=str(path), field="label"
            )
        return arr, None
    except ValueError:
        pass
    try:
        arr = np.array([float(c) for c in cells], dtype=np.float64)
        if not np.isfinite(arr).all():
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise DataError(f"line {lines[i]}: label {cells[i]!r} is not finite", source=str(path), field="label")
        return arr.astype(np.float32), None
    except ValueError:
        pass
    names = sorted(set(cells))
    index = {n: k for k, n in enumerate(names)}
    return np.array([index[c] for c in cells], dtype=np.int64), names


def read_manifest(path: str | Path) -> Manifest:
    """Read and check a manifest; :class:`DataError` names the file, the column and the line."""
    path = Path(path)
    if not path.is_file():
        raise DataError("manifest not found", source=str(path))
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            rows: list[list[str]] = []
            lines: list[int] = []
            header = next(reader, None)
            for row in reader:
                if not any(c.strip() for c in row):
                    continue
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc})", source=str(path)) from exc
    except csv.Error as exc:
        raise DataError(f"malformed CSV ({exc})", source=str(path)) from exc
    if header is None:
        raise DataError("empty manifest (needs a header line with at least an 'id' column)", source=str(path))
    cols = [h.strip().lower() for h in header]
    if "id" not in cols:
        raise DataError(
            f"no 'id' column in the header {header} (columns: {', '.join(KNOWN_COLUMNS)})", source=str(path), field="id"
        )
    dup = sorted({c for c in cols if cols.count(c) > 1 and c})
    if dup:
        raise DataError(f"column {dup[0]!r} appears twice", source=str(path), field=dup[0])
    unknown = [c for c in cols if c not in KNOWN_COLUMNS]
    if unknown:
        log.warning("%s: ignoring unknown columns %s (known: %s)", path, unknown, ", ".join(KNOWN_COLUMNS))
    if not rows:
        raise DataError("no utterances (only a header)", source=str(path))
    pos = {c: cols.index(c) for c in KNOWN_COLUMNS if c in cols}

    def col(name: str) -> list[str]:
        j = pos[name]
        out = []
        for row, line in zip(rows, lines):
            if len(row) > len(cols):
                raise DataError(f"line {line}: {len(row)} cells but the header has {len(cols)}", source=str(path))
            out.append(row[j] if j < len(row) else "")
        return out

    ids = [c.strip() for c in col("id")]
    for i, u in enumerate(ids):
        if not u:
            raise DataError(f"line {lines[i]}: empty id", source=str(path), field="id")
    seen: dict[str, int] = {}
    for i, u in enumerate(ids):
        if u in seen:
            raise DataError(
                f"line {lines[i]}: id {u!r} already used on line {lines[seen[u]]}", source=str(path), field="id"
            )
        seen[u] = i
    groups = [c.strip() for c in col("group")] if "group" in pos else list(ids)
    groups = [g if g else u for g, u in zip(groups, ids)]
    if "order" in pos:
        order = np.zeros(len(ids), dtype=np.int64)
        for i, c in enumerate(col("order")):
            try:
                order[i] = int(c.strip())
            except ValueError as exc:
                raise DataError(
                    f"line {lines[i]}: order {c!r} is not an integer", source=str(path), field="order"
                ) from exc
    else:
        order = np.zeros(len(ids), dtype=np.int64)
        count: dict[str, int] = {}
        for i, g in enumerate(groups):
            order[i] = count.get(g, 0)
            count[g] = int(order[i]) + 1
    m = Manifest(path=path, ids=ids, groups=groups, order=order, columns=set(pos))
    for mod in ("audio", "text", "video"):
        cells = col(mod) if mod in pos else [""] * len(ids)
        setattr(m, mod, cells if mod == "text" else [c.strip() for c in cells])
    if "label" in pos:
        cells = [c.strip() for c in col("label")]
        filled = [bool(c) for c in cells]
        if any(filled) and not all(filled):
            i = filled.index(False)
            raise DataError(
                f"line {lines[i]}: empty label (give a label on every row or on none)", source=str(path), field="label"
            )
        if all(filled):
            m.labels, m.class_names = _labels(path, cells, lines)
    if "split" in pos:
        sp = []
        for i, c in enumerate(col("split")):
            v = c.strip().lower()
            if v not in SPLIT_ALIASES:
                raise DataError(
                    f"line {lines[i]}: unknown split {c!r} (train, val, test or empty)", source=str(path), field="split"
                )
            sp.append(SPLIT_ALIASES[v])
        if any(sp):
            m.split = sp
    if "speaker" in pos:
        m.speakers = [c.strip() for c in col("speaker")]
    return m
