"""The metrics of ``hardymer evaluate`` as table rows, CSV and JSON files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hardymer._io import atomic_write_json, atomic_write_text
from hardymer.conditions import ordered_columns
from hardymer.evaluation.metrics import format_metric as format_metric  # re-exported: the CLI's table cells
from hardymer.reporting.compare import check_out_file

#: the files ``write_evaluation`` writes, by suffix
EVALUATION_SUFFIXES = (".json", ".csv")


def evaluation_rows(res: dict[str, dict[str, float]]) -> tuple[list[str], list[tuple[str, dict[str, float]]]]:
    """``(metric names, [(condition, metrics), ...])`` of an ``evaluate_checkpoint`` result:
    conditions in the canonical order (missing-rate labels by rate), then ``mean`` / ``mean6`` when present."""
    order = [*ordered_columns(res), "mean", "mean6"]
    rows = sorted(res.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    metrics: list[str] = []
    for _, mets in rows:
        metrics += [k for k in mets if k not in metrics]
    return metrics, rows


def evaluation_csv(res: dict[str, dict[str, float]]) -> str:
    """CSV: one row per condition, one column per metric (full precision)."""
    metrics, rows = evaluation_rows(res)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["condition", *metrics])
    for cond, mets in rows:
        w.writerow([cond, *[repr(float(mets[k])) if k in mets else "" for k in metrics]])
    return buf.getvalue()


def write_evaluation(res: dict[str, dict[str, float]], path: str | Path, meta: dict | None = None) -> Path:
    """Write ``res`` atomically as ``.json`` (``{"metrics": res, **meta}``) or ``.csv`` (by the suffix)."""
    p = Path(path)
    check_out_file(p, EVALUATION_SUFFIXES)
    if p.suffix.lower() == ".csv":
        atomic_write_text(p, evaluation_csv(res))
    else:
        atomic_write_json(p, {**(meta or {}), "metrics": res})
    return p
