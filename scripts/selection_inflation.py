"""How much selecting the epoch on the test set inflates a result: validation-selected (ours) next to
test-selected (what a release that picks its epoch on test prints), from the same runs.

The runs must have been trained with ``train.record_test_curve=true`` (``hardymer bench ... --set
train.record_test_curve=true``): each run's metrics.json then holds ``test`` (the epoch selected on
validation) and ``test_selected`` (the epoch best on test, recorded without ever feeding selection).
Per method and condition (and the mean over the six missing conditions where a run grid has them;
for a random-protocol grid per missing rate and ``mean_r``, the per-run mean over the rates):
both figures (mean ± std over the runs: seeds, and folds where there are several) and the inflation,
test-selected − ours in the direction where larger is better (for MAE: ours − test-selected), with a
95 % Student-t interval over the paired runs.

Usage: python scripts/selection_inflation.py RUNS_DIR [RUNS_DIR ...] --metric mae --out DIR
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from hardymer._io import atomic_write_text
from hardymer.conditions import MISSING_CONDITIONS, label_rate
from hardymer.evaluation.metrics import LOWER_IS_BETTER, metric_decimals
from hardymer.evaluation.stats import format_interval, paired_differences

log = logging.getLogger("selection_inflation")


def _summary(metrics: dict, condition: str) -> dict:
    """The metrics of one run's condition: a flat dict (fixed protocol) or the condition's entry."""
    return metrics.get(condition, metrics) if isinstance(metrics.get(condition), dict) else metrics


def collect(roots: list[Path], metric: str) -> dict[tuple[str, str], dict[tuple[str, int], tuple[float, float]]]:
    """``{(method, condition): {(fold, seed): (ours, test_selected)}}`` over every metrics.json under ``roots``."""
    out: dict[tuple[str, str], dict[tuple[str, int], tuple[float, float]]] = defaultdict(dict)
    for root in roots:
        for p in sorted(root.rglob("metrics.json")):
            m = json.loads(p.read_text())
            if "test_selected" not in m:
                continue
            if m.get("select_on") != "val":
                raise SystemExit(
                    f"error: {p}: selected on {m.get('select_on')!r}; this table needs validation selection"
                )
            method = m.get("bench_method", m["method"])
            key = (str(m.get("fold")), int(m["seed"]))
            if m["protocol"] in ("fixed", "random"):  # one condition (or missing rate) per run
                ours, field = m["test"][metric], m["test_selected"][metric]
                out[(method, m["condition"])][key] = (float(ours), float(field))
            else:  # one model for every condition: its epoch is selected once, on the conditions' mean
                for c, v in m["test"].items():
                    if isinstance(v, dict) and c in m["test_selected"]:
                        out[(method, c)][key] = (float(v[metric]), float(m["test_selected"][c][metric]))
    return out


def add_run_mean(cells: dict, conditions: list[str], name: str) -> None:
    """Add column ``name``: per method, the per-run mean of (ours, test-selected) over ``conditions``
    (one run per condition), where the method has every one of them (an existing column is kept)."""
    for method in {m for m, _ in cells}:
        if (method, name) in cells:
            continue
        per = [cells.get((method, c)) for c in conditions]
        if any(p is None for p in per):
            continue
        keys = set.intersection(*(set(p) for p in per if p is not None))
        if keys:
            cells[(method, name)] = {
                k: (
                    float(np.mean([p[k][0] for p in per if p is not None])),
                    float(np.mean([p[k][1] for p in per if p is not None])),
                )
                for k in keys
            }


def add_mean6(cells: dict) -> None:
    """Add the per-run mean over the six missing conditions (fixed protocol: one run per condition)."""
    add_run_mean(cells, list(MISSING_CONDITIONS), "mean6")


def add_rate_mean(cells: dict) -> None:
    """Add ``mean_r``: the per-run mean over every missing rate of a random-protocol grid (a run per rate)."""
    rates = sorted({c for _, c in cells if label_rate(c) is not None})
    if len(rates) >= 2:
        add_run_mean(cells, rates, "mean_r")


def table(cells: dict, metric: str) -> tuple[str, list[dict]]:
    """Markdown table and CSV rows: ours, test-selected and the inflation per (method, condition)."""
    dec = metric_decimals(metric)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    lines = [
        f"| method | condition | runs | ours ({metric}, validation-selected) | test-selected | inflation |",
        "|---|---|---|---|---|---|",
    ]
    rows = []
    order = {c: i for i, c in enumerate([*MISSING_CONDITIONS, "atv", "mean6"])}
    order.update({c: 50 + i for i, c in enumerate(sorted({c for _, c in cells if label_rate(c) is not None}))})
    order["mean_r"] = 98
    for method, cond in sorted(cells, key=lambda k: (k[0], order.get(k[1], 99), k[1])):
        pairs = cells[(method, cond)]
        keys = sorted(pairs)
        ours = np.array([pairs[k][0] for k in keys])
        field = np.array([pairs[k][1] for k in keys])
        d = paired_differences(sign * field, sign * ours)
        so = ours.std(ddof=1) if len(keys) > 1 else 0.0
        sf = field.std(ddof=1) if len(keys) > 1 else 0.0
        lines.append(
            f"| {method} | {cond} | {len(keys)} | {ours.mean():.{dec}f} ± {so:.{dec}f} "
            f"| {field.mean():.{dec}f} ± {sf:.{dec}f} | {format_interval(d, dec)} |"
        )
        rows.append(
            {
                "method": method,
                "condition": cond,
                "runs": len(keys),
                **d.to_dict(),
                "ours": float(ours.mean()),
                "test_selected": float(field.mean()),
            }
        )
    return "\n".join(lines) + "\n", rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roots", nargs="+", type=Path)
    ap.add_argument("--metric", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cells = collect(args.roots, args.metric)
    if not cells:
        raise SystemExit("error: no run under the given folders recorded its test curve (train.record_test_curve=true)")
    add_mean6(cells)
    add_rate_mean(cells)
    md, rows = table(cells, args.metric)
    args.out.mkdir(parents=True, exist_ok=True)
    head = (
        f"# Validation-selected vs test-selected{': ' + args.title if args.title else ''}\n\n"
        f"Same runs, two readings: ours selects the epoch on validation; test-selected takes the epoch that is "
        f"best on test by the run's selection metric and reports its test {args.metric} (as releases that select "
        f"on test do; recorded per epoch, never used for "
        f"selection or early stopping, so the curve stops where validation early stopping stopped). Inflation = "
        f"test-selected − ours, oriented so that positive means the test-selected number looks better; "
        f"95 % Student-t interval over the paired runs (seeds × folds); * where it excludes 0.\n\n"
    )
    atomic_write_text(args.out / "selection_inflation.md", head + md)
    atomic_write_text(args.out / "selection_inflation.json", json.dumps(rows, indent=1, default=float))
    log.info("wrote %s", args.out / "selection_inflation.md")


if __name__ == "__main__":
    main()
