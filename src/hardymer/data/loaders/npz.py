"""``npz``: a documented single-file format for your own data (``numpy.savez``), see ``docs/data-formats.md``.

Arrays (N utterances, F folds, C classes; only ``labels`` and a split are required)::

    audio, text, video     float [N, d_m]   features; any of them may be absent (unavailable everywhere)
    dims                   int [3]          widths of absent modalities (audio, text, video); default 1
    mask_audio/_text/_video  0/1 [N]        availability; default 1 where the feature array is present
    labels                 [N]              int class ids or float scores
    class_names            str [C]          -> classification (absent: float labels -> regression,
                                               integer labels -> classes '0'..'C-1')
    task                   str []           optional override: 'classification' or 'regression'
    label_range            float [2]        optional bounds of regression scores
    groups                 str [N]          dialogue / video id (default: each utterance its own group)
    order                  int [N]          position inside the group (default: order of appearance)
    utt_ids                str [N]          default 'u000000', 'u000001', ...
    speakers               str [N]          optional
    split                  str [N]          'train' | 'val' | 'test' ('' = unused)   -- one fold named 'default'
    fold_names + folds     str [F], str [F, N]                                      -- several folds
    name                   str []           dataset name (default: the file stem)

Files are read with ``allow_pickle=False``: object arrays are refused.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any, cast

import numpy as np

from hardymer._io import atomic_savez
from hardymer.conditions import MODALITIES, MODALITY_NAMES
from hardymer.data.dataset import MultimodalDataset, Split, Task
from hardymer.data.registry import register_dataset
from hardymer.errors import DataError

log = logging.getLogger(__name__)

FEATURE_KEYS = {m: MODALITY_NAMES[m] for m in MODALITIES}  # a -> "audio", ...
MASK_KEYS = {m: f"mask_{MODALITY_NAMES[m]}" for m in MODALITIES}
KNOWN_KEYS = {
    *FEATURE_KEYS.values(),
    *MASK_KEYS.values(),
    "dims",
    "labels",
    "class_names",
    "task",
    "label_range",
    "groups",
    "order",
    "utt_ids",
    "speakers",
    "split",
    "fold_names",
    "folds",
    "name",
}
_PART_ALIASES = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "": "",
    "none": "",
}


class _Reader:
    """Reads arrays from an open ``NpzFile`` with errors that name the file and the array."""

    def __init__(self, path: Path, npz: Any) -> None:
        self.path = path
        self.npz = npz
        self.keys = set(npz.files)

    def err(self, message: str, key: str | None = None) -> DataError:
        return DataError(message, source=str(self.path), field=key)

    def get(self, key: str) -> np.ndarray | None:
        if key not in self.keys:
            return None
        try:
            arr = self.npz[key]
        except ValueError as exc:  # object arrays with allow_pickle=False
            raise self.err(
                "refused: object array (pickled Python objects are not loaded; store numbers or "
                "fixed-width strings, e.g. np.array(list_of_str, dtype=str))",
                key,
            ) from exc
        except Exception as exc:
            raise self.err(f"unreadable array ({type(exc).__name__}: {exc})", key) from exc
        if arr.dtype.hasobject:
            raise self.err("refused: object array", key)
        return arr

    def strings(self, key: str, n: int | None, required: bool = False) -> np.ndarray | None:
        arr = self.get(key)
        if arr is None:
            if required:
                raise self.err("required array is missing", key)
            return None
        if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
            raise self.err(f"expected shape [{'N' if n is None else n}], got {arr.shape}", key)
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8")
        elif arr.dtype.kind not in "UiuSb":
            raise self.err(f"expected strings (or integers), got dtype {arr.dtype}", key)
        return arr.astype(str)

    def scalar_str(self, key: str) -> str | None:
        arr = self.get(key)
        if arr is None:
            return None
        if arr.size != 1 or arr.dtype.kind not in "US":
            raise self.err(f"expected one string, got dtype {arr.dtype} shape {arr.shape}", key)
        v = arr.reshape(()).item()
        return v.decode("utf-8") if isinstance(v, bytes) else str(v)

    def numeric(self, key: str, shape_desc: str) -> np.ndarray | None:
        arr = self.get(key)
        if arr is None:
            return None
        if arr.dtype.kind not in "biuf":
            raise self.err(f"expected numbers {shape_desc}, got dtype {arr.dtype}", key)
        return arr


def _parts(r: _Reader, arr: np.ndarray, key: str) -> dict[str, np.ndarray]:
    low = np.char.lower(np.char.strip(arr.astype(str)))
    bad = sorted(set(low.tolist()) - set(_PART_ALIASES))
    if bad:
        raise r.err(f"unknown split value {bad[0]!r}; use train, val, test (or '' for unused)", key)
    canon = np.array([_PART_ALIASES[v] for v in low.tolist()], dtype=object)
    return {p: np.flatnonzero(canon == p) for p in ("train", "val", "test")}


def open_npz(path: str | Path) -> Any:
    """Open an ``.npz`` archive with ``allow_pickle=False``; ``DataError`` naming the file when it is
    missing, unreadable or a single ``.npy`` array. Use it as a context manager."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"\x93NUMPY"):
        raise DataError("not an .npz archive (numpy.savez), got a single .npy array", source=str(path))
    if not zipfile.is_zipfile(path):  # never numpy's text, which suggests loading pickles
        kind = "text" if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "binary data"
        raise DataError(
            f"not an .npz archive: expected a zip of .npy arrays (numpy.savez); this file is "
            f"{path.stat().st_size} bytes of {kind}"
            if head
            else "not an .npz archive: the file is empty",
            source=str(path),
        )
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(f"damaged .npz archive ({type(exc).__name__})", source=str(path)) from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError("not an .npz archive (numpy.savez), got a single .npy array", source=str(path))
    return npz


