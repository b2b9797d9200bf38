"""``synthetic``: the built-in default dataset, deterministic from a seed.

Groups of utterances (like dialogues) with a latent emotion per utterance and a group-level
context; three modalities of different dimension and informativeness (text strongest, audio and
video weaker, as in real data). Each utterance draws a per-modality *clarity*: sometimes a
modality carries almost nothing about the label, so that the sample becomes hard exactly when
the informative modality is missing. Classification (4 classes) and regression (scores in
[-3, 3], like CMU-MOSI/MOSEI) variants; sizes from ``tiny`` (tests) to ``mosei`` (~23k utt.).
"""

from __future__ import annotations

import numpy as np

from hardymer.data.dataset import MultimodalDataset, Split

SIZES = {"tiny": 24, "small": 240, "medium": 800, "mosei": 3200}
CLASS_NAMES = ["happy", "sad", "neutral", "angry"]


def make_synthetic(
    seed: int = 0,
    task: str = "classification",
    size: str = "small",
    n_groups: int | None = None,
    mean_len: float = 7.1,
    dims: tuple[int, int, int] = (48, 64, 32),
    strength: tuple[float, float, float] = (0.6, 1.0, 0.45),
    ambiguity: float = 0.3,
    latent_dim: int = 16,
    missing_rate: float = 0.0,
    split: tuple[float, float, float] = (0.7, 0.1, 0.2),
) -> MultimodalDataset:
    """Generate the synthetic dataset.

    Args:
        seed: generator seed (the whole dataset is a function of the arguments).
        task: ``"classification"`` (4 classes) or ``"regression"`` (scores in [-3, 3]).
        size: preset number of groups (``tiny``/``small``/``medium``/``mosei``); ``n_groups`` overrides.
        dims: feature dims of (audio, text, video).
        strength: signal-to-noise of (audio, text, video).
        ambiguity: per (utterance, modality) probability that the modality is uninformative.
        missing_rate: probability that a modality is naturally missing (never all three).
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"synthetic: task must be classification or regression, got {task!r}")
    if n_groups is None:
        if size not in SIZES:
            raise ValueError(f"synthetic: unknown size {size!r}; sizes: {', '.join(SIZES)}")
        n_groups = SIZES[size]
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.poisson(mean_len - 2, n_groups) + 2, 2, 30)
    n = int(lengths.sum())
    gid = np.repeat(np.arange(n_groups), lengths)
    order = np.concatenate([np.arange(k) for k in lengths])

    # group context and group mood: neighbouring utterances share information
    context = rng.normal(size=(n_groups, latent_dim)) * 0.6
    if task == "classification":
        k = len(CLASS_NAMES)
        protos = rng.normal(size=(k, latent_dim))
        protos /= np.linalg.norm(protos, axis=1, keepdims=True) / 1.6
        mood = rng.dirichlet(np.full(k, 0.6), size=n_groups)
        labels = np.array([rng.choice(k, p=mood[g]) for g in gid], dtype=np.int64)
        z = protos[labels]
    else:
        mood = rng.normal(0, 1.2, size=n_groups)
        score = np.clip(rng.normal(mood[gid], 1.1), -3, 3)
        labels = (np.round(score * 5) / 5).astype(np.float32)  # MOSI-like 0.2 grid, some exact zeros
        direction = rng.normal(size=latent_dim)
        direction /= np.linalg.norm(direction)
        z = np.outer(labels / 1.5, direction) + rng.normal(size=(n, latent_dim)) * 0.25
    z = z + context[gid] * 0.5 + rng.normal(size=(n, latent_dim)) * 0.35

    feats = {}
    clarity = np.where(rng.random((n, 3)) < ambiguity, 0.05, 1.0)
    for j, (m, d) in enumerate(zip(("a", "t", "v"), dims)):
        w = rng.normal(size=(latent_dim, d)) / np.sqrt(latent_dim)
        signal = (z * clarity[:, j : j + 1] * strength[j]) @ w
        if m != "t":  # audio and video are non-linear views
            signal = np.tanh(signal * 1.5)
        noise = rng.normal(size=(n, d)) * 0.8
        feats[m] = (signal + noise).astype(np.float32)

    available = np.ones((n, 3), dtype=bool)
    if missing_rate > 0:
        drop = rng.random((n, 3)) < missing_rate
        drop[drop.all(1), 1] = False  # keep text when everything would vanish
        available &= ~drop

    perm = rng.permutation(n_groups)
    n_tr = int(round(split[0] * n_groups))
    n_va = int(round(split[1] * n_groups))
    parts = {"train": perm[:n_tr], "val": perm[n_tr : n_tr + n_va], "test": perm[n_tr + n_va :]}
    idx = {p: np.flatnonzero(np.isin(gid, g)) for p, g in parts.items()}
    groups = np.array([f"g{g:05d}" for g in gid])
    return MultimodalDataset(
        name="synthetic",
        task=task,  # type: ignore[arg-type]
        features=feats,
        available=available,
        labels=labels,
        groups=groups,
        order=order.astype(np.int64),
        utt_ids=np.array([f"g{g:05d}_u{o:03d}" for g, o in zip(gid, order)]),
        folds=[Split("default", idx["train"], idx["val"], idx["test"])],
        class_names=list(CLASS_NAMES) if task == "classification" else None,
        label_range=(-3.0, 3.0) if task == "regression" else None,
        meta={"seed": seed, "size": size, "n_groups": n_groups, "clarity": clarity.astype(np.float32)},
    )
