#!/usr/bin/env python
"""Accuracy of a faster grid path against today's: full-schedule ``bench_grid.py`` runs (one JSON
per seed) paired by seed and condition with a ``hardymer bench`` results file of the same recipe.

``bench_grid.py --epochs-scale 1 --arms new-fast --seed S --json grid-sS.json`` runs the whole
7-condition grid at the recipe's full schedule; the reference is, e.g., the committed release-recipe
results (``docs/results/mosi-tuned/release/results.json``: today's path, fp32, per-condition
batches). Printed: per condition, test Acc-2 and MAE of both, the paired difference (new − today,
mean and 95 % t interval over the shared seeds) and today's seed sd (over all its seeds); the same for the six-condition
mean Acc-2; and the CPU seconds of each grid run (measured, 1 thread). Selection is on validation
in both; nothing here is tuned.

    python benchmarks/analysis/grid_accuracy.py --grid 'runs/speed/full-new-fast-s*.json' \\
        --reference docs/results/mosi-tuned/release/results.json --out grid_accuracy.md
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

import numpy as np

from hardymer.evaluation.stats import format_interval, paired_differences

MISSING6 = ["a", "t", "v", "at", "av", "tv"]


def load_grid(files: list[str], arm: str, scale: float) -> tuple[dict, dict]:
    """``{(condition, seed): test metrics}`` and ``{seed: [CPU s per condition]}`` of the grid runs."""
    runs, cpu = {}, {}
    for f in files:
        out = json.loads(Path(f).read_text())
        seed = int(out["args"]["seed"])
        grid = out["grid"]
        key = next((k for k in grid if float(k) == scale), None)
        if key is None or arm not in grid[key]:
            raise SystemExit(f"{f}: no arm {arm!r} at epochs scale {scale}")
        for row in grid[key][arm]:
            runs[(row["condition"], seed)] = row["test"]
        cpu[seed] = [(row["condition"], row["cpu_s"]) for row in grid[key][arm]]
    return runs, cpu


def load_reference(path: str, method: str) -> dict:
    """``{(condition, seed): test metrics}`` of ``method`` in a ``hardymer bench`` results file."""
    res = json.loads(Path(path).read_text())
    return {(r["condition"], int(r["seed"])): r["test"] for r in res["runs"] if r["method"] == method}


def _fmt(d, digits: int = 2) -> str:
    """``mean [low, high]`` of a paired difference, unmarked (``(n=2, no interval)`` where not estimable)."""
    return format_interval(d, digits, mark="")


def compare(new: dict, ref: dict) -> list[str]:
    """Markdown rows: per condition and the six-condition mean."""
    lines = [
        "| condition | metric | today | new | new − today [95 % CI] | today seed sd | seeds |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    conds = [c for c in ["a", "t", "v", "at", "av", "tv", "atv"] if any(k[0] == c for k in new)]
    for c in conds:
        seeds = sorted(s for (cc, s) in new if cc == c and (c, s) in ref)
        if not seeds:
            continue
        for metric in ("acc2", "mae"):
            a = [new[(c, s)][metric] for s in seeds]
            b = [ref[(c, s)][metric] for s in seeds]
            d = paired_differences(a, b)
            all_b = [v[metric] for (cc, _), v in ref.items() if cc == c]  # spread over every reference seed
            sd = float(np.std(all_b, ddof=1)) if len(all_b) > 1 else float("nan")
            digits = 2 if metric == "acc2" else 4
            fmt = f".{digits}f"
            lines.append(
                f"| {c} | {metric} | {np.mean(b):{fmt}} | {np.mean(a):{fmt}} | {_fmt(d, digits)} | "
                f"{sd:{fmt}} | "
                f"{','.join(map(str, seeds))} |"
            )
    seeds = sorted({s for (_, s) in new} & {s for (_, s) in ref})
    seeds = [s for s in seeds if all((c, s) in new and (c, s) in ref for c in MISSING6)]
    if seeds:
        a = [float(np.mean([new[(c, s)]["acc2"] for c in MISSING6])) for s in seeds]
        b = [float(np.mean([ref[(c, s)]["acc2"] for c in MISSING6])) for s in seeds]
        d = paired_differences(a, b)
        ref_seeds = sorted({s for (_, s) in ref if all((c, s) in ref for c in MISSING6)})
        all_b = [float(np.mean([ref[(c, s)]["acc2"] for c in MISSING6])) for s in ref_seeds]
        sd = float(np.std(all_b, ddof=1)) if len(all_b) > 1 else float("nan")
        lines.append(
            f"| mean of the six missing | acc2 | {np.mean(b):.2f} | {np.mean(a):.2f} | {_fmt(d)} | {sd:.2f} | "
            f"{','.join(map(str, seeds))} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grid", required=True, help="bench_grid JSON files (a glob or a comma list)")
    p.add_argument("--reference", required=True, help="hardymer bench results.json of the same recipe")
    p.add_argument("--method", default="hardymer")
    p.add_argument("--arm", default="new-fast")
    p.add_argument("--scale", type=float, default=1.0, help="the grid's epochs scale (1 = the full schedule)")
    p.add_argument("--out", default=None, help="write the markdown here")
    args = p.parse_args(argv)
    files = sorted(f for g in args.grid.split(",") for f in glob.glob(g))
    if not files:
        raise SystemExit(f"--grid: no file matches {args.grid!r}")
    new, cpu = load_grid(files, args.arm, args.scale)
    ref = load_reference(args.reference, args.method)
    lines = [
        f"{args.method}, arm {args.arm} (epochs scale {args.scale}) vs {args.reference}; test split, "
        "selection on validation",
        "",
        *compare(new, ref),
        "",
        "| seed | " + " | ".join(c for c, _ in next(iter(cpu.values()))) + " | grid CPU s |",
        "|---|" + "---:|" * (len(next(iter(cpu.values()))) + 1),
    ]
    for seed, rows in sorted(cpu.items()):
        lines.append(f"| {seed} | " + " | ".join(f"{s:.1f}" for _, s in rows) + f" | {sum(s for _, s in rows):.0f} |")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
