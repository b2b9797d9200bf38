"""Paired differences against a reference method (same split, same seed), as JSON and markdown.

For every method, condition (and ``mean6``, the per-seed mean over the six missing conditions)
and metric: the per-seed differences ``method - reference``, their mean and a 95 % Student-t
interval over seeds (:func:`hardymer.evaluation.stats.paired_differences`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from hardymer.conditions import CONDITIONS
from hardymer.evaluation.stats import MIN_SEEDS, paired_differences
from hardymer.reporting.tables import per_condition

#: the metrics a report shows paired-difference tables for
MAIN_METRICS = {"regression": ("acc2", "mae"), "classification": ("wa", "ua")}


def per_seed_values(runs: Sequence[dict], part: str = "test") -> dict[tuple[str, str], dict[str, dict[str, float]]]:
    """``{(method, "seed/fold"): {condition: {metric: value}}}`` with ``mean6`` where all six
    missing conditions are present (``method`` is the run's bench name when it has one)."""
    out: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for r in runs:
        key = (r.get("bench_method", r["method"]), f"{r['seed']}/{r['fold']}")
        for cond, mets in per_condition(r, part).items():
            if cond in CONDITIONS:
                out[key][cond] = {k: float(v) for k, v in mets.items()}
    for conds in out.values():
        missing = [c for c in CONDITIONS[:-1] if c in conds]
        if len(missing) == 6:
            conds["mean6"] = {k: float(np.mean([conds[c][k] for c in missing])) for k in conds[missing[0]]}
    return dict(out)


def paired_vs_reference(runs: Sequence[dict], methods: Sequence[str], reference: str, part: str = "test",
                        level: float = 0.95) -> dict:
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
        for cond in [*CONDITIONS, "mean6"]:
            ks = [k for k in keys if cond in values[(m, k)] and cond in values[(reference, k)]]
            if not ks:
                continue
            for metric in values[(m, ks[0])][cond]:
                ks_m = [k for k in ks if metric in values[(m, k)][cond] and metric in values[(reference, k)][cond]]
                res = paired_differences([values[(m, k)][cond][metric] for k in ks_m],
                                         [values[(reference, k)][cond][metric] for k in ks_m], level=level)
                diffs.append({"method": m, "condition": cond, "metric": metric, "keys": ks_m, **res.to_dict()})
    return {"reference": reference, "part": part, "level": level, "differences": diffs}


def paired_cell(d: dict, digits: int) -> str:
    """``+m [+lo, +hi]``, marked ``*`` where the interval excludes 0; ``+m (n=1)`` without an interval."""
    if d["ci_low"] is None:
        return f"{d['mean']:+.{digits}f} (n={d['n']})"
    s = f"{d['mean']:+.{digits}f} [{d['ci_low']:+.{digits}f}, {d['ci_high']:+.{digits}f}]"
    return f"{s} \\*" if d["excludes_zero"] else s


def paired_table(paired: dict, metric: str, methods: Sequence[str], columns: Sequence[str], digits: int = 2) -> str:
    """Markdown: methods (less the reference) as rows, ``columns`` as columns, cells ``mean [95 % CI]``
    of ``method - reference``, marked ``*`` where the interval excludes 0; then a note."""
    ref = paired["reference"]
    if "skipped" in paired:
        return f"No paired differences: {paired['skipped']}.\n"
    cells = {(d["method"], d["condition"]): d for d in paired["differences"] if d["metric"] == metric}
    rows = [m for m in methods if m != ref and any((m, c) in cells for c in columns)]
    if not rows:
        return f"No paired differences for {metric}: no seed shared with {ref!r}.\n"
    out = "| method − " + ref + " | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns) + "\n"
    for m in rows:
        out += f"| {m} | " + " | ".join(paired_cell(cells[(m, c)], digits) if (m, c) in cells else "–"
                                        for c in columns) + " |\n"
    ns = sorted({d["n"] for d in cells.values()})
    level = round(100 * paired.get("level", 0.95))
    note = (f"\nPer-seed paired differences (same split, same seed), mean and {level} % Student-t interval "
            f"over n = {', '.join(map(str, ns))} seeds; \\* = the interval excludes 0.")
    if ns[0] < MIN_SEEDS:
        note += f" Fewer than {MIN_SEEDS} seeds: the intervals are rough."
    return out + note + "\n"
