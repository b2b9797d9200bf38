"""Generated MMSA feature pickles with the real layout and shapes (no real data involved).

Shapes follow the MMSA releases: CMU-MOSI unaligned_50.pkl has text [N, 50, 768] (BERT),
text_bert [N, 3, 50], audio [N, 375, 5] (COVAREP), vision [N, 500, 20] (Facet), with
``audio_lengths`` / ``vision_lengths``; aligned_50.pkl has 50 steps for every modality.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

MOSI_UNALIGNED = {"text": (50, 768), "audio": (375, 5), "vision": (500, 20)}
MOSI_ALIGNED = {"text": (50, 768), "audio": (50, 5), "vision": (50, 20)}


def make_part(
    rng: np.random.Generator,
    videos: list[str],
    clips: int,
    shapes: dict[str, tuple[int, int]],
    aligned: bool,
    sims: bool = False,
) -> dict:
    """One of train/valid/test: ``clips`` clips per video, ids ``video$_$clip`` (clip numbers 1..clips,
    stored in shuffled order), padding after the valid frames."""
    ids = [f"{v}$_${c}" for v in videos for c in range(1, clips + 1)]
    perm = rng.permutation(len(ids))
    ids = [ids[i] for i in perm]
    n = len(ids)
    L = shapes["text"][0]
    tokens = rng.integers(3, L + 1, size=n)  # [CLS] w1 .. [SEP]
    text_bert = np.zeros((n, 3, L), dtype=np.float32)
    for i, k in enumerate(tokens):
        text_bert[i, 0, :k] = rng.integers(100, 30000, size=k)
        text_bert[i, 1, :k] = 1
    out: dict = {
        "id": np.array(ids, dtype=object),
        "raw_text": np.array([f"words of {u}" for u in ids], dtype=object),
        "text_bert": text_bert,
    }
    lengths = {}
    for key, (T, d) in shapes.items():
        x = np.zeros((n, T, d), dtype=np.float32)
        lens = tokens if (aligned or key == "text") else rng.integers(1, T + 1, size=n)
        for i, k in enumerate(lens):
            x[i, :k] = rng.normal(size=(k, d)).astype(np.float32) + 0.1
        out[key] = x
        lengths[key] = lens
    if not aligned:
        out["audio_lengths"] = lengths["audio"].astype(np.int64)
        out["vision_lengths"] = lengths["vision"].astype(np.int64)
    hi = 1.0 if sims else 3.0
    y = np.round(rng.uniform(-hi, hi, size=n), 1).astype(np.float32)
    out["regression_labels"] = y
    out["classification_labels"] = np.where(y < 0, 0, np.where(y == 0, 1, 2)).astype(np.float32)
    out["annotations"] = np.array(["Negative" if v < 0 else "Positive" for v in y], dtype=object)
    if sims:
        for s in "TAV":
            out[f"regression_labels_{s}"] = np.round(rng.uniform(-1, 1, size=n), 1).astype(np.float32)
    return out


def make_mmsa(aligned: bool = False, seed: int = 0, videos: int = 6, clips: int = 3, sims: bool = False) -> dict:
    """The whole pickle dict: videos split 4:1:1 into train/valid/test (at least one each)."""
    rng = np.random.default_rng(seed)
    shapes = MOSI_ALIGNED if aligned else MOSI_UNALIGNED
    names = [f"vid{i:03d}x" for i in range(videos)]
    n_val = max(1, videos // 6)
    parts = {
        "train": names[: videos - 2 * n_val],
        "valid": names[videos - 2 * n_val : videos - n_val],
        "test": names[videos - n_val :],
    }
    return {p: make_part(rng, v, clips, shapes, aligned, sims) for p, v in parts.items()}


def write_mmsa(path: Path, data: dict | None = None, **kw) -> Path:
    """Pickle ``data`` (default ``make_mmsa(**kw)``) to ``path`` as MMSA does (protocol 4)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data if data is not None else make_mmsa(**kw), f, protocol=4)
    return path
