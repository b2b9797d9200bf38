"""Hardness diagnostics of bench runs: ``diagnostics.json`` and ``diagnostics.md``.

Reads ``hardness_summary.json`` (written by hardymer runs, see ``hardness.diagnostics``) from run
folders and tabulates the diagnostics per (method, condition): mean over the runs (seeds, folds)
where a value is defined, with the number of runs.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from hardymer._io import atomic_write_json, atomic_write_text
from hardymer.conditions import CONDITIONS

#: (key in hardness_summary.json, column header) of the table
COLUMNS = (
    ("auc_h_vs_hard", "AUC h"),
    ("auc_dh_vs_hard", "AUC DH"),
    ("auc_ih_vs_hard", "AUC IH"),
    ("label_agreement_used_hard", "agree (hard)"),
    ("label_agreement_used_easy", "agree (easy)"),
    ("k_mean_hard", "k (hard)"),
    ("k_mean_easy", "k (easy)"),
    ("own_group_share_used", "own group"),
    ("spearman_dh_missing_sq_norm", "ρ(DH, ‖x_miss‖²)"),
    ("spearman_dh_ih", "ρ(DH, IH)"),
)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def collect_diagnostics(run_dirs: Sequence[str | Path], labels: Sequence[str] | None = None) -> list[dict]:
    """One row per (run, condition) with a ``hardness_summary.json``: method (``labels[i]`` or the
    run's metrics.json method), condition, seed, fold and the diagnostics found there."""
    rows = []
    for i, d in enumerate(run_dirs):
        d = Path(d)
        summary = _read(d / "hardness_summary.json")
        if not summary or "conditions" not in summary:
            continue
        metrics = _read(d / "metrics.json") or {}
        method = labels[i] if labels is not None else metrics.get("method", d.name)
        for c, info in summary["conditions"].items():
            row = {
                "method": method,
                "condition": c,
                "seed": metrics.get("seed"),
                "fold": metrics.get("fold"),
                "run": str(d),
                "anchor_split": info.get("anchor_split"),
            }
            row.update({k: info.get(k) for k, _ in COLUMNS})
            rows.append(row)
    return rows


def summarise_diagnostics(rows: Sequence[dict]) -> list[dict]:
    """Mean of each diagnostic over the rows of one (method, condition), ignoring undefined values."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["method"], r["condition"])].append(r)
    order = {c: i for i, c in enumerate(CONDITIONS)}
    out = []
    for (m, c), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99), kv[0][1])):
        entry: dict = {
            "method": m,
            "condition": c,
            "runs": len(rs),
            "anchor_split": sorted({str(r.get("anchor_split")) for r in rs}),
        }
        for k, _ in COLUMNS:
            vals = [float(r[k]) for r in rs if r.get(k) is not None and math.isfinite(float(r[k]))]
            entry[k] = {"mean": sum(vals) / len(vals) if vals else None, "n": len(vals)}
        out.append(entry)
    return out


def diagnostics_markdown(summary: Sequence[dict]) -> str:
    """A markdown table of ``summarise_diagnostics`` output (``–`` where undefined)."""
    head = ["method", "condition", "runs", *(h for _, h in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary:
        cells = [str(e["method"]), str(e["condition"]), str(e["runs"])]
        cells += ["–" if e[k]["mean"] is None else f"{e[k]['mean']:.3f}" for k, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_diagnostics(
    run_dirs: Sequence[str | Path], out_dir: str | Path, labels: Sequence[str] | None = None
) -> Path | None:
    """Write ``diagnostics.json`` and ``diagnostics.md`` into ``out_dir``; ``None`` (nothing
    written) when no run has a ``hardness_summary.json``."""
    rows = collect_diagnostics(run_dirs, labels)
    if not rows:
        return None
    out_dir = Path(out_dir)
    summary = summarise_diagnostics(rows)
    md = (
        "# Hardness diagnostics\n\n"
        "Mean over runs (seeds, folds) of the values in each run's `hardness_summary.json`; AUCs are "
        "against the dataset's true `hard` flag (only where it has one, e.g. `synthetic "
        "scenario=private`); hard/easy anchors are the true flag where present, else the top vs "
        "the bottom third of h; agreement, k and own-group share count the neighbours actually used.\n\n"
        + diagnostics_markdown(summary)
    )
    atomic_write_text(out_dir / "diagnostics.md", md)
    atomic_write_json(out_dir / "diagnostics.json", {"summary": summary, "runs": rows})
    return out_dir / "diagnostics.md"
