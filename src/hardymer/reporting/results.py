"""Aggregating bench runs into results.csv, results.json and results.md."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from hardymer._io import atomic_write_json, atomic_write_text
from hardymer.conditions import CONDITIONS
from hardymer.evaluation.metrics import LOWER_IS_BETTER, metric_names
from hardymer.reporting.tables import add_condition_means, aggregate, markdown_table, per_condition


def _keyed(runs: Sequence[dict]) -> list[dict]:
    return [{**r, "method": r.get("bench_method", r["method"])} for r in runs]


def summarise(runs: Sequence[dict], part: str = "test") -> dict:
    """``{(method, column): {metric: (mean, std, n)}}`` with a ``mean6`` column."""
    runs = _keyed(runs)
    return add_condition_means(aggregate(runs, part), runs, part)


def header(runs: Sequence[dict], dataset: str, title: str | None = None, notes: Sequence[str] = ()) -> str:
    r0 = runs[0]
    seeds = sorted({r["seed"] for r in runs})
    folds = sorted({r["fold"] for r in runs})
    sel = r0["select_on"]
    sel_txt = ("validation (honest)" if sel == "val"
               else "**TEST — optimistic, only for comparison with published numbers**")
    return (f"# {title or 'Results'}\n\n"
            f"- dataset: `{dataset}`, fold(s): {', '.join(folds)}\n"
            f"- protocol: `{r0['protocol']}`; reported split: test\n"
            f"- model selection: best epoch on {sel_txt}, metric `{r0['select_metric']}`\n"
            f"- seeds: {', '.join(map(str, seeds))} (mean ± sample std over seeds{' and folds' if len(folds) > 1 else ''})\n"
            f"- `mean6` = mean over the six missing-modality conditions (per seed, then mean ± std)\n"
            + "".join(f"- {n}\n" for n in notes))


def write_results(runs: Sequence[dict], out_dir: str | Path, dataset: str, methods: Sequence[str],
                  title: str | None = None, command: str | None = None, notes: Sequence[str] = ()) -> Path:
    """Write results.csv / results.json / results.md into ``out_dir``; return the .md path.

    ``notes`` are extra header lines (e.g. where tuned configs came from)."""
    out_dir = Path(out_dir)
    task = "classification" if "wa" in next(iter(per_condition(runs[0]).values())) else "regression"
    agg = summarise(runs)
    conds = [c for c in CONDITIONS if any((m, c) in agg for m in methods)]
    columns = conds + (["mean6"] if any((m, "mean6") in agg for m in methods) else [])
    md = header(runs, dataset, title, notes)
    if command:
        md += f"\nRegenerate with:\n\n```\n{command}\n```\n"
    for metric in metric_names(task):
        md += f"\n## {metric} (test){' — lower is better' if metric in LOWER_IS_BETTER else ''}\n\n"
        md += markdown_table(agg, metric, methods, columns, lower_is_better=metric in LOWER_IS_BETTER,
                             digits=3 if metric in ("mae", "corr") else 2)
    atomic_write_text(out_dir / "results.md", md)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["method", "condition", "metric", "mean", "std", "n"])
    for (m, c), mets in sorted(agg.items()):
        for k, (mu, sd, n) in mets.items():
            w.writerow([m, c, k, f"{mu:.6f}", f"{sd:.6f}", n])
    atomic_write_text(out_dir / "results.csv", buf.getvalue())
    atomic_write_json(out_dir / "results.json", {
        "dataset": dataset, "protocol": runs[0]["protocol"], "select_on": runs[0]["select_on"],
        "optimistic": runs[0]["select_on"] == "test",
        "seeds": sorted({r["seed"] for r in runs}), "methods": list(methods),
        "summary": [{"method": m, "condition": c, **{k: {"mean": v[0], "std": v[1], "n": v[2]} for k, v in mets.items()}}
                    for (m, c), mets in sorted(agg.items())],
        "runs": [{k: r[k] for k in ("bench_method", "method", "condition", "seed", "fold", "best_epoch", "val", "test",
                                    "train_seconds") if k in r} for r in runs],
    })
    return out_dir / "results.md"
