"""Aggregating run metrics into mean ± std tables (markdown and rich)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from hardymer.conditions import CONDITIONS
from hardymer.evaluation.metrics import metric_decimals


def per_condition(run: dict, part: str = "test") -> dict[str, dict[str, float]]:
    """``{condition: metrics}`` of one run: a fixed-protocol run has one condition, a unified run
    (condition ``"all"``) stores a metrics dict per condition (plus ``mean``/``mean6``)."""
    vals = run[part]
    if isinstance(next(iter(vals.values())), dict):
        return vals
    return {run["condition"]: vals}


def _summary(values: dict[str, list[float]]) -> dict[str, tuple[float, float, int]]:
    """mean, sample std (ddof=1; 0 for one value) and count per metric."""
    return {k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v)) for k, v in values.items()}


def aggregate(runs: Iterable[dict], part: str = "test") -> dict[tuple[str, str], dict[str, tuple[float, float, int]]]:
    """``{(method, condition): {metric: (mean, std, n_runs)}}`` over seeds/folds (sample std, ddof=1; 0 for one run)."""
    acc: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        for cond, mets in per_condition(r, part).items():
            for k, v in mets.items():
                acc[(r["method"], cond)][k].append(float(v))
    return {key: _summary(mets) for key, mets in acc.items()}


def add_condition_means(agg: dict, runs: Sequence[dict], part: str = "test") -> dict:
    """Add ``mean6`` (mean over the six missing conditions, per seed, then mean ± std over seeds)."""
    per_seed: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for r in runs:
        per_seed[(r["method"], f"{r['seed']}/{r['fold']}")].update(per_condition(r, part))
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (method, _), conds in per_seed.items():
        missing = [c for c in CONDITIONS[:-1] if c in conds]
        if len(missing) != 6:
            continue
        for k in conds[missing[0]]:
            acc[method][k].append(float(np.mean([conds[c][k] for c in missing])))
    for method, mets in acc.items():
        agg[(method, "mean6")] = _summary(mets)
    return agg


def fmt(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std`` with ``digits`` decimals (see :func:`hardymer.evaluation.metrics.metric_decimals`)."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(
    agg: dict,
    metric: str,
    methods: Sequence[str],
    columns: Sequence[str],
    lower_is_better: bool = False,
    digits: int | None = None,
) -> str:
    """Methods as rows, conditions as columns, ``mean ± std``; best per column in bold. ``digits``
    defaults to :func:`hardymer.evaluation.metrics.metric_decimals` of ``metric``."""
    digits = metric_decimals(metric) if digits is None else digits
    header = "| method | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns) + "\n"
    best: dict[str, float] = {}
    for c in columns:
        vals = [agg[(m, c)][metric][0] for m in methods if (m, c) in agg and metric in agg[(m, c)]]
        if vals:
            best[c] = min(vals) if lower_is_better else max(vals)
    lines = []
    for m in methods:
        cells = []
        for c in columns:
            if (m, c) not in agg or metric not in agg[(m, c)]:
                cells.append("–")
                continue
            mu, sd, _ = agg[(m, c)][metric]
            s = fmt(mu, sd, digits)
            cells.append(f"**{s}**" if c in best and np.isclose(mu, best[c]) and len(methods) > 1 else s)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return header + "\n".join(lines) + "\n"
