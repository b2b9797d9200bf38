"""Paired statistics over seeds: methods compared on the same split with the same seeds."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from hardymer.errors import DataError

#: below this many paired seeds a report says so next to the interval
MIN_SEEDS = 5


@dataclass(frozen=True)
class PairedDifference:
    """Per-seed differences ``a - b``, their mean and a two-sided Student-t interval.

    ``ci_low``/``ci_high`` are ``None`` for fewer than two pairs; ``excludes_zero`` is then False.
    """

    diffs: list[float]
    mean: float
    ci_low: float | None
    ci_high: float | None
    n: int
    level: float
    excludes_zero: bool

    @property
    def few_seeds(self) -> bool:
        """True when fewer than :data:`MIN_SEEDS` pairs back the interval."""
        return self.n < MIN_SEEDS

    def to_dict(self) -> dict:
        return {**asdict(self), "few_seeds": self.few_seeds}


def paired_differences(values_a: Sequence[float], values_b: Sequence[float], level: float = 0.95) -> PairedDifference:
    """Paired differences ``a[i] - b[i]`` (same seed ``i``): mean and the ``level`` t interval
    ``mean ± t.ppf((1 + level) / 2, n - 1) * sd / sqrt(n)`` (sample sd, ddof 1)."""
    a = np.asarray(values_a, dtype=float)
    b = np.asarray(values_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise DataError(f"paired values need two equal-length 1-d sequences, got shapes {a.shape} and {b.shape}")
    if a.size == 0:
        raise DataError("paired values: no pairs")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("paired values contain NaN or inf")
    if not 0.0 < level < 1.0:
        raise DataError(f"confidence level must be in (0, 1), got {level}")
    d = a - b
    n = int(d.size)
    mean = float(d.mean())
    if n < 2:
        return PairedDifference(d.tolist(), mean, None, None, n, level, False)
    half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1) * d.std(ddof=1) / math.sqrt(n))
    lo, hi = mean - half, mean + half
    return PairedDifference(d.tolist(), mean, lo, hi, n, level, bool(lo > 0.0 or hi < 0.0))
