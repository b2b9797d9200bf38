"""``mmsa``: the MMSA pickles of CMU-MOSI / CMU-MOSEI / CH-SIMS (``aligned_50.pkl``, ``unaligned_50.pkl``).

Layout (as read by MMSA's own ``MMDataset``): a dict ``{"train": {...}, "valid": {...}, "test": {...}}``,
each part a dict of arrays over its N utterances::

    id                     [N]            "<video>$_$<clip>"
    raw_text               [N]            transcripts (not used)
    text                   [N, L, d_t]    text features (BERT 768 / GloVe 300)
    text_bert              [N, 3, L]      BERT token ids, attention mask, segment ids (not features)
    audio                  [N, T_a, d_a]  e.g. COVAREP 5 (MOSI) / 74 (MOSEI)
    vision                 [N, T_v, d_v]  e.g. Facet 20 (MOSI) / 35 (MOSEI)
    audio_lengths          [N]            valid frames (unaligned pickles)
    vision_lengths         [N]
    regression_labels      [N]            sentiment score ([-3, 3] MOSI/MOSEI, [-1, 1] SIMS)
    classification_labels  [N]            class id (optional)
    regression_labels_T/A/V [N]           unimodal scores (SIMS, kept in ``meta`` only)

Frame sequences are pooled over their valid frames: the first ``*_lengths`` frames when the
pickle has them; otherwise (aligned pickles) the first ``text_bert`` attention-mask-sum frames for
every modality, as MMSA's models do; otherwise the frames that are not all zero. Text uses the
``text_bert`` mask when present, else its non-zero rows. ``pooling``: ``mean`` (default),
``meanstd`` (mean and standard deviation concatenated: 2·d) or ``max``. An utterance with no
valid frame of a modality has that modality unavailable. ``-inf``/NaN frame values are set to 0
(MMSA does the same for audio). Groups are the video ids, order the clip number (numeric when
all clips are numbers). Splits: the pickle's train/valid/test (one fold ``standard``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

from hardymer.conditions import MODALITIES, MODALITY_NAMES, canonical_condition
from hardymer.data._unpickle import safe_load_pickle
from hardymer.data.dataset import MultimodalDataset, Split, Task
from hardymer.data.registry import register_dataset
from hardymer.errors import ConfigError, DataError

log = logging.getLogger(__name__)

PARTS = ("train", "valid", "test")
ARRAY_KEYS = {"a": "audio", "t": "text", "v": "vision"}
LENGTH_KEYS = {"a": "audio_lengths", "v": "vision_lengths"}
POOLINGS = ("mean", "meanstd", "max")
ID_SEP = "$_$"
CLASS_NAMES_3 = ["negative", "neutral", "positive"]


def parse_drop(drop: Any) -> set[str]:
    """``"v"`` / ``"av"`` / ``"audio,video"`` / ``["v"]`` / ``None`` -> set of modality letters."""
    if drop is None or drop == "" or (isinstance(drop, str) and drop.lower() == "none"):
        return set()
    items = [drop] if isinstance(drop, str) else list(drop)
    out: set[str] = set()
    for item in items:
        for tok in str(item).replace(",", " ").split():
            full = {name: m for m, name in MODALITY_NAMES.items()} | {"vision": "v"}
            if tok.lower() in full:
                out.add(full[tok.lower()])
                continue
            try:
                out.update(canonical_condition(tok))
            except ValueError:
                raise ConfigError(
                    f"drop: unknown modality {tok!r}; use letters of a, t, v (e.g. drop=v) or audio/text/video"
                ) from None
    return out


def _pool(x: np.ndarray, valid: np.ndarray, pooling: str, chunk: int = 512) -> np.ndarray:
    """``x`` [N, T, d], ``valid`` bool [N, T] -> [N, d] (or [N, 2d] for meanstd); rows without a
    valid frame are 0. Works in chunks of rows to bound memory."""
    if x.shape[0] > chunk:
        return np.concatenate(
            [_pool(x[s : s + chunk], valid[s : s + chunk], pooling, chunk) for s in range(0, x.shape[0], chunk)]
        )
    w = valid[..., None].astype(np.float64)
    cnt = np.maximum(w.sum(1), 1.0)
    mean = (x * w).sum(1) / cnt
    if pooling == "mean":
        out = mean
    elif pooling == "meanstd":
        var = (((x - mean[:, None, :]) ** 2) * w).sum(1) / cnt
        out = np.concatenate([mean, np.sqrt(np.maximum(var, 0.0))], axis=1)
    else:
        out = np.where(valid[..., None], x, -np.inf).max(1)
        out[~valid.any(1)] = 0.0
    return out.astype(np.float32)


def _prefix_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    return np.arange(T)[None, :] < lengths[:, None]


class _Part:
    """Reads one part (train/valid/test) of the pickle with errors naming the file, part and key."""

    def __init__(self, path: Path, name: str, data: Any) -> None:
        self.path, self.name = path, name
        if not isinstance(data, Mapping):
            raise DataError(
                f"expected part {name!r} to be a dict of arrays, got {type(data).__name__}",
                source=str(path),
                field=name,
            )
        self.data = data
        self.n: int | None = None

    def err(self, msg: str, key: str) -> DataError:
        return DataError(msg, source=str(self.path), field=f"{self.name}.{key}")

    def has(self, key: str) -> bool:
        return key in self.data

    def array(self, key: str, ndim: tuple[int, ...], numeric: bool = True) -> np.ndarray:
        if key not in self.data:
            raise self.err(
                f"required key is missing (part {self.name!r} has: {', '.join(sorted(map(str, self.data)))})", key
            )
        try:
            arr = np.asarray(self.data[key])
        except Exception as exc:
            raise self.err(f"not an array ({type(exc).__name__}: {exc})", key) from exc
        if arr.ndim not in ndim:
            raise self.err(f"expected {' or '.join(f'{d}-D' for d in ndim)} array, got shape {arr.shape}", key)
        if numeric and arr.dtype.kind not in "biuf":
            raise self.err(f"expected numbers, got dtype {arr.dtype}", key)
        if self.n is None:
            self.n = int(arr.shape[0])
        elif arr.shape[0] != self.n:
            raise self.err(f"{arr.shape[0]} rows, but {self.n} utterances in part {self.name!r}", key)
        return arr

    def strings(self, key: str) -> list[str]:
        arr = self.array(key, (1, 2), numeric=False)
        if arr.ndim == 2:
            if arr.shape[1] != 1:
                raise self.err(f"expected shape [N], got {arr.shape}", key)
            arr = arr[:, 0]
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in arr.tolist()]

    def scores(self, key: str) -> np.ndarray:
        arr = self.array(key, (1, 2)).astype(np.float64)
        if arr.ndim == 2:
            if arr.shape[1] != 1:
                raise self.err(f"expected shape [N] or [N, 1], got {arr.shape}", key)
            arr = arr[:, 0]
        if not np.isfinite(arr).all():
            raise self.err("contains NaN/inf", key)
        return arr


def _valid_frames(part: _Part, m: str, x: np.ndarray, text_mask: np.ndarray | None) -> np.ndarray:
    """Bool [N, T] of the frames that count for modality ``m``: the ``*_lengths`` prefix, else the
    ``text_bert`` mask-sum prefix (text; audio/vision of the same length, i.e. aligned), else the
    frames that are not all zero."""
    T = x.shape[1]
    key = LENGTH_KEYS.get(m)
    if key is not None and part.has(key):
        lengths = part.scores(key)
        if (lengths < 0).any() or (lengths != np.round(lengths)).any():
            raise part.err("lengths must be non-negative integers", key)
        return _prefix_mask(np.minimum(lengths.astype(np.int64), T), T)
    if text_mask is not None and (m == "t" or text_mask.shape[1] == T):
        return _prefix_mask(np.minimum(text_mask.sum(1), T), T)
    return np.abs(x).sum(2) > 0


#: folder names of MMSA's layout that do not name the corpus (``MOSI/Processed/unaligned_50.pkl``)
_GENERIC_FOLDERS = {"processed", "data", "dataset", "datasets", "features", "feature", "pkl", "pickles", "raw", "mmsa"}


def corpus_name(pickle_path: str | Path) -> str:
    """The corpus a pickle belongs to, from its folders: the nearest parent that is not a generic
    name of MMSA's layout (``MOSI/Processed/unaligned_50.pkl`` -> ``MOSI``), else the file stem."""
    p = Path(pickle_path).resolve()
    for parent in p.parents:
        if parent.name and parent.name.lower() not in _GENERIC_FOLDERS:
            return parent.name
    return p.stem


