"""Missing-modality masks of the random missing-rate protocol.

Each (utterance, modality) entry is missing with rate ``r``; a mask row holds 1 for a kept modality.
Two generators:

- ``independent``: every entry is missing independently with probability ``r``; a row that would
  keep nothing is redrawn, so every utterance keeps at least one modality (the realised missing
  rate is therefore slightly below ``r`` for large ``r``).
- ``cpm``: the generator of CPM-Net that GCNet uses (``random_mask(view_num, N, r)``), following its
  algorithm step for step with a numpy ``Generator``: for ``1 - r <= 1/3`` (which includes
  r = 0.7) each row keeps **exactly one** modality (2/3 missing, not 0.7); for r = 0 nothing is
  missing; otherwise one guaranteed modality per row plus extra ones at a rate corrected so that
  the kept fraction is within 0.005 of ``1 - r`` (redrawn until it is; where a small part makes
  that impossible, after :data:`CPM_MAX_DRAWS` draws the closest draw is used, with a warning,
  where the release would loop forever).

Validation and test masks are drawn once per (dataset, fold, part, rate, generator, mask seed) by
:func:`eval_mask`, never from a method's or a run's seed, so every method and seed sees the same
inputs.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np

log = logging.getLogger(__name__)

MASK_KINDS = ("independent", "cpm")
#: draws ``cpm`` makes before it settles for the closest one (the release has no bound)
CPM_MAX_DRAWS = 200
#: the largest missing rate the field uses (GCNet asserts r <= 0.7 with three modalities)
MAX_RATE = 0.7


def check_rate(rate: float) -> float:
    """``rate`` as a float in [0, 0.7]; ``ValueError`` naming the option otherwise."""
    r = float(rate)
    if not np.isfinite(r) or not 0.0 <= r <= MAX_RATE + 1e-9:
        raise ValueError(f"missing_rate must be in [0, {MAX_RATE}], got {rate!r}")
    return r


#: the missing rates of the field's random-rate sweep (GCNet, MPLMM, CIDer): 0, 0.1, ..., 0.7
SWEEP_RATES: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(8))


def parse_rates(spec: str | float | int) -> list[float]:
    """``"0.3"``, ``"0,0.1,0.5"`` or ``"sweep"`` (0, 0.1, ..., 0.7) -> sorted distinct rates, each
    checked by :func:`check_rate`; ``ValueError`` naming the bad part otherwise."""
    text = str(spec).strip().lower()
    if text == "sweep":
        return list(SWEEP_RATES)
    out: list[float] = []
    for part in text.split(","):
        part = part.strip()
        try:
            r = float(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a missing rate (a number in [0, 0.7], a list or 'sweep')") from None
        try:
            r = round(check_rate(r), 4)
        except ValueError:
            raise ValueError(f"missing rate {part} is outside [0, {MAX_RATE}]") from None
        if r not in out:
            out.append(r)
    if not out:
        raise ValueError("no missing rate given")
    return sorted(out)


def independent_mask(n: int, rate: float, rng: np.random.Generator, n_modalities: int = 3) -> np.ndarray:
    """``[n, n_modalities]`` uint8 keep-mask: each entry kept with probability ``1 - rate``; rows
    that keep nothing are redrawn."""
    r = check_rate(rate)
    out = (rng.random((n, n_modalities)) >= r).astype(np.uint8)
    empty = out.sum(1) == 0
    while empty.any():
        out[empty] = (rng.random((int(empty.sum()), n_modalities)) >= r).astype(np.uint8)
        empty = out.sum(1) == 0
    return out


def _one_hot(idx: np.ndarray, n_modalities: int) -> np.ndarray:
    out = np.zeros((len(idx), n_modalities), dtype=np.int64)
    out[np.arange(len(idx)), idx] = 1
    return out


def cpm_mask(n: int, rate: float, rng: np.random.Generator, n_modalities: int = 3, warn: bool = True) -> np.ndarray:
    """``[n, n_modalities]`` uint8 keep-mask drawn with CPM-Net's ``random_mask`` algorithm (``warn``:
    log when the closest of :data:`CPM_MAX_DRAWS` draws is used)."""
    r = check_rate(rate)
    one_rate = 1.0 - r
    if one_rate <= 1.0 / n_modalities:
        return _one_hot(rng.integers(0, n_modalities, size=n), n_modalities).astype(np.uint8)
    if one_rate == 1.0:
        return np.ones((n, n_modalities), dtype=np.uint8)
    best: np.ndarray | None = None
    best_gap = np.inf
    for _ in range(CPM_MAX_DRAWS):
        preserve = _one_hot(rng.integers(0, n_modalities, size=n), n_modalities)
        one_num = n_modalities * n * one_rate - n
        ratio = one_num / (n_modalities * n)
        it = (rng.integers(0, 100, size=(n, n_modalities)) < int(ratio * 100)).astype(np.int64)
        a = np.sum(((it + preserve) > 1).astype(np.int64))
        one_num_iter = one_num / (1 - a / one_num)
        ratio = one_num_iter / (n_modalities * n)
        it = (rng.integers(0, 100, size=(n, n_modalities)) < int(ratio * 100)).astype(np.int64)
        matrix = ((it + preserve) > 0).astype(np.int64)
        kept = np.sum(matrix) / (n_modalities * n)
        if abs(one_rate - kept) < 0.005:
            return matrix.astype(np.uint8)
        if abs(one_rate - kept) < best_gap:
            best, best_gap = matrix, abs(one_rate - kept)
    # the release loops forever where no draw can land within 0.005 (a small part: the kept fraction
    # moves in steps of 1 / (3n)); we stop after CPM_MAX_DRAWS draws with the closest one
    assert best is not None
    (log.warning if warn else log.debug)(
        "cpm mask: no draw of %d rows at rate %.2f kept within 0.005 of %.3f after %d draws; using the "
        "closest (kept %.3f)",
        n,
        r,
        one_rate,
        CPM_MAX_DRAWS,
        float(best.mean()),
    )
    return best.astype(np.uint8)


def draw_mask(kind: str, n: int, rate: float, rng: np.random.Generator, warn: bool = True) -> np.ndarray:
    """A keep-mask ``[n, 3]`` from the named generator (``independent`` or ``cpm``; ``warn``: see
    :func:`cpm_mask`)."""
    if kind == "independent":
        return independent_mask(n, rate, rng)
    if kind == "cpm":
        return cpm_mask(n, rate, rng, warn=warn)
    raise ValueError(f"unknown mask {kind!r}; use {', '.join(MASK_KINDS)}")


def eval_mask_seed(dataset: str, fold: str, part: str, rate: float, kind: str, mask_seed: int) -> int:
    """The seed of one stored evaluation mask: a hash of what identifies it, and nothing of the
    method or the run (so every method and seed draws the same mask)."""
    key = f"{dataset}|{fold}|{part}|{check_rate(rate):.4f}|{kind}|{int(mask_seed)}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")


def eval_mask(
    dataset: str, fold: str, part: str, n: int, rate: float, kind: str = "independent", mask_seed: int = 0
) -> np.ndarray:
    """The fixed keep-mask ``[n, 3]`` of a validation or test part under the random protocol."""
    rng = np.random.default_rng(eval_mask_seed(dataset, fold, part, rate, kind, mask_seed))
    return draw_mask(kind, n, rate, rng)


def mask_digest(mask: np.ndarray) -> str:
    """A short sha256 of a mask (recorded with results, so two runs can show they saw the same inputs)."""
    return hashlib.sha256(np.ascontiguousarray(mask, dtype=np.uint8).tobytes()).hexdigest()[:16]
