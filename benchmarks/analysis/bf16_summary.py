#!/usr/bin/env python
"""Summary of a ``bf16_check.sh`` run: per method, the six-condition means fp32 vs bf16 paired by
seed, and how many per-condition differences leave the seed spread.

    python benchmarks/analysis/bf16_summary.py benchmarks/results/2026-12-02/bf16_runs.json

Per method: mean over the conditions of test Acc-2 and MAE per seed, fp32 and bf16 (mean ± sd
over seeds), the paired difference bf16 − fp32 (mean, 95 % t interval) and the CPU seconds of all
its runs per precision. Then, over every (method, condition, metric) cell: how many have a 95 %
interval that excludes 0, and how many have a mean difference larger than the fp32 seed sd.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hardymer.evaluation.stats import format_interval, paired_differences


def summarise(runs: list[dict]) -> str:
    """The markdown summary of the runs (``runs.json`` of ``bf16_check.sh``)."""
    methods = list(dict.fromkeys(r["method"] for r in runs))
    conds = list(dict.fromkeys(r["condition"] for r in runs))
    by = {(r["method"], r["condition"], r["seed"], r["precision"]): r for r in runs}
    seeds = sorted({r["seed"] for r in runs})

    def test(m: str, c: str, s: int, p: str, k: str) -> float:
        return float(by[(m, c, s, p)]["test"][k])

    lines = [
        f"conditions {', '.join(conds)}; seeds {', '.join(map(str, seeds))}; test split, selected on validation",
        "",
        "| method | fp32 Acc-2 (mean of conditions) | bf16 Acc-2 | bf16 − fp32 [95 % CI] | fp32 MAE | bf16 MAE | "
        "bf16 − fp32 [95 % CI] | CPU s fp32 / bf16 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cells, excl, beyond_sd = 0, [], 0
    for m in methods:
        row = {}
        for k in ("acc2", "mae"):
            a = [float(np.mean([test(m, c, s, "bf16", k) for c in conds])) for s in seeds]
            b = [float(np.mean([test(m, c, s, "fp32", k) for c in conds])) for s in seeds]
            row[k] = (a, b, paired_differences(a, b))
        cpu = {p: sum(r["cpu_s"] for r in runs if r["method"] == m and r["precision"] == p) for p in ("fp32", "bf16")}
        (a, b, d), (am, bm, dm) = row["acc2"], row["mae"]
        lines.append(
            f"| {m} | {np.mean(b):.2f} ± {np.std(b, ddof=1):.2f} | "
            f"{np.mean(a):.2f} ± {np.std(a, ddof=1):.2f} | "
            f"{format_interval(d, 2, mark='')} | {np.mean(bm):.4f} | {np.mean(am):.4f} | "
            f"{format_interval(dm, 4, mark='')} | {cpu['fp32']:.0f} / {cpu['bf16']:.0f} |"
        )
        for c in conds:
            for k in ("acc2", "mae"):
                fp = [test(m, c, s, "fp32", k) for s in seeds]
                dd = paired_differences([test(m, c, s, "bf16", k) for s in seeds], fp)
                cells += 1
                if dd.excludes_zero:
                    excl.append(f"{m} {c} {k} {format_interval(dd, 4, mark='')}")
                beyond_sd += abs(dd.mean) > float(np.std(fp, ddof=1))
    lines += [
        "",
        f"{cells} (method, condition, metric) cells: 95 % interval excludes 0 in {len(excl)}"
        + (f" ({'; '.join(excl)})" if excl else "")
        + f"; |mean difference| > fp32 seed sd in {beyond_sd}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", help="runs.json written by benchmarks/bf16_check.sh")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    text = summarise(json.loads(Path(args.runs).read_text()))
    sys.stdout.write(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
