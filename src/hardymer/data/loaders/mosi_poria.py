"""``mosi-poria``: real CMU-MOSI in the original CSV layout of Poria et al. (ACL 2017, bc-LSTM).

Features: openSMILE audio (73-d), CNN text (100-d), 3D-CNN video (100-d). Continuous sentiment
scores in [-3, 3] come from the GCNet label pickle ``CMUMOSI_features_raw_2way.pkl`` (also the
source of each video's utterance order). ``text_features=FILE.npz`` replaces the CNN text features
by another per-utterance set (e.g. MiniLM from ``hardymer extract``).

Split (the only honest one for these features, see the README, section Datasets): train = Poria-train
(62 videos, 1447 utterances). Text and video features were learned with the labels of all of
Poria-train, so validation is NOT carved from it: validation = 10 of the 31 Poria-test videos,
``numpy.random.default_rng(0).choice(sorted(test_video_ids), 10, replace=False)``; test = the
other 21 videos.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hardymer.data._csv import read_matrix, read_rows
from hardymer.data._unpickle import safe_load_pickle
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.data.registry import register_dataset
from hardymer.errors import DataError

LABEL_PICKLE = "CMUMOSI_features_raw_2way.pkl"
DIMS = {"a": 73, "t": 100, "v": 100}
FEATURE_FILES = {"a": "audio/audio_{part}0.csv", "t": "text/text_{part}0.csv", "v": "video/video_{part}0.csv"}


def _default_labels(root: Path) -> Path:
    for cand in (root / LABEL_PICKLE, root.parent / "gcnet-labels" / LABEL_PICKLE):
        if cand.is_file():
            return cand
    raise DataError(
        f"continuous labels not found: looked for {LABEL_PICKLE} in {root} and {root.parent / 'gcnet-labels'}; "
        "pass labels=PATH",
        source=str(root),
    )


def load_mosi_labels(path: Path) -> tuple[dict[str, float], dict[str, str], dict[str, int]]:
    """Scores, video id and position in the video for each utterance id, from the GCNet pickle."""
    obj = safe_load_pickle(path)
    if not isinstance(obj, (list, tuple)) or len(obj) != 7:
        raise DataError(
            "expected a list [videoIDs, videoLabels, videoSpeakers, videoSentences, train, val, test]", source=str(path)
        )
    video_ids, video_labels = obj[0], obj[1]
    for fname, part in (("videoIDs", video_ids), ("videoLabels", video_labels)):
        if not isinstance(part, dict):
            raise DataError(
                f"expected a dict keyed by video id, got {type(part).__name__}", source=str(path), field=fname
            )
    score: dict[str, float] = {}
    video: dict[str, str] = {}
    pos: dict[str, int] = {}
    for vid, utts in video_ids.items():
        labs = video_labels.get(vid)
        if not hasattr(utts, "__len__") or isinstance(utts, str):
            raise DataError(
                f"video {vid!r}: expected a list of utterance ids, got {type(utts).__name__}",
                source=str(path),
                field="videoIDs",
            )
        if labs is not None and (not hasattr(labs, "__len__") or isinstance(labs, str)):
            raise DataError(
                f"video {vid!r}: expected a list of scores, got {type(labs).__name__}",
                source=str(path),
                field="videoLabels",
            )
        if labs is None or len(labs) != len(utts):
            raise DataError(
                f"video {vid!r}: {len(utts)} ids but labels {None if labs is None else len(labs)}",
                source=str(path),
                field="videoLabels",
            )
        for k, (u, y) in enumerate(zip(utts, labs)):
            try:
                v = float(y)
            except (TypeError, ValueError):
                raise DataError(
                    f"score {y!r} of utterance {u!r} (video {vid!r}) is not a number",
                    source=str(path),
                    field="videoLabels",
                ) from None
            if not -3.0 <= v <= 3.0:  # also false for NaN
                raise DataError(
                    f"score {v} of utterance {u!r} (video {vid!r}) outside [-3, 3]",
                    source=str(path),
                    field="videoLabels",
                )
            score[str(u)] = v
            video[str(u)] = str(vid)
            pos[str(u)] = k
    return score, video, pos


def load_text_features(path: str | Path, utts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of an ``.npz`` with ``utt_ids`` [M] and ``text`` [M, d] (optional ``mask_text``), e.g. written
    by ``hardymer extract``, in the order of ``utts``; every utterance must be present.

    Returns ``(features [N, d] float32, available [N] bool)``.
    """
    from hardymer.data.loaders.npz import open_npz

    path = Path(path)
    try:
        with open_npz(path) as npz:
            missing_keys = [k for k in ("utt_ids", "text") if k not in npz.files]
            if missing_keys:
                raise DataError(
                    f"required array is missing (has: {sorted(npz.files)})", source=str(path), field=missing_keys[0]
                )
            ids = npz["utt_ids"]
            x = npz["text"]
            mask = npz["mask_text"] if "mask_text" in npz.files else None
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"not a readable .npz ({type(exc).__name__}: {exc})", source=str(path)) from exc
    if ids.dtype.kind not in "US" or ids.ndim != 1:
        raise DataError(
            f"expected strings [M], got dtype {ids.dtype} shape {ids.shape}", source=str(path), field="utt_ids"
        )
    ids = (np.char.decode(ids, "utf-8") if ids.dtype.kind == "S" else ids).astype(str)
    if x.ndim != 2 or x.shape[0] != ids.shape[0] or x.dtype.kind not in "biuf":
        raise DataError(
            f"expected numbers [{ids.shape[0]}, d], got dtype {x.dtype} shape {x.shape}", source=str(path), field="text"
        )
    if mask is None:
        mask = np.ones(ids.shape[0], dtype=bool)
    elif mask.shape != ids.shape or not np.isin(mask, (0, 1)).all():
        raise DataError(f"expected 0/1 values of shape {ids.shape}", source=str(path), field="mask_text")
    row = {u: i for i, u in enumerate(ids.tolist())}
    if len(row) != len(ids):
        raise DataError("utterance ids are not unique", source=str(path), field="utt_ids")
    missing = [u for u in utts if u not in row]
    if missing:
        raise DataError(
            f"{len(missing)} of the {len(utts)} mosi-poria utterances are missing (first {missing[0]!r})",
            source=str(path),
            field="utt_ids",
        )
    take = np.array([row[u] for u in utts], dtype=np.int64)
    feats = x[take].astype(np.float32)
    avail = mask[take].astype(bool)
    bad = avail & ~np.isfinite(feats).all(axis=1)
    if bad.any():
        raise DataError(
            f"NaN/inf features for {int(bad.sum())} available utterances (first {utts[int(np.flatnonzero(bad)[0])]!r})",
            source=str(path),
            field="text",
        )
    feats[~avail] = 0.0
    return feats, avail


