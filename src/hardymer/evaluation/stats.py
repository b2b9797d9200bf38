"""Paired statistics over seeds: methods compared on the same split with the same seeds.

A :class:`PairedDifference` holds the per-seed differences ``a - b``, their mean, a two-sided
Student-t interval and a Wilcoxon signed-rank p-value. The interval is only given where it can
be estimated; the rule, applied here and nowhere else:

* at least :data:`MIN_PAIRS_FOR_INTERVAL` (3) paired differences,
* not all equal: their range exceeds :data:`SPREAD_RTOL` times their largest magnitude (so that
  differences equal up to floating-point rounding, e.g. ``100·k/N − 100·j/N`` with the same
  ``k − j``, count as equal),
* a finite, non-zero sample standard deviation and a finite interval.

Otherwise ``ci_low``/``ci_high`` are ``None``, ``excludes_zero`` is False (no significance mark
can be printed) and :func:`format_interval` shows ``-4.25 (n=2, no interval)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from hardymer.errors import DataError

#: below this many paired seeds a report says so next to the interval
MIN_SEEDS = 5
#: fewest paired differences for which a t interval (and a significance mark) is given
MIN_PAIRS_FOR_INTERVAL = 3
#: differences whose range is within this fraction of their largest magnitude count as all equal
SPREAD_RTOL = 1e-9
#: largest number of non-zero differences for which the Wilcoxon p-value is exact
WILCOXON_EXACT_MAX = 50


def interval_estimable(diffs: Sequence[float] | np.ndarray) -> bool:
    """Whether a t interval over ``diffs`` is estimable (the rule of this module's docstring)."""
    d = np.asarray(diffs, dtype=float)
    if d.size < MIN_PAIRS_FOR_INTERVAL or not np.isfinite(d).all():
        return False
    if float(np.ptp(d)) <= SPREAD_RTOL * float(np.abs(d).max()):
        return False
    sd = float(d.std(ddof=1))
    return math.isfinite(sd) and sd > 0.0


def wilcoxon_pvalue(diffs: Sequence[float] | np.ndarray) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value of ``diffs`` (zero differences dropped, scipy's
    ``zero_method="wilcox"``); exact for up to :data:`WILCOXON_EXACT_MAX` distinct non-zero
    magnitudes, scipy's ``method="auto"`` otherwise. ``None`` when every difference is zero."""
    d = np.asarray(diffs, dtype=float)
    nz = d[d != 0.0]
    if nz.size == 0:
        return None
    exact = nz.size <= WILCOXON_EXACT_MAX and np.unique(np.abs(nz)).size == nz.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about ties and small samples; the choice is made here
        res = stats.wilcoxon(nz, zero_method="wilcox", alternative="two-sided", method="exact" if exact else "auto")
    p = float(res.pvalue)
    return p if math.isfinite(p) else None


@dataclass(frozen=True)
class PairedDifference:
    """Per-seed differences ``a - b``, their mean, a two-sided Student-t interval (``None`` where not
    estimable, see :func:`interval_estimable`) and the Wilcoxon signed-rank p-value.

    ``excludes_zero`` is True only for an estimable interval that excludes 0.
    """

    diffs: list[float]
    mean: float
    ci_low: float | None
    ci_high: float | None
    n: int
    level: float
    excludes_zero: bool
    wilcoxon_p: float | None = None

    @classmethod
    def from_diffs(cls, diffs: Sequence[float], level: float = 0.95) -> PairedDifference:
        """Mean, the ``level`` t interval ``mean ± t.ppf((1 + level) / 2, n - 1) * sd / sqrt(n)``
        (sample sd, ddof 1) where estimable, and the Wilcoxon p-value of ``diffs``."""
        d = np.asarray(diffs, dtype=float)
        n = int(d.size)
        mean = float(d.mean())
        p = wilcoxon_pvalue(d)
        if not interval_estimable(d):
            return cls(d.tolist(), mean, None, None, n, level, False, p)
        half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1) * d.std(ddof=1) / math.sqrt(n))
        if not math.isfinite(half):
            return cls(d.tolist(), mean, None, None, n, level, False, p)
        lo, hi = mean - half, mean + half
        return cls(d.tolist(), mean, lo, hi, n, level, bool(lo > 0.0 or hi < 0.0), p)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PairedDifference:
        """Back from :meth:`to_dict` output (e.g. stored in a results.json). With the per-seed
        ``diffs`` stored, everything is recomputed from them, so that older files follow the
        current rule; without them the stored numbers are taken as they are."""
        level = float(d.get("level", 0.95))
        if d.get("diffs"):
            return cls.from_diffs(d["diffs"], level)
        return cls(
            [],
            float(d["mean"]),
            d.get("ci_low"),
            d.get("ci_high"),
            int(d["n"]),
            level,
            bool(d.get("excludes_zero", False)) and d.get("ci_low") is not None,
            d.get("wilcoxon_p"),
        )

    @property
    def estimable(self) -> bool:
        """True when the t interval is given (see :func:`interval_estimable`)."""
        return self.ci_low is not None and self.ci_high is not None

    @property
    def few_seeds(self) -> bool:
        """True when fewer than :data:`MIN_SEEDS` pairs back the interval."""
        return self.n < MIN_SEEDS

    def cell(self, digits: int, mark: str = "*") -> str:
        """This difference as a table cell; see :func:`format_interval`."""
        return format_interval(self, digits, mark)

    def to_dict(self) -> dict:
        return {**asdict(self), "estimable": self.estimable, "few_seeds": self.few_seeds}


def format_interval(d: PairedDifference | Mapping[str, Any], digits: int, mark: str = "*") -> str:
    """``+m [+lo, +hi]`` with `` mark`` appended where the interval excludes 0 (``mark=""``: never);
    ``+m (n=2, no interval)`` where the interval is not estimable. ``d`` may be a
    :class:`PairedDifference` or its :meth:`~PairedDifference.to_dict` form."""
    pd = d if isinstance(d, PairedDifference) else PairedDifference.from_dict(d)
    if not pd.estimable:
        return f"{pd.mean:+.{digits}f} (n={pd.n}, no interval)"
    s = f"{pd.mean:+.{digits}f} [{pd.ci_low:+.{digits}f}, {pd.ci_high:+.{digits}f}]"
    return f"{s} {mark}" if mark and pd.excludes_zero else s


def no_interval_note(mark: str = "*") -> str:
    """The sentence a report puts under a difference table where some interval is not estimable."""
    return (
        f"No interval (and no {mark}) where fewer than {MIN_PAIRS_FOR_INTERVAL} seeds are paired or all "
        "per-seed differences are equal."
    )


def paired_differences(values_a: Sequence[float], values_b: Sequence[float], level: float = 0.95) -> PairedDifference:
    """Paired differences ``a[i] - b[i]`` (same seed ``i``): see :meth:`PairedDifference.from_diffs`."""
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
    return PairedDifference.from_diffs(a - b, level)