def load_npz(path: str | Path, name: str | None = None) -> MultimodalDataset:
    """Load a dataset from a ``.npz`` in the format of the module docstring."""
    path = Path(path)
    npz = open_npz(path)
    try:
        with npz:
            return _load(_Reader(path, npz), name)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"corrupt .npz ({type(exc).__name__}: {exc})", source=str(path)) from exc


def _load(r: _Reader, name: str | None) -> MultimodalDataset:
    unknown = sorted(r.keys - KNOWN_KEYS)
    if unknown:
        log.warning("%s: ignoring unknown arrays %s (known: %s)", r.path, unknown, sorted(KNOWN_KEYS))

    # ---- labels and task
    labels = r.numeric("labels", "[N]")
    if labels is None:
        raise r.err("required array is missing (class ids or scores, shape [N])", "labels")
    if labels.ndim != 1 or labels.shape[0] == 0:
        raise r.err(f"expected shape [N] with N > 0, got {labels.shape}", "labels")
    n = int(labels.shape[0])
    class_names = r.strings("class_names", None)
    task = r.scalar_str("task")
    if task is not None and task not in ("classification", "regression"):
        raise r.err(f"expected 'classification' or 'regression', got {task!r}", "task")
    if task is None:
        task = "classification" if class_names is not None or labels.dtype.kind in "biu" else "regression"
    if task == "classification":
        if labels.dtype.kind == "f":
            if not np.isfinite(labels).all() or (labels != np.round(labels)).any():
                raise r.err("class labels must be whole numbers (class ids)", "labels")
        labels = labels.astype(np.int64)
        if (labels < 0).any():
            i = int(np.flatnonzero(labels < 0)[0])
            raise r.err(f"label {labels[i]} at row {i} is negative", "labels")
        if class_names is None:
            class_names = np.array([str(k) for k in range(int(labels.max()) + 1)])
        k = len(class_names)
        if (labels >= k).any():
            i = int(np.flatnonzero(labels >= k)[0])
            raise r.err(f"label {labels[i]} at row {i} out of range 0..{k - 1} ({k} class_names)", "labels")
    else:
        labels = labels.astype(np.float32)
        if not np.isfinite(labels).all():
            i = int(np.flatnonzero(~np.isfinite(labels))[0])
            raise r.err(f"NaN/inf score at row {i}", "labels")
        if class_names is not None:
            raise r.err("class_names given but task is regression", "class_names")
    label_range = None
    lr = r.numeric("label_range", "[2]")
    if lr is not None:
        if lr.shape != (2,) or not np.isfinite(lr).all() or lr[0] > lr[1]:
            raise r.err(f"expected [low, high] with low <= high, got {lr.tolist()}", "label_range")
        label_range = (float(lr[0]), float(lr[1]))
        if task == "regression":
            out = (labels < label_range[0]) | (labels > label_range[1])
            if out.any():
                i = int(np.flatnonzero(out)[0])
                raise r.err(f"label {labels[i]} at row {i} outside label_range {list(label_range)}", "labels")
        else:
            log.warning("%s: label_range ignored for classification", r.path)
            label_range = None

    # ---- ids, groups, order
    utt_ids = r.strings("utt_ids", n)
    if utt_ids is None:
        utt_ids = np.array([f"u{i:06d}" for i in range(n)])
    if len(set(utt_ids.tolist())) != n:
        raise r.err("utterance ids are not unique", "utt_ids")
    groups = r.strings("groups", n)
    if groups is None:
        log.info("%s: no groups array; every utterance is its own group", r.path)
        groups = utt_ids.copy()
    order = r.numeric("order", "[N]")
    if order is None:
        order = np.zeros(n, dtype=np.int64)
        seen: dict[str, int] = {}
        for i, g in enumerate(groups.tolist()):
            order[i] = seen.get(g, 0)
            seen[g] = order[i] + 1
    else:
        if order.shape != (n,):
            raise r.err(f"expected shape [{n}], got {order.shape}", "order")
        if order.dtype.kind == "f" and (order != np.round(order)).any():
            raise r.err("expected integer positions", "order")
        order = order.astype(np.int64)
    speakers = r.strings("speakers", n)

    # ---- features and masks
    dims_arr = r.numeric("dims", "[3]")
    if dims_arr is not None and (dims_arr.shape != (3,) or (dims_arr <= 0).any()):
        raise r.err(f"expected 3 positive widths (audio, text, video), got {dims_arr.tolist()}", "dims")
    features: dict[str, np.ndarray] = {}
    available = np.zeros((n, len(MODALITIES)), dtype=bool)
    for j, m in enumerate(MODALITIES):
        key, mkey = FEATURE_KEYS[m], MASK_KEYS[m]
        x = r.numeric(key, "[N, d]")
        mask_raw = r.numeric(mkey, "[N] of 0/1")
        if mask_raw is not None:
            if mask_raw.shape != (n,):
                raise r.err(f"expected shape [{n}], got {mask_raw.shape}", mkey)
            if not np.isin(mask_raw, (0, 1)).all():
                raise r.err("expected only 0/1 values", mkey)
        if x is None:
            d = int(dims_arr[j]) if dims_arr is not None else 1
            features[m] = np.zeros((n, d), dtype=np.float32)
            if mask_raw is not None and mask_raw.any():
                raise r.err(f"marks utterances available but there is no {key!r} array", mkey)
            log.info("%s: no %r array: %s is absent (unavailable for every utterance)", r.path, key, MODALITY_NAMES[m])
            continue
        if x.ndim != 2 or x.shape[0] != n:
            raise r.err(f"expected shape [{n}, d], got {x.shape}", key)
        if dims_arr is not None and x.shape[1] != int(dims_arr[j]):
            raise r.err(f"width {x.shape[1]} differs from dims[{j}] = {int(dims_arr[j])}", key)
        mask = np.ones(n, dtype=bool) if mask_raw is None else mask_raw.astype(bool)
        x = x.astype(np.float32)
        bad = mask & ~np.isfinite(x).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise r.err(
                f"NaN/inf in {int(bad.sum())} available rows (first: row {i}, utterance {utt_ids[i]!r}); "
                f"set {mkey}=0 for rows without data",
                key,
            )
        x[~mask] = 0.0
        features[m] = x
        available[:, j] = mask

    # ---- folds
    split = r.strings("split", n)
    fold_names = r.strings("fold_names", None)
    folds_arr = r.get("folds")
    if split is not None and (fold_names is not None or folds_arr is not None):
        raise r.err("give either 'split' or 'fold_names' + 'folds', not both", "split")
    folds: list[Split] = []
    if split is not None:
        parts = _parts(r, split, "split")
        folds.append(Split("default", parts["train"], parts["val"], parts["test"]))
    elif fold_names is not None or folds_arr is not None:
        if fold_names is None or folds_arr is None:
            raise r.err("'fold_names' and 'folds' go together", "folds" if folds_arr is None else "fold_names")
        if folds_arr.ndim != 2 or folds_arr.shape != (len(fold_names), n):
            raise r.err(
                f"expected shape [{len(fold_names)}, {n}] (fold_names x utterances), got {folds_arr.shape}", "folds"
            )
        if folds_arr.dtype.kind not in "US":
            raise r.err(f"expected strings train/val/test, got dtype {folds_arr.dtype}", "folds")
        if len(set(fold_names.tolist())) != len(fold_names):
            raise r.err("fold names are not unique", "fold_names")
        for f, fname in enumerate(fold_names.tolist()):
            parts = _parts(r, np.asarray(folds_arr[f]).astype(str), "folds")
            folds.append(Split(fname, parts["train"], parts["val"], parts["test"]))
    else:
        raise r.err("no split: give 'split' ([N] train/val/test) or 'fold_names' + 'folds'", "split")
    for s in folds:
        if len(s.train) == 0:
            raise r.err(f"fold {s.name!r} has no training utterances", "split" if split is not None else "folds")
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = set(groups[s.part(a)].tolist()) & set(groups[s.part(b)].tolist())
            if shared:
                raise r.err(
                    f"fold {s.name!r}: group {sorted(shared)[0]!r} is in both {a} and {b} "
                    "(a group must stay in one part)",
                    "split" if split is not None else "folds",
                )

    ds_name = name or r.scalar_str("name") or r.path.stem
    try:
        return MultimodalDataset(
            name=ds_name,
            task=cast(Task, task),  # checked above
            features=features,
            available=available,
            labels=labels,
            groups=groups,
            order=order,
            utt_ids=utt_ids,
            folds=folds,
            class_names=[str(c) for c in class_names] if class_names is not None else None,
            label_range=label_range,
            speakers=speakers,
            meta={"source": str(r.path), "path": str(r.path)},
        )
    except DataError as exc:  # re-attribute the dataset's own checks to the file
        msg = str(exc)
        prefix = ": ".join(p for p in (exc.source, f"field {exc.field!r}" if exc.field else None) if p) + ": "
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
        raise DataError(msg, source=str(r.path), field=exc.field) from exc


