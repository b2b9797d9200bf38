"""The GCNet / MoMKE / HARDY-MER data format: a label pickle plus one ``.npy`` per utterance.

Layout of ``root``::

    root/
      IEMOCAP_features_raw_4way.pkl          # or _6way / CMUMOSI_ / CMUMOSEI_features_raw_2way.pkl
      features/
        wav2vec-large-c-UTT/<utt_id>.npy     # audio: 1-D [dim] or [frames, dim] (averaged over frames)
        deberta-large-4-UTT/<utt_id>.npy     # text
        manet_UTT/<utt_id>.npy               # video (CMU-MOSI / MOSEI)
        manet_UTT/<utt_id>/compress_F.npy    # video (IEMOCAP): one folder per utterance,
        manet_UTT/<utt_id>/compress_M.npy    #   one face track per speaker

A missing ``.npy`` or an empty one (``[0, dim]``) makes that modality unavailable for that
utterance (mask 0, zero features). A dataset that lacks a modality entirely (say text features
only) names it ``none`` (``--data-opt video_feature=none``): unavailable for every utterance, one
zero column; conditions that need it are refused. For an IEMOCAP video folder, the file of the utterance's
speaker (``videoSpeakers``: ``"M"``/``"F"``) is used; when it is absent or empty, the mean of the
other ``compress_*.npy`` files present; no usable file -> unavailable.

Label pickles (load only through :func:`~hardymer.data._unpickle.safe_load_pickle`):

* IEMOCAP: ``[videoIDs, videoLabels, videoSpeakers, videoSentences, trainVid, testVid]``, dicts
  keyed by dialogue id. Protocol: 5-fold leave-one-session-out (session = 5th character of the
  *dialogue* id). Fold ``session<k>`` tests on session ``k``; its validation dialogues are carved
  from its training sessions with
  ``numpy.random.default_rng(val_seed).choice(sorted(train_dialogues), round(val_fraction * len), replace=False)``.
  The pickle's own train/test lists (session 5 as test) are not used.
* CMU-MOSI / MOSEI: ``[videoIDs, videoLabels, videoSpeakers, videoSentences, trainVid, valVid, testVid]``;
  one fold ``standard`` with the pickle's video lists; sentiment scores in [-3, 3] (regression).

Rows are ordered by sorted group id, then by position in ``videoIDs[group]`` (``order``).
Utterance ids are opaque strings; they are never parsed. A group (dialogue / video) of ``videoIDs``
with no utterances is refused.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hardymer.conditions import MODALITIES, MODALITY_NAMES
from hardymer.data._unpickle import safe_load_pickle
from hardymer.data.dataset import MultimodalDataset, Split, Task
from hardymer.data.registry import register_dataset
from hardymer.errors import ConfigError, DataError

log = logging.getLogger(__name__)

DEFAULT_FEATURES = {"a": "wav2vec-large-c-UTT", "t": "deberta-large-4-UTT", "v": "manet_UTT"}


@dataclass(frozen=True)
class GCNetVariant:
    """What differs between the label pickles of the format."""

    name: str  # dataset name
    pickle: str  # default label pickle file name
    task: Task
    class_names: tuple[str, ...] | None = None
    label_range: tuple[float, float] | None = None

    @property
    def is_iemocap(self) -> bool:
        return self.task == "classification"


VARIANTS: dict[str, GCNetVariant] = {
    "iemocap4": GCNetVariant(
        "iemocap4", "IEMOCAP_features_raw_4way.pkl", "classification", ("happy", "sad", "neutral", "angry")
    ),
    "iemocap6": GCNetVariant(
        "iemocap6",
        "IEMOCAP_features_raw_6way.pkl",
        "classification",
        ("happy", "sad", "neutral", "angry", "excited", "frustrated"),
    ),
    "mosi": GCNetVariant("gcnet-mosi", "CMUMOSI_features_raw_2way.pkl", "regression", None, (-3.0, 3.0)),
    "mosei": GCNetVariant("gcnet-mosei", "CMUMOSEI_features_raw_2way.pkl", "regression", None, (-3.0, 3.0)),
}
_VARIANT_ALIASES = {
    "iemocap-4": "iemocap4",
    "iemocap-6": "iemocap6",
    "gcnet-mosi": "mosi",
    "gcnet-mosei": "mosei",
    "cmumosi": "mosi",
    "cmumosei": "mosei",
}


def _variant(name: str) -> GCNetVariant:
    key = str(name).strip().lower()
    key = _VARIANT_ALIASES.get(key, key)
    if key not in VARIANTS:
        raise ConfigError(f"unknown GCNet variant {name!r}; use one of {', '.join(VARIANTS)}")
    return VARIANTS[key]


def parse_dims(dims: Any) -> dict[str, int] | None:
    """``"512,1024,1024"`` / ``[512, 1024, 1024]`` / ``{"a": 512, ...}`` -> ``{"a": 512, ...}``.

    In a string or sequence an empty entry or ``None`` leaves that modality's dim unchecked.
    """
    if dims is None:
        return None
    if isinstance(dims, Mapping):
        out = {}
        for k, v in dims.items():
            key = {"audio": "a", "text": "t", "video": "v"}.get(str(k), str(k))
            if key not in MODALITIES:
                raise ConfigError(f"dims: unknown modality {k!r}; use a, t, v")
            if v is not None:
                out[key] = int(v)
        return out
    if isinstance(dims, str):
        items: Sequence[Any] = [s.strip() for s in dims.split(",")]
    elif isinstance(dims, (int, np.integer)):
        items = [dims]
    else:
        items = list(dims)
    if len(items) != len(MODALITIES):
        raise ConfigError(f"dims must give {len(MODALITIES)} values (audio,text,video), got {dims!r}")
    out = {}
    for m, v in zip(MODALITIES, items):
        if v is None or v == "":
            continue
        try:
            d = int(v)
        except (TypeError, ValueError):
            raise ConfigError(f"dims: {v!r} is not an integer (in {dims!r})") from None
        if d <= 0:
            raise ConfigError(f"dims must be positive, got {dims!r}")
        out[m] = d
    return out


# ---------------------------------------------------------------------------------- label pickle
@dataclass
class _Labels:
    groups: list[str]  # sorted group ids
    utts: dict[str, list[str]]
    labels: dict[str, list[Any]]
    speakers: dict[str, list[str]]
    lists: list[set[str]]  # trainVid, (valVid,) testVid


def _read_pickle(path: Path, variant: GCNetVariant) -> _Labels:
    obj = safe_load_pickle(path)
    n_expected = 6 if variant.is_iemocap else 7
    layout = (
        "[videoIDs, videoLabels, videoSpeakers, videoSentences, trainVid, testVid]"
        if variant.is_iemocap
        else "[videoIDs, videoLabels, videoSpeakers, videoSentences, trainVid, valVid, testVid]"
    )
    if not isinstance(obj, (list, tuple)) or len(obj) != n_expected:
        got = f"a {type(obj).__name__}" + (f" of length {len(obj)}" if isinstance(obj, (list, tuple)) else "")
        raise DataError(f"expected a list {layout} for variant {variant.name!r}, got {got}", source=str(path))
    names = ("videoIDs", "videoLabels", "videoSpeakers")
    for i, fname in enumerate(names):
        if not isinstance(obj[i], Mapping):
            raise DataError(
                f"expected a dict keyed by group id, got {type(obj[i]).__name__}", source=str(path), field=fname
            )
    list_names = ("trainVid", "testVid") if variant.is_iemocap else ("trainVid", "valVid", "testVid")
    lists: list[set[str]] = []
    for i, fname in enumerate(list_names, start=4):
        if not isinstance(obj[i], (set, frozenset, list, tuple)):
            raise DataError(
                f"expected a collection of group ids, got {type(obj[i]).__name__}", source=str(path), field=fname
            )
        lists.append({str(g) for g in obj[i]})
    video_ids, video_labels, video_speakers = obj[0], obj[1], obj[2]
    utts: dict[str, list[str]] = {}
    labels: dict[str, list[Any]] = {}
    speakers: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for g, ids in video_ids.items():
        gid = str(g)
        if not isinstance(ids, (list, tuple, np.ndarray)):
            raise DataError(f"group {gid!r}: expected a list of utterance ids", source=str(path), field="videoIDs")
        ids = [str(u) for u in ids]
        if not ids:  # a broken pickle: the group has no rows, yet could be drawn as a validation dialogue
            kind = "dialogue" if variant.is_iemocap else "video"
            lists_in = [n for n, lst in zip(list_names, lists) if gid in lst]
            where = f" (listed in {' and '.join(lists_in)})" if lists_in else ""
            raise DataError(f"{kind} {gid!r}{where} has no utterances", source=str(path), field="videoIDs")
        for u in ids:
            if u in seen:
                raise DataError(
                    f"utterance id {u!r} appears in groups {seen[u]!r} and {gid!r}", source=str(path), field="videoIDs"
                )
            seen[u] = gid
        for fname, store, src in (("videoLabels", labels, video_labels), ("videoSpeakers", speakers, video_speakers)):
            vals = src.get(g)
            if vals is None or len(vals) != len(ids):
                raise DataError(
                    f"group {gid!r}: {len(ids)} utterance ids but {'no entry' if vals is None else len(vals)} values",
                    source=str(path),
                    field=fname,
                )
            store[gid] = list(vals)
        speakers[gid] = [str(s) for s in speakers[gid]]
        utts[gid] = ids
    all_groups = set(utts)
    listed = set().union(*lists)
    unknown = sorted(listed - all_groups)
    if unknown:
        raise DataError(
            f"{len(unknown)} listed groups are not in videoIDs (first {unknown[0]!r})",
            source=str(path),
            field="/".join(list_names),
        )
    if variant.is_iemocap:
        groups = sorted(all_groups)
        if listed != all_groups:
            log.warning(
                "%s: %d dialogues of videoIDs are in neither trainVid nor testVid; they are used anyway "
                "(folds are leave-one-session-out)",
                path,
                len(all_groups - listed),
            )
    else:
        for i in range(len(lists)):
            for j in range(i + 1, len(lists)):
                both = lists[i] & lists[j]
                if both:
                    raise DataError(
                        f"group {sorted(both)[0]!r} is in both {list_names[i]} and {list_names[j]}",
                        source=str(path),
                        field=list_names[j],
                    )
        groups = sorted(listed)
        if all_groups - listed:
            log.warning(
                "%s: %d videos of videoIDs are in no split list; they are left out", path, len(all_groups - listed)
            )
    return _Labels(groups, utts, labels, speakers, lists)


def _check_labels(raw: _Labels, variant: GCNetVariant, path: Path) -> np.ndarray:
    out: list[float] = []  # class ids (int) or scores
    for g in raw.groups:
        for u, y in zip(raw.utts[g], raw.labels[g]):
            if variant.task == "classification":
                k = len(variant.class_names or ())
                ok = isinstance(y, (int, np.integer)) and not isinstance(y, (bool, np.bool_))
                if not ok and isinstance(y, (float, np.floating)) and float(y).is_integer():
                    ok, y = True, int(y)
                if not ok:
                    raise DataError(
                        f"label {y!r} of utterance {u!r} (group {g!r}) is not an integer class id",
                        source=str(path),
                        field="videoLabels",
                    )
                if not 0 <= int(y) < k:
                    raise DataError(
                        f"label {int(y)} of utterance {u!r} (group {g!r}) out of range 0..{k - 1} for {variant.name}",
                        source=str(path),
                        field="videoLabels",
                    )
                out.append(int(y))
            else:
                try:
                    v = float(y)
                except (TypeError, ValueError):
                    raise DataError(
                        f"label {y!r} of utterance {u!r} (group {g!r}) is not a number",
                        source=str(path),
                        field="videoLabels",
                    ) from None
                lo, hi = variant.label_range or (-np.inf, np.inf)
                if not np.isfinite(v) or not lo <= v <= hi:
                    raise DataError(
                        f"label {v} of utterance {u!r} (group {g!r}) outside [{lo}, {hi}]",
                        source=str(path),
                        field="videoLabels",
                    )
                out.append(v)
    return np.array(out, dtype=np.int64 if variant.task == "classification" else np.float32)


# ---------------------------------------------------------------------------------- features
def _read_npy(path: Path, field: str) -> np.ndarray | None:
    """One feature vector from a ``.npy`` (frames averaged); ``None`` when empty."""
    try:
        x = np.load(path, allow_pickle=False)
    except Exception as exc:  # corrupt, truncated, object array, not a .npy
        raise DataError(
            f"not a readable .npy of numbers ({type(exc).__name__}: {exc})", source=str(path), field=field
        ) from exc
    if not isinstance(x, np.ndarray):
        raise DataError(f"expected a .npy array, got {type(x).__name__}", source=str(path), field=field)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise DataError(f"expected a numeric array, got dtype {x.dtype}", source=str(path), field=field)
    while x.ndim > 2 and x.shape[0] == 1:  # [1, frames, dim] -> [frames, dim]
        x = x[0]
    if x.ndim not in (1, 2):
        raise DataError(f"expected shape [dim] or [frames, dim], got {x.shape}", source=str(path), field=field)
    if x.size == 0:
        return None
    if not np.isfinite(x).all():
        raise DataError("contains NaN/inf values", source=str(path), field=field)
    if x.ndim == 2:
        x = x.astype(np.float64).mean(axis=0)
    return x.astype(np.float32)


def _read_folder(folder: Path, speaker: str, field: str) -> tuple[np.ndarray | None, Path]:
    """IEMOCAP video: the speaker's ``compress_<spk>.npy``, else the mean of the other files present."""
    own = folder / f"compress_{speaker}.npy"
    if speaker and own.is_file():
        x = _read_npy(own, field)
        if x is not None:
            return x, own
    others = sorted(p for p in folder.glob("*.npy") if p != own)
    vecs: list[np.ndarray] = []
    used: Path = folder
    for p in others:
        x = _read_npy(p, field)
        if x is None:
            continue
        if vecs and x.shape != vecs[0].shape:
            raise DataError(f"dim {x.shape[0]} differs from {vecs[0].shape[0]} of {used}", source=str(p), field=field)
        vecs.append(x)
        used = p
    if not vecs:
        return None, folder
    return np.mean(vecs, axis=0).astype(np.float32), used