def load_mosi_poria(
    root: str | Path,
    labels: str | Path | None = None,
    n_val_videos: int = 10,
    val_seed: int = 0,
    text_features: str | Path | None = None,
) -> MultimodalDataset:
    """Load real CMU-MOSI from Poria's CSV layout (see module docstring).

    ``text_features``: an ``.npz`` with ``utt_ids`` and ``text`` (and optional ``mask_text``), e.g. the
    MiniLM features of ``hardymer extract``, that replaces Poria's CNN text features (matched by
    utterance id; every utterance must be present).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("dataset folder not found", source=str(root))
    label_path = Path(labels) if labels is not None else _default_labels(root)
    score, video, pos = load_mosi_labels(label_path)

    transcripts = read_rows(root / "transcripts.csv")
    utt_of_row = [r[0] for r in transcripts]
    feats: dict[str, list[np.ndarray]] = {m: [] for m in DIMS}
    utts: list[str] = []
    binary: list[np.ndarray] = []
    part_of: list[str] = []
    for part in ("train", "test"):
        index_path = root / f"text_{part}.csv"
        index = read_matrix(index_path, field="row index")[:, 0]
        if np.any(index != np.round(index)) or index.min() < 0 or index.max() >= len(utt_of_row):
            raise DataError(
                "column 0 must hold row indices into transcripts.csv", source=str(index_path), field="row index"
            )
        rows = [utt_of_row[int(i)] for i in index]
        for m, pattern in FEATURE_FILES.items():
            p = root / pattern.format(part=part)
            mat = read_matrix(p, field=f"features.{m}")
            if mat.shape[0] != len(rows):
                raise DataError(f"{mat.shape[0]} rows, expected {len(rows)} (as {index_path.name})", source=str(p))
            if mat.shape[1] != DIMS[m] + 1:
                raise DataError(
                    f"{mat.shape[1] - 1} feature columns, expected {DIMS[m]}", source=str(p), field=f"features.{m}"
                )
            if not np.isfinite(mat).all():
                raise DataError("NaN/inf values", source=str(p), field=f"features.{m}")
            feats[m].append(mat[:, :-1].astype(np.float32))
            if m == "a":
                binary.append(mat[:, -1])
        utts += rows
        part_of += [part] * len(rows)

    missing = [u for u in utts if u not in score]
    if missing:
        raise DataError(f"{len(missing)} utterances have no label (first {missing[0]!r})", source=str(label_path))
    y = np.array([score[u] for u in utts], dtype=np.float32)
    b = np.concatenate(binary)
    bad = (y >= 0).astype(int) != b.astype(int)
    if bad.any():
        raise DataError(
            f"binary label disagrees with the continuous score of {label_path} (videoLabels) for "
            f"{int(bad.sum())} utterances (first {utts[int(np.flatnonzero(bad)[0])]!r})",
            source=str(root / "audio"),
            field="label",
        )
    groups = np.array([video[u] for u in utts])
    order = np.array([pos[u] for u in utts], dtype=np.int64)
    part_arr = np.array(part_of)
    train = np.flatnonzero(part_arr == "train")
    test_all = np.flatnonzero(part_arr == "test")
    test_videos = sorted(set(groups[test_all].tolist()))
    val_videos = set(np.random.default_rng(val_seed).choice(test_videos, n_val_videos, replace=False).tolist())
    is_val = np.isin(groups[test_all], sorted(val_videos))
    n = len(utts)
    features = {m: np.concatenate(v) for m, v in feats.items()}
    available = np.ones((n, 3), dtype=bool)
    meta_extra: dict = {}
    if text_features is not None:
        features["t"], available[:, 1] = load_text_features(text_features, utts)
        meta_extra["text_features"] = str(text_features)
    return MultimodalDataset(
        name="mosi-poria",
        task="regression",
        features=features,
        available=available,
        labels=y,
        groups=groups,
        order=order,
        utt_ids=np.array(utts),
        folds=[Split("poria", train, test_all[is_val], test_all[~is_val])],
        label_range=(-3.0, 3.0),
        meta={
            "source": str(root),
            "root": str(root),
            "labels": str(label_path),
            "val_videos": sorted(val_videos),
            **meta_extra,
        },
    )


@register_dataset("mosi-poria", loader=load_mosi_poria)
def _mosi_poria(root: str | Path | None = None, **kw: Any) -> MultimodalDataset:
    if root is None:
        raise ValueError("mosi-poria needs --root (the folder holding transcripts.csv), e.g. ../shared/data/mosi-poria")
    return load_mosi_poria(root, **kw)