def save_npz(ds: MultimodalDataset, path: str | Path, compress: bool = False) -> Path:
    """Write ``ds`` to ``path`` in the ``npz`` format, atomically (:func:`hardymer._io.atomic_savez`).

    ``meta`` is not written. The path is used as given (no ``.npz`` is appended).
    """
    path = Path(path)
    n = len(ds)
    arrays: dict[str, np.ndarray] = {"name": np.array(ds.name), "task": np.array(ds.task)}
    for j, m in enumerate(MODALITIES):
        arrays[FEATURE_KEYS[m]] = np.asarray(ds.features[m], dtype=np.float32)
        arrays[MASK_KEYS[m]] = ds.available[:, j].astype(np.uint8)
    arrays["labels"] = ds.labels
    if ds.class_names is not None:
        arrays["class_names"] = np.array([str(c) for c in ds.class_names], dtype=str)
    if ds.label_range is not None:
        arrays["label_range"] = np.array(ds.label_range, dtype=np.float64)
    arrays["groups"] = np.asarray(ds.groups).astype(str)
    arrays["order"] = np.asarray(ds.order, dtype=np.int64)
    arrays["utt_ids"] = np.asarray(ds.utt_ids).astype(str)
    if ds.speakers is not None:
        arrays["speakers"] = np.asarray(ds.speakers).astype(str)
    folds = np.full((len(ds.folds), n), "", dtype="<U5")
    for f, s in enumerate(ds.folds):
        for part in ("train", "val", "test"):
            folds[f, np.asarray(s.part(part), dtype=np.int64)] = part
    arrays["fold_names"] = np.array([s.name for s in ds.folds], dtype=str)
    arrays["folds"] = folds

    return atomic_savez(path, arrays, compress=compress)


@register_dataset("npz", loader=load_npz)
def _npz(root: str | Path | None = None, path: str | Path | None = None, **kw: Any) -> MultimodalDataset:
    if root is not None and path is not None and Path(root) != Path(path):
        raise ValueError("npz: give the file as root or path=, not both")
    file = path if path is not None else root
    if file is None:
        raise ValueError("npz needs --root (or path=) pointing at the .npz file")
    return load_npz(file, **kw)
