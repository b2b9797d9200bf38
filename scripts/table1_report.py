"""One table of every method's tuned configs, from several bench results.json of the same protocol.

Writes into ``--out``: the full bench-style report of the merged runs (results.md / .csv / .json,
paired differences against the backbone, bar plots) and ``summary.md``: per method the mean over
the six missing conditions (mean ± std over seeds), the training seconds per run, the paired
differences against the backbone and ``hardymer − method`` (95 % intervals over seeds), and the
conditions where a method's mean is below the best constant prediction or below zero-fill. The
tuning files of each method (best.yaml, trials.csv, tune.json per condition) are copied to
``--out/tuning``.

Usage: python scripts/table1_report.py --results A/results.json B/results.json --tuned runs/mosi-tune
           [--base-tuned docs/results/mosi-tuned/tuning] --out docs/results/mosi-table1
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np

from hardymer._io import atomic_write_text
from hardymer.conditions import CONDITIONS, MISSING_CONDITIONS
from hardymer.evaluation.metrics import LOWER_IS_BETTER, metric_decimals
from hardymer.evaluation.stats import format_interval, no_interval_note, paired_differences
from hardymer.reporting.plots import write_plots
from hardymer.reporting.reference import CONSTANT_KEY
from hardymer.reporting.results import write_results
from hardymer.reporting.tables import fmt

log = logging.getLogger("table1_report")

REFERENCE = "backbone"
CHALLENGER = "hardymer"
FLOOR = "zero-fill"
METRICS = ("acc2", "f1", "mae", "corr")
TUNING_FILES = ("best.yaml", "trials.csv", "tune.json")


def load_runs(paths: list[Path]) -> tuple[list[dict], list[str], dict]:
    """The runs of every results.json (shared keys put back on each run), the methods in order, and
    the first file's header; refuses files of different dataset, protocol or selection."""
    runs: list[dict] = []
    methods: list[str] = []
    first: dict = {}
    for p in paths:
        js = json.loads(p.read_text())
        head = {k: js[k] for k in ("dataset", "protocol", "select_on")}
        if first and head != {k: first[k] for k in head}:
            raise SystemExit(f"error: {p}: {head} differs from {paths[0]}: {[first[k] for k in head]}")
        first = first or js
        shared = {**head, "select_metric": js["select_metric"], "optimistic": js["select_on"] == "test"}
        seen = {(r.get("bench_method", r["method"]), r["condition"], r["seed"]) for r in runs}
        for r in js["runs"]:
            key = (r.get("bench_method", r["method"]), r["condition"], r["seed"])
            if key in seen:
                raise SystemExit(f"error: {p}: run {key} is also in an earlier file")
            runs.append({**shared, **r})
        methods += [m for m in js["methods"] if m not in methods]
    return runs, methods, first


def per_seed(runs: list[dict]) -> dict[str, dict[int, dict[str, dict[str, float]]]]:
    """``{method: {seed: {condition | "mean6": {metric: test value}}}}`` (fixed protocol: one run per condition)."""
    out: dict[str, dict[int, dict[str, dict[str, float]]]] = defaultdict(lambda: defaultdict(dict))
    for r in runs:
        test = r["test"]
        mets = test.get(r["condition"], test) if isinstance(next(iter(test.values())), dict) else test
        out[r.get("bench_method", r["method"])][int(r["seed"])][r["condition"]] = {k: float(v) for k, v in mets.items()}
    for seeds in out.values():
        for conds in seeds.values():
            if all(c in conds for c in MISSING_CONDITIONS):
                conds["mean6"] = {k: float(np.mean([conds[c][k] for c in MISSING_CONDITIONS])) for k in METRICS}
    return out


def _diff(vals: dict, a: str, b: str, cond: str, metric: str) -> str:
    seeds = sorted(set(vals[a]) & set(vals[b]))
    seeds = [s for s in seeds if cond in vals[a][s] and cond in vals[b][s]]
    if not seeds:
        return "–"
    d = paired_differences([vals[a][s][cond][metric] for s in seeds], [vals[b][s][cond][metric] for s in seeds])
    return format_interval(d, metric_decimals(metric))


def _mean(vals: dict, m: str, cond: str, metric: str) -> float:
    return float(np.mean([v[cond][metric] for v in vals[m].values() if cond in v]))


def weak_cells(vals: dict, runs: list[dict], m: str) -> list[str]:
    """Conditions where ``m``'s mean acc2 (MAE) is not better than the best constant prediction's, or where
    ``m``'s mean is below zero-fill's on acc2 (or above it on MAE)."""
    consts = [r[CONSTANT_KEY] for r in runs if isinstance(r.get(CONSTANT_KEY), dict)]
    const_acc2 = float(np.mean([float(c["acc2"]) for c in consts])) if consts else None
    const_mae = float(np.mean([float(c["mae"]) for c in consts])) if consts else None
    notes = []
    for c in CONDITIONS:
        if not any(c in v for v in vals[m].values()):
            continue
        acc2 = _mean(vals, m, c, "acc2")
        why = []
        if const_acc2 is not None and acc2 <= const_acc2:
            why.append(f"acc2 {acc2:.1f} ≤ constant {const_acc2:.1f}")
        mae = _mean(vals, m, c, "mae")
        if const_mae is not None and mae >= const_mae:
            why.append(f"mae {mae:.3f} ≥ constant {const_mae:.3f}")
        if m != FLOOR and FLOOR in vals and any(c in v for v in vals[FLOOR].values()):
            if acc2 < _mean(vals, FLOOR, c, "acc2"):
                why.append("acc2 < zero-fill")
            if _mean(vals, m, c, "mae") > _mean(vals, FLOOR, c, "mae"):
                why.append("mae > zero-fill")
        if why:
            notes.append(f"{c} ({', '.join(why)})")
    return notes


