"""Combining direct and indirect hardness into h in [0, 1] and the neighbour count k.

s_i = α1·norm(DH)_i + α2·norm(IH)_i with the normalisation over the *training set* (never per
batch). Mappings from s to h:

- ``release``: h = σ(β·s) with min–max-normalised inputs, as the authors' code (h in [0.5, 0.98]
  for β = 4: little room to adapt);
- ``centered``: h = σ(β·(s − median(s)) / IQR(s)): spreads h over (0, 1) around the median;
- ``rank``: h = (rank(s) − 1) / (N − 1), uniform on [0, 1]; tied scores share their average rank,
  so equal scores get equal hardness (e.g. ``atv``, where nothing is missing: every h = 0.5).

k_i = ⌊K·h_i⌋ + 1, capped at K; or, with a neighbour-view ``share``,
:func:`allocate_neighbours` (k_i ∈ {0..K}, monotone in h, mean(k)/(K+1) = share).
"""

from __future__ import annotations

import numpy as np

from hardymer.errors import ConfigError

MAPPINGS = ("release", "centered", "rank")


def minmax(x: np.ndarray) -> np.ndarray:
    """Min–max normalisation to [0, 1] over the given (training) set; constant input -> 0."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


def combine(dh: np.ndarray, ih: np.ndarray, alpha1: float = 0.6, alpha2: float = 0.4) -> np.ndarray:
    """s = α1·minmax(DH) + α2·minmax(IH)."""
    return alpha1 * minmax(dh) + alpha2 * minmax(ih)


def to_hardness(s: np.ndarray, mapping: str = "release", beta: float = 4.0) -> np.ndarray:
    """Map combined scores to hardness in [0, 1] (see module docstring)."""
    s = np.asarray(s, dtype=np.float64)
    if mapping == "release":
        return 1.0 / (1.0 + np.exp(-beta * s))
    if mapping == "centered":
        q1, med, q3 = np.percentile(s, [25, 50, 75])
        scale = q3 - q1 if q3 - q1 > 1e-12 else 1.0
        return 1.0 / (1.0 + np.exp(-beta * (s - med) / scale))
    if mapping == "rank":
        if len(s) < 2:
            return np.full_like(s, 0.5)
        return (average_ranks(s) - 1.0) / (len(s) - 1)
    raise ValueError(f"unknown hardness mapping {mapping!r}; use {', '.join(MAPPINGS)}")


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..N with ties sharing their average rank (scipy's ``rankdata(method="average")``)."""
    x = np.asarray(x)
    sorter = np.argsort(x, kind="mergesort")
    inv = np.empty(sorter.size, dtype=np.intp)
    inv[sorter] = np.arange(sorter.size, dtype=np.intp)
    xs = x[sorter]
    obs = np.r_[True, xs[1:] != xs[:-1]]
    dense = obs.cumsum()[inv]
    count = np.r_[np.nonzero(obs)[0], len(obs)]
    return 0.5 * (count[dense] + count[dense - 1] + 1)


def neighbour_counts(h: np.ndarray, K: int) -> np.ndarray:
    """k_i = ⌊K·h_i⌋ + 1, capped at K (hard samples get more neighbours)."""
    h = np.clip(np.asarray(h, dtype=np.float64), 0.0, 1.0)
    return np.minimum(np.floor(K * h).astype(np.int64) + 1, K)


def allocate_neighbours(h: np.ndarray, K: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """Neighbour counts k_i ∈ {0..K} with mean(k)/(K+1) = ``share`` (total rounded to one neighbour).

    k_i = clip(⌊K·h_i + c⌋, 0, K) with the offset c chosen so that Σk_i = round(share·(K+1)·N):
    each utterance owns K units, unit j granted once c ≥ j − K·h_i; the round(·) cheapest units
    are granted, ties broken towards the harder utterance, then at random (``rng``). Hence k is
    monotone (non-decreasing) in h, and equal h (e.g. ``hardness=fixed``) gives a random mix of
    ⌊share·(K+1)⌋ and ⌈share·(K+1)⌉.
    """
    if K < 1:
        raise ConfigError(f"K must be >= 1, got {K}")
    if not 0.0 <= share <= K / (K + 1) + 1e-12:
        raise ConfigError(f"share must be in [0, K/(K+1)] = [0, {K / (K + 1):.4f}] for K={K}, got {share}")
    h = np.clip(np.asarray(h, dtype=np.float64), 0.0, 1.0)
    n = len(h)
    total = min(int(round(share * (K + 1) * n)), K * n)
    thresholds = (np.arange(1, K + 1)[None, :] - K * h[:, None]).ravel()  # [N·K], unit (i, j) -> row i
    owner = np.repeat(np.arange(n), K)
    order = np.lexsort((rng.random(n)[owner], -h[owner], thresholds))  # last key sorts first
    k = np.zeros(n, dtype=np.int64)
    np.add.at(k, owner[order[:total]], 1)
    return k