def load_mmsa(
    root: str | Path,
    pickle: str | None = None,
    pooling: str = "mean",
    task: str = "regression",
    drop: Any = None,
    text_key: str = "text",
    name: str | None = None,
    label_range: Any = None,
) -> MultimodalDataset:
    """Load an MMSA feature pickle (see the module docstring).

    Args:
        root: the ``.pkl`` file, or a folder holding exactly one ``aligned_*.pkl`` /
            ``unaligned_*.pkl`` (or name it with ``pickle=``).
        pooling: ``mean`` | ``meanstd`` | ``max`` over valid frames.
        task: ``regression`` (``regression_labels``) or ``classification`` (``classification_labels``).
        drop: modalities to treat as absent (e.g. ``"v"``): unavailable for every utterance, one zero column.
        text_key: the text feature array (``text``); ``text_bert`` holds token ids, not features.
        name: dataset name (default ``mmsa-<corpus folder>``, e.g. ``mmsa-MOSI`` for
            ``MOSI/Processed/unaligned_50.pkl``; see :func:`corpus_name`).
        label_range: bounds of regression scores, e.g. ``"-1,1"`` (default [-3, 3]).
    """
    path = Path(root)
    if path.is_dir():
        if pickle is not None:
            path = path / pickle
        else:
            found = sorted(p for p in path.glob("*.pkl") if p.name.startswith(("aligned_", "unaligned_")))
            if len(found) != 1:
                what = (
                    f"{len(found)} MMSA pickles ({', '.join(p.name for p in found)})"
                    if found
                    else "no aligned_*.pkl / unaligned_*.pkl"
                )
                raise ConfigError(
                    f"mmsa: {path} holds {what}; name the file with --root FILE or --data-opt pickle=<file>"
                )
            path = found[0]
    pooling = str(pooling).lower()
    if pooling not in POOLINGS:
        raise ConfigError(f"mmsa: unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")
    task = str(task).lower()
    if task not in ("regression", "classification"):
        raise ConfigError(f"mmsa: task must be regression or classification, got {task!r}")
    if text_key == "text_bert":
        raise ConfigError(
            "mmsa: text_bert holds BERT token ids, attention mask and segment ids, not features; "
            "use text_key=text (the pickle's precomputed text features)"
        )
    if label_range is None:
        lr = (-3.0, 3.0)
    else:
        vals = [float(v) for v in (label_range.split(",") if isinstance(label_range, str) else label_range)]
        if len(vals) != 2 or vals[0] > vals[1]:
            raise ConfigError(f"mmsa: label_range must be 'low,high', got {label_range!r}")
        lr = (vals[0], vals[1])
    dropped = parse_drop(drop)

    obj = safe_load_pickle(path)
    if not isinstance(obj, Mapping):
        raise DataError(f"expected a dict with parts {', '.join(PARTS)}, got {type(obj).__name__}", source=str(path))
    missing_parts = [p for p in PARTS if p not in obj]
    if missing_parts:
        raise DataError(
            f"required part {missing_parts[0]!r} is missing (has: {', '.join(sorted(map(str, obj)))})",
            source=str(path),
            field=missing_parts[0],
        )
    aligned_name = path.name.startswith("aligned")

    ids_all: list[str] = []
    part_of: list[str] = []
    feats: dict[str, list[np.ndarray]] = {m: [] for m in MODALITIES}
    avail: dict[str, list[np.ndarray]] = {m: [] for m in MODALITIES}
    labels: list[np.ndarray] = []
    uni: dict[str, list[np.ndarray]] = {}
    fixed_nonfinite = {m: 0 for m in MODALITIES}
    dims: dict[str, int] = {}
    for pname in PARTS:
        part = _Part(path, pname, obj[pname])
        ids = part.strings("id")
        n = len(ids)
        text_mask = None
        if part.has("text_bert"):
            tb = part.array("text_bert", (3,))
            if tb.shape[1] != 3:
                raise part.err(f"expected shape [N, 3, L] (ids, mask, segments), got {tb.shape}", "text_bert")
            text_mask = tb[:, 1, :] > 0
        for m in MODALITIES:
            key = text_key if m == "t" else ARRAY_KEYS[m]
            if m in dropped:
                feats[m].append(np.zeros((n, 1), np.float32))
                avail[m].append(np.zeros(n, dtype=bool))
                continue
            x = part.array(key, (2, 3))
            x = x.astype(np.float32, copy=False)
            bad = ~np.isfinite(x)
            if bad.any():
                fixed_nonfinite[m] += int(bad.sum())
                x = np.where(bad, 0.0, x).astype(np.float32)
            if x.ndim == 2:  # already one vector per utterance
                pooled, ok = x, np.ones(n, dtype=bool)
            else:
                valid = _valid_frames(part, m, x, text_mask)
                pooled, ok = _pool(x, valid, pooling), np.any(valid, axis=1)
            d = pooled.shape[1]
            if dims.setdefault(m, d) != d:
                raise part.err(f"feature dim {d} differs from {dims[m]} in an earlier part", key)
            feats[m].append(pooled)
            avail[m].append(ok)
        if task == "regression":
            y = part.scores("regression_labels")
        else:
            y = part.scores("classification_labels")
            if (y != np.round(y)).any() or (y < 0).any():
                raise part.err("class labels must be non-negative integers", "classification_labels")
        labels.append(y)
        for s in "TAV":
            k = f"regression_labels_{s}"
            if part.has(k):
                uni.setdefault(s, []).append(part.scores(k))
        ids_all += ids
        part_of += [pname] * n

    n_all = len(ids_all)
    if n_all == 0:
        raise DataError("the pickle holds no utterances", source=str(path))
    videos, clips = [], []
    for u in ids_all:
        if ID_SEP in u:
            v, c = u.split(ID_SEP, 1)
        else:
            v, c = u, ""
        videos.append(v)
        clips.append(c)
    n_plain = sum(ID_SEP not in u for u in ids_all)
    if n_plain:
        log.warning("%s: %d ids have no '%s' separator; each of them is its own video", path, n_plain, ID_SEP)
    # a video split across parts would leak; keep the parts apart by naming groups per part then
    part_arr = np.array(part_of)
    groups = np.array(videos, dtype=object)
    parts_of_video: dict[str, set[str]] = {}
    for v, p in zip(videos, part_of):
        parts_of_video.setdefault(v, set()).add(p)
    shared = sorted(v for v, ps in parts_of_video.items() if len(ps) > 1)
    if shared:
        log.warning(
            "%s: %d videos have clips in more than one of train/valid/test (first %r); their clips are "
            "grouped per part",
            path,
            len(shared),
            shared[0],
        )
        sset = set(shared)
        groups = np.array([f"{v}@{p}" if v in sset else v for v, p in zip(videos, part_of)], dtype=object)
    numeric = all(c.lstrip("-").isdigit() for c in clips)
    clip_key = [int(c) for c in clips] if numeric else clips
    rows = sorted(range(n_all), key=lambda i: (groups[i], clip_key[i], ids_all[i]))
    rows_arr = np.array(rows, dtype=np.int64)
    groups = groups[rows_arr].astype(str)
    order = np.zeros(n_all, dtype=np.int64)
    for i in range(1, n_all):
        order[i] = order[i - 1] + 1 if groups[i] == groups[i - 1] else 0
    utt_ids = np.array(ids_all, dtype=object)[rows_arr].astype(str)
    y_all = np.concatenate(labels)[rows_arr]
    features = {m: np.concatenate(feats[m])[rows_arr] for m in MODALITIES}
    available = np.stack([np.concatenate(avail[m])[rows_arr] for m in MODALITIES], axis=1)
    part_arr = part_arr[rows_arr]

    for m in MODALITIES:
        if fixed_nonfinite[m]:
            log.info("%s: %d non-finite %s values (e.g. -inf) set to 0", path, fixed_nonfinite[m], MODALITY_NAMES[m])
        if m in dropped:
            log.info("%s: %s dropped (drop option): unavailable for every utterance", path, MODALITY_NAMES[m])
        elif (~available[:, MODALITIES.index(m)]).any():
            log.info(
                "%s: %s has no valid frame for %d of %d utterances (unavailable there)",
                path,
                MODALITY_NAMES[m],
                int((~available[:, MODALITIES.index(m)]).sum()),
                n_all,
            )

    if task == "classification":
        y_int = y_all.astype(np.int64)
        n_classes = int(y_int.max()) + 1
        class_names = CLASS_NAMES_3 if n_classes == 3 else [str(i) for i in range(n_classes)]
        y_out: np.ndarray = y_int
        range_out = None
    else:
        class_names, y_out, range_out = None, y_all.astype(np.float32), lr
    fold = Split("standard", *(np.flatnonzero(part_arr == p) for p in PARTS))
    meta: dict[str, Any] = {
        "source": str(path),
        "pickle": str(path),
        "pooling": pooling,
        "text_key": text_key,
        "dropped": sorted(dropped),
        "aligned": aligned_name,
        "availability": {m: int(available[:, j].sum()) for j, m in enumerate(MODALITIES)},
    }
    if uni:
        meta["unimodal_labels"] = {
            s: np.concatenate(v)[rows_arr].tolist() for s, v in uni.items() if len(np.concatenate(v)) == n_all
        }
    return MultimodalDataset(
        name=name or f"mmsa-{corpus_name(path)}",
        task=cast(Task, task),  # checked above
        features=features,
        available=available,
        labels=y_out,
        groups=groups,
        order=order,
        utt_ids=utt_ids,
        folds=[fold],
        class_names=class_names,
        label_range=range_out,
        meta=meta,
    )


@register_dataset("mmsa", loader=load_mmsa)
def _mmsa(root: str | Path | None = None, path: str | Path | None = None, **kw: Any) -> MultimodalDataset:
    if root is not None and path is not None and Path(root) != Path(path):
        raise ValueError("mmsa: give the pickle as root or path=, not both")
    file = path if path is not None else root
    if file is None:
        raise ValueError("mmsa needs --root: the MMSA pickle (e.g. unaligned_50.pkl) or its folder")
    return load_mmsa(file, **kw)
