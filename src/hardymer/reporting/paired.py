"""Paired differences against a reference method (same split, same seed), as JSON and markdown.

For every method, condition (and ``mean6``, the per-seed mean over the six missing conditions)
and metric: the per-seed differences ``method - reference``, their mean and a 95 % Student-t
interval over seeds (:func:`hardymer.evaluation.stats.paired_differences`; no interval, and no
mark, where it is not estimable: fewer than three seeds or all differences equal).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from hardymer.conditions import AUC_COLUMN, CONDITIONS, label_rate, ordered_columns
from hardymer.evaluation.metrics import metric_decimals
from hardymer.evaluation.stats import (
    MIN_SEEDS,
    PairedDifference,
    format_interval,
    no_interval_note,
    paired_differences,
)
from hardymer.reporting.tables import grid_rates, per_condition, seed_summaries

#: the metrics a report shows paired-difference tables for
MAIN_METRICS = {"regression": ("acc2", "mae"), "classification": ("wa", "ua")}


def per_seed_values(runs: Sequence[dict], part: str = "test") -> dict[tuple[str, str], dict[str, dict[str, float]]]:
    """``{(method, "seed/fold"): {condition: {metric: value}}}`` with the summary columns of
    :func:`~hardymer.reporting.tables.seed_summaries` (``mean6`` where all six missing conditions are
    present, ``auc`` over a random-protocol grid's rates); ``method`` is the run's bench name when it
    has one."""
    out: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for r in runs:
        key = (r.get("bench_method", r["method"]), f"{r['seed']}/{r['fold']}")
        for cond, mets in per_condition(r, part).items():
            if cond in CONDITIONS or label_rate(cond) is not None:
                out[key][cond] = {k: float(v) for k, v in mets.items()}
    rates = grid_rates(runs, part)
    for conds in out.values():
        conds.update(seed_summaries(conds, rates))
    return dict(out)


def paired_vs_reference(
    runs: Sequence[dict], methods: Sequence[str], reference: str, part: str = "test", level: float = 0.95
) -> dict:
    """JSON-ready paired differences of every method against ``reference``; ``{"reference": ...,
    "skipped": reason}`` when the reference is not among ``methods``."""
    if reference not in methods:
        return {"reference": reference, "skipped": f"reference method {reference!r} is not in this grid"}
    values = per_seed_values(runs, part)
    seeds_of: dict[str, set[str]] = defaultdict(set)
    for m, key in values:
        seeds_of[m].add(key)
    diffs = []
    for m in methods:
        if m == reference:
            continue
        keys = sorted(seeds_of[m] & seeds_of[reference])
        present = {c for k in keys for c in values[(m, k)]}
        for cond in [*ordered_columns(present), "mean6", AUC_COLUMN]:
            ks = [k for k in keys if cond in values[(m, k)] and cond in values[(reference, k)]]
            if not ks:
                continue
            for metric in values[(m, ks[0])][cond]:
                ks_m = [k for k in ks if metric in values[(m, k)][cond] and metric in values[(reference, k)][cond]]
                res = paired_differences(
                    [values[(m, k)][cond][metric] for k in ks_m],
                    [values[(reference, k)][cond][metric] for k in ks_m],
                    level=level,
                )
                diffs.append({"method": m, "condition": cond, "metric": metric, "keys": ks_m, **res.to_dict()})
    return {"reference": reference, "part": part, "level": level, "differences": diffs}


def paired_cell(d: dict | PairedDifference, digits: int) -> str:
    """Markdown cell ``+m [+lo, +hi]``, marked ``\\*`` where the interval excludes 0; ``+m (n=2, no
    interval)`` where it is not estimable (:func:`hardymer.evaluation.stats.format_interval`)."""
    return format_interval(d, digits, "\\*")


def paired_note(diffs: Sequence[dict | PairedDifference], level: float = 0.95) -> str:
    """The sentence under a markdown difference table: interval, seeds, the mark, and what a missing
    interval or few seeds mean."""
    pds = [d if isinstance(d, PairedDifference) else PairedDifference.from_dict(d) for d in diffs]
    ns = sorted({d.n for d in pds})
    note = (
        f"mean and {round(100 * level)} % Student-t interval over n = {', '.join(map(str, ns))} seeds; "
        "\\* = the interval excludes 0."
    )
    if any(not d.estimable for d in pds):
        note += " " + no_interval_note("\\*")
    if ns and ns[0] < MIN_SEEDS:
        note += f" Fewer than {MIN_SEEDS} seeds: the intervals are rough."
    return note


def paired_table(
    paired: dict, metric: str, methods: Sequence[str], columns: Sequence[str], digits: int | None = None
) -> str:
    """Markdown: methods (less the reference) as rows, ``columns`` as columns, cells ``mean [95 % CI]``
    of ``method - reference``, marked ``*`` where the interval excludes 0; then a note. ``digits``
    defaults to :func:`hardymer.evaluation.metrics.metric_decimals` of ``metric``."""
    ref = paired["reference"]
    if "skipped" in paired:
        return f"No paired differences: {paired['skipped']}.\n"
    cells = {
        (d["method"], d["condition"]): PairedDifference.from_dict(d)
        for d in paired["differences"]
        if d["metric"] == metric
    }
    rows = [m for m in methods if m != ref and any((m, c) in cells for c in columns)]
    if not rows:
        return f"No paired differences for {metric}: no seed shared with {ref!r}.\n"
    digits = metric_decimals(metric) if digits is None else digits
    out = "| method − " + ref + " | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns) + "\n"
    for m in rows:
        out += (
            f"| {m} | "
            + " | ".join(paired_cell(cells[(m, c)], digits) if (m, c) in cells else "–" for c in columns)
            + " |\n"
        )
    note = paired_note(list(cells.values()), paired.get("level", 0.95))
    return out + "\nPer-seed paired differences (same split, same seed), " + note + "\n"
