"""Aggregating run metrics into mean ± std tables (markdown and rich)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from hardymer.conditions import AUC_COLUMN, CONDITIONS, area_under_rates, label_rate, ordered_columns
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


def result_columns(agg: Iterable[tuple[str, str]]) -> list[str]:
    """The columns of a results table from the ``(method, column)`` keys of :func:`aggregate`: the
    conditions (or missing-rate labels) in reading order, then ``mean6`` and ``auc`` where present."""
    cols = {c for (_, c) in agg}
    return ordered_columns(cols) + [s for s in ("mean6", AUC_COLUMN) if s in cols]


def grid_rates(runs: Iterable[dict], part: str = "test") -> frozenset[str]:
    """The missing-rate labels (``r0.30``) any of ``runs`` reports: the rates of a random-protocol grid."""
    return frozenset(c for r in runs if r.get(part) for c in per_condition(r, part) if label_rate(c) is not None)


def seed_summaries(conds: dict[str, dict[str, float]], rates: frozenset[str]) -> dict[str, dict[str, float]]:
    """The summary columns of one seed's ``{condition: metrics}``: ``mean6`` (mean over the six missing
    conditions, when all six are there) and ``auc`` (area under metric-over-rate, divided by the span
    of r: :func:`hardymer.conditions.area_under_rates`; when every rate of the grid, ``rates``, is
    there and there are at least two)."""
    out: dict[str, dict[str, float]] = {}
    missing = [c for c in CONDITIONS[:-1] if c in conds]
    if len(missing) == 6:
        out["mean6"] = {k: float(np.mean([conds[c][k] for c in missing])) for k in conds[missing[0]]}
    have = [c for c in conds if label_rate(c) is not None]
    if len(rates) >= 2 and set(have) == set(rates):
        keys = [k for k in conds[have[0]] if all(k in conds[c] for c in have)]
        areas = {k: area_under_rates({c: conds[c][k] for c in have}) for k in keys}
        out[AUC_COLUMN] = {k: float(v) for k, v in areas.items() if v is not None}
    return out


def add_condition_means(agg: dict, runs: Sequence[dict], part: str = "test") -> dict:
    """Add the summary columns of :func:`seed_summaries` (``mean6``; ``auc`` for a random-protocol
    grid): per seed, then mean ± std over seeds."""
    per_seed: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for r in runs:
        per_seed[(r["method"], f"{r['seed']}/{r['fold']}")].update(per_condition(r, part))
    rates = grid_rates(runs, part)
    acc: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (method, _), conds in per_seed.items():
        for col, mets in seed_summaries(conds, rates).items():
            for k, v in mets.items():
                acc[(method, col)][k].append(v)
    for key, values in acc.items():
        agg[key] = _summary(values)
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