def budget_line(tuning: Path, methods: list[str]) -> str:
    parts = []
    for m in methods:
        p = tuning / m / "tune.json"
        if p.is_file():
            info = json.loads(p.read_text())
            minutes = info["wall_seconds"] / 60
            parts.append(f"{m} {info['trials_requested']}/cond, seeds {info['seeds']}, {minutes:.0f} min")
    return "; ".join(parts)


def summary_markdown(runs: list[dict], methods: list[str], header: dict, tuning: Path) -> str:
    vals = per_seed(runs)
    seeds = sorted({int(r["seed"]) for r in runs})
    lines = [
        f"# Every method tuned with the same budget: {header['dataset']}, {header['protocol']} protocol",
        "",
        f"Test split, checkpoint selected on validation, seeds {', '.join(map(str, seeds))}; each method's config "
        "tuned per condition on validation (TPE, the same number of trials per condition for every method; "
        "objective validation MAE on seed 0; the test split is never read while tuning). Values: mean over the "
        "six missing conditions (a, t, v, at, av, tv) per seed, then mean ± std over seeds. Differences: per seed, "
        "95 % Student-t interval over seeds; * where it excludes 0. "
        f"Full per-condition tables: [results.md](results.md). Tuning budget: {budget_line(tuning, methods)}.",
        "",
        "| method | " + " | ".join(METRICS) + f" | train s/run | acc2 − {REFERENCE} | mae − {REFERENCE} "
        f"| {CHALLENGER} − method (acc2) | {CHALLENGER} − method (mae) |",
        "|---|" + "---|" * (len(METRICS) + 5),
    ]
    for m in methods:
        cells = []
        for k in METRICS:
            xs = [v["mean6"][k] for v in vals[m].values() if "mean6" in v]
            cells.append(fmt(float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0, metric_decimals(k)))
        secs = [float(r["train_seconds"]) for r in runs if r.get("bench_method", r["method"]) == m]
        cells.append(f"{np.mean(secs):.1f}")
        for a, b in ((m, REFERENCE), (CHALLENGER, m)):
            for k in ("acc2", "mae"):
                cells.append("–" if a == b else _diff(vals, a, b, "mean6", k))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lower = ", ".join(k for k in METRICS if k in LOWER_IS_BETTER)
    lines += ["", f"Lower is better for {lower}. {no_interval_note()}", ""]
    weak = {m: weak_cells(vals, runs, m) for m in methods}
    if any(weak.values()):
        lines += ["Cells at or below a reference (mean over seeds):", ""]
        lines += [f"- {m}: {'; '.join(w)}" for m, w in weak.items() if w]
        lines.append("")
    envs = {(r.get("environment") or {}).get("torch", "?") for r in runs}
    lines += [
        "Training seconds: wall time of one run (1 torch thread, CPU) as recorded by each run; runs of different "
        f"methods were made at different times on a shared machine (torch {', '.join(sorted(envs))}), so compare "
        "them as orders of magnitude.",
        "",
    ]
    return "\n".join(lines)


def copy_tuning(sources: list[Path], methods: list[str], out: Path) -> None:
    """``out/<method>/...`` tuning files from the first source that has the method."""
    for m in methods:
        for src in sources:
            root = src / m
            if not (root / "tune.json").is_file():
                continue
            for f in root.rglob("*"):
                if f.is_file() and f.name in TUNING_FILES + ("summary.json",):
                    dest = out / m / f.relative_to(root)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f, dest)
            break


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", nargs="+", required=True, type=Path)
    ap.add_argument("--tuned", required=True, type=Path, help="tuning folder of the methods run here")
    ap.add_argument("--base-tuned", type=Path, default=None, help="tuning folder of the committed methods")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for p in args.results:
        if not p.is_file():
            raise SystemExit(f"error: {p}: no such results.json")
    runs, methods, header = load_runs(args.results)
    for m in (REFERENCE, CHALLENGER):
        if m not in methods:
            raise SystemExit(f"error: the results hold no {m!r} runs; the table needs them")
    args.out.mkdir(parents=True, exist_ok=True)
    sources = [args.tuned] + ([args.base_tuned] if args.base_tuned else [])
    copy_tuning(sources, methods, args.out / "tuning")
    command = "bash scripts/reproduce_mosi_table1.sh"
    write_results(
        runs,
        args.out,
        header["dataset"],
        methods,
        title=f"{header.get('title') or header['dataset']}: every method tuned with the same budget",
        command=command,
        reference=REFERENCE,
        notes=[f"runs from {', '.join(str(p) for p in args.results)}"],
    )
    write_plots(runs, args.out, methods)
    atomic_write_text(args.out / "summary.md", summary_markdown(runs, methods, header, args.out / "tuning"))
    log.info("wrote %s", args.out / "summary.md")


if __name__ == "__main__":
    main()