def _load_modality(
    m: str, folder: Path, utts: list[str], speakers: list[str], dim: int | None, workers: int
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    field = f"features.{m}"

    def one(i: int) -> tuple[np.ndarray | None, Path]:
        p = folder / f"{utts[i]}.npy"
        if p.is_file():
            x, used = _read_npy(p, field), p
        elif (folder / utts[i]).is_dir():
            x, used = _read_folder(folder / utts[i], speakers[i], field)
        else:
            return None, p
        if dim is not None and x is not None and x.shape[0] != dim:  # fail fast on the dims option
            raise DataError(f"feature dim {x.shape[0]}, expected {dim} (dims option)", source=str(used), field=field)
        return x, used

    n = len(utts)
    if workers <= 1:
        results = [one(i) for i in range(n)]
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            results = list(pool.map(one, range(n)))
        finally:  # on the first error, drop the reads not yet started
            pool.shutdown(wait=True, cancel_futures=True)
    ref: Path | None = None
    if dim is None:
        for x, p in results:
            if x is None:
                continue
            if dim is None:
                dim, ref = int(x.shape[0]), p
            elif x.shape[0] != dim:
                raise DataError(f"feature dim {x.shape[0]} differs from dim {dim} of {ref}", source=str(p), field=field)
    avail = np.array([x is not None for x, _ in results], dtype=bool)
    if not avail.any():
        raise DataError(
            f"none of the {n} utterances has a usable feature file (expected e.g. "
            f"{folder / (utts[0] + '.npy')} or a folder {folder / utts[0]}/; a dataset without "
            f"{MODALITY_NAMES[m]}: --data-opt {MODALITY_NAMES[m]}_feature=none)",
            source=str(folder),
            field=field,
        )
    assert dim is not None
    feats = np.zeros((n, dim), dtype=np.float32)
    for i, (x, _) in enumerate(results):
        if x is not None:
            feats[i] = x
    stats = {"available": int(avail.sum()), "missing_or_empty": int(n - avail.sum())}
    return feats, avail, stats


# ---------------------------------------------------------------------------------- folds
def _session(group: str, path: Path) -> int:
    s = group[4:5]
    if not s.isdigit():
        raise DataError(
            f"dialogue id {group!r}: 5th character should be the session digit", source=str(path), field="videoIDs"
        )
    return int(s)


def iemocap_folds(
    groups: np.ndarray, dialogues: Sequence[str], val_fraction: float, val_seed: int, path: Path
) -> tuple[list[Split], dict[str, list[str]]]:
    """Leave-one-session-out folds with validation dialogues carved from the training sessions."""
    session_of = {d: _session(d, path) for d in dialogues}
    sessions = sorted(set(session_of.values()))
    folds, val_meta = [], {}
    for k in sessions:
        test_d = sorted(d for d in dialogues if session_of[d] == k)
        train_d = sorted(d for d in dialogues if session_of[d] != k)
        n_val = int(round(val_fraction * len(train_d)))
        val_d = sorted(np.random.default_rng(val_seed).choice(train_d, n_val, replace=False).tolist()) if n_val else []
        val_set = set(val_d)
        train_d = [d for d in train_d if d not in val_set]
        name = f"session{k}"
        folds.append(
            Split(
                name,
                np.flatnonzero(np.isin(groups, train_d)),
                np.flatnonzero(np.isin(groups, val_d)),
                np.flatnonzero(np.isin(groups, test_d)),
            )
        )
        val_meta[name] = val_d
    return folds, val_meta


# ---------------------------------------------------------------------------------- loader
def load_gcnet(
    root: str | Path,
    variant: str,
    label_pickle: str | Path | None = None,
    audio_feature: str = DEFAULT_FEATURES["a"],
    text_feature: str = DEFAULT_FEATURES["t"],
    video_feature: str = DEFAULT_FEATURES["v"],
    features_dir: str | Path | None = None,
    val_fraction: float = 0.1,
    val_seed: int = 0,
    dims: Any = None,
    workers: int | None = None,
) -> MultimodalDataset:
    """Load a GCNet-format dataset (see the module docstring).

    Args:
        root: folder holding the label pickle and ``features/``.
        variant: ``iemocap4``, ``iemocap6``, ``mosi`` or ``mosei``.
        label_pickle: path of the pickle (default ``root/<variant's pickle name>``).
        audio_feature / text_feature / video_feature: sub-folder names under the features folder;
            ``"none"`` for a modality the dataset lacks (unavailable for every utterance, one zero column).
        features_dir: the features folder (default ``root/features``).
        val_fraction, val_seed: IEMOCAP validation dialogues per fold (ignored for MOSI/MOSEI).
        dims: expected feature dims, e.g. ``"512,1024,1024"`` (audio, text, video); mismatches raise.
        workers: reader threads (default ``min(8, cpu_count + 4)``, helps on network file systems;
            1 = plain loop).
    """
    var = _variant(variant)
    root = Path(root)
    if not root.is_dir():
        raise DataError("dataset folder not found", source=str(root))
    if label_pickle is None:
        pkl = root / var.pickle
    else:
        pkl = Path(label_pickle)
        if not pkl.is_absolute() and not pkl.exists() and (root / pkl).exists():
            pkl = root / pkl
    feat_root = Path(features_dir) if features_dir is not None else root / "features"
    val_fraction, val_seed = float(val_fraction), int(val_seed)
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    want = parse_dims(dims) or {}
    names = {"a": audio_feature, "t": text_feature, "v": video_feature}
    absent = {m for m in MODALITIES if names[m] is None or str(names[m]).strip().lower() in ("none", "")}
    if len(absent) == len(MODALITIES):
        raise ConfigError("gcnet: audio_feature, text_feature and video_feature are all 'none'; keep at least one")
    folders = {m: feat_root / str(names[m]) for m in MODALITIES if m not in absent}

    raw = _read_pickle(pkl, var)
    for m, folder in folders.items():
        if not folder.is_dir():
            present = sorted(p.name for p in feat_root.iterdir() if p.is_dir()) if feat_root.is_dir() else None
            hint = (
                f"; {feat_root} holds: {', '.join(present) or 'no folders'}"
                if present is not None
                else f"; the features folder {feat_root} does not exist either"
            )
            raise DataError(
                f"{MODALITY_NAMES[m]} feature folder not found{hint} (a dataset without "
                f"{MODALITY_NAMES[m]}: --data-opt {MODALITY_NAMES[m]}_feature=none)",
                source=str(folder),
                field=f"features.{m}",
            )
    labels = _check_labels(raw, var, pkl)
    utts = [u for g in raw.groups for u in raw.utts[g]]
    groups = np.array([g for g in raw.groups for _ in raw.utts[g]])
    order = np.concatenate([np.arange(len(raw.utts[g]), dtype=np.int64) for g in raw.groups])
    spk = [s for g in raw.groups for s in raw.speakers[g]]

    t0 = time.perf_counter()
    n_workers = int(workers) if workers is not None else min(8, (os.cpu_count() or 1) + 4)
    features, avail_cols, stats = {}, [], {}
    for m in MODALITIES:
        if m in absent:  # no features at all: one zero column, unavailable everywhere
            log.info(
                "%s: %s absent (%s_feature=none): unavailable for every utterance",
                var.name,
                MODALITY_NAMES[m],
                MODALITY_NAMES[m],
            )
            features[m], stats[m] = (
                np.zeros((len(utts), 1), np.float32),
                {"available": 0, "missing_or_empty": len(utts)},
            )
            avail_cols.append(np.zeros(len(utts), dtype=bool))
            continue
        log.info("%s: reading %d %s features from %s", var.name, len(utts), MODALITY_NAMES[m], folders[m])
        features[m], a, stats[m] = _load_modality(m, folders[m], utts, spk, want.get(m), max(1, n_workers))
        avail_cols.append(a)
        if stats[m]["missing_or_empty"]:
            log.info(
                "%s: %s missing/empty for %d of %d utterances",
                var.name,
                MODALITY_NAMES[m],
                stats[m]["missing_or_empty"],
                len(utts),
            )
    log.info(
        "%s: %d utterances, %d groups, features read in %.1f s",
        var.name,
        len(utts),
        len(raw.groups),
        time.perf_counter() - t0,
    )

    meta: dict[str, Any] = {
        "source": str(pkl),
        "root": str(root),
        "label_pickle": str(pkl),
        "features_dir": str(feat_root),
        "feature_names": {m: (None if m in absent else names[m]) for m in MODALITIES},
        "availability": stats,
        "variant": var.name,
    }
    if var.is_iemocap:
        folds, val_meta = iemocap_folds(groups, raw.groups, val_fraction, val_seed, pkl)
        meta.update(val_fraction=val_fraction, val_seed=val_seed, val_dialogues=val_meta)
    else:
        parts = [np.flatnonzero(np.isin(groups, sorted(lst))) for lst in raw.lists]
        folds = [Split("standard", *parts)]
    speakers = np.array(spk) if any(spk) else None
    return MultimodalDataset(
        name=var.name,
        task=var.task,
        features=features,
        available=np.stack(avail_cols, axis=1),
        labels=labels,
        groups=groups,
        order=order,
        utt_ids=np.array(utts),
        folds=folds,
        class_names=list(var.class_names) if var.class_names else None,
        label_range=var.label_range,
        speakers=speakers,
        meta=meta,
    )


@register_dataset("gcnet", loader=load_gcnet)
def _gcnet(root: str | Path | None = None, variant: str | None = None, **kw: Any) -> MultimodalDataset:
    if variant is None:
        raise ValueError(
            "gcnet needs variant=iemocap4|iemocap6|mosi|mosei (or use the iemocap4, iemocap6, "
            "gcnet-mosi, gcnet-mosei datasets)"
        )
    if root is None:
        raise ValueError("gcnet needs --root (the folder holding the label pickle and features/)")
    return load_gcnet(root, variant, **kw)


def _gcnet_fixed(variant: str) -> Callable[..., MultimodalDataset]:
    def factory(root: str | Path | None = None, **kw: Any) -> MultimodalDataset:
        given = kw.pop("variant", None)
        if given is not None and _variant(given) != _variant(variant):
            raise ValueError(f"this dataset is the GCNet variant {variant!r}; got variant={given!r}")
        if root is None:
            raise ValueError(f"{variant} needs --root (the folder holding the label pickle and features/)")
        return load_gcnet(root, variant, **kw)

    factory.__name__ = f"_gcnet_{variant}"
    return factory


for _name, _variant_name in (
    ("iemocap4", "iemocap4"),
    ("iemocap6", "iemocap6"),
    ("gcnet-mosi", "mosi"),
    ("gcnet-mosei", "mosei"),
):
    register_dataset(_name, loader=load_gcnet)(_gcnet_fixed(_variant_name))
