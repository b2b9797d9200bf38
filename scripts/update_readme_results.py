"""Rewrite the results section of README.md, and docs/results.md, from docs/results/*/results.json.

Every number between the README's ``<!-- results:begin -->`` and ``<!-- results:end -->`` markers
comes from these files, which `bash scripts/reproduce_mosi.sh` regenerates. Usage:
``python scripts/update_readme_results.py`` (from the repo root).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hardymer.evaluation.metrics import LOWER_IS_BETTER
from hardymer.reporting.tables import fmt, markdown_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
CONDS = ["a", "t", "v", "at", "av", "tv", "atv", "mean6"]


def load(name: str) -> dict | None:
    p = RESULTS / name / "results.json"
    return json.loads(p.read_text()) if p.is_file() else None


def digits(metric: str) -> int:
    return 3 if metric in ("mae", "corr") else 2


def aggregated(res: dict) -> dict:
    """results.json's summary as ``{(method, condition): {metric: (mean, std, n)}}`` (reporting.tables' form)."""
    return {(r["method"], r["condition"]): {k: (v["mean"], v["std"], v["n"]) for k, v in r.items() if isinstance(v, dict)}
            for r in res["summary"]}


def table(res: dict, metric: str, methods: list[str], conds: list[str]) -> str:
    return markdown_table(aggregated(res), metric, methods, conds, lower_is_better=metric in LOWER_IS_BETTER,
                          digits=digits(metric))


def mean6_table(res: dict, methods: list[str], metrics: list[str]) -> str:
    agg = aggregated(res)
    out = "| variant | " + " | ".join(metrics) + " |\n|---|" + "---|" * len(metrics) + "\n"
    for m in methods:
        row = agg.get((m, "mean6"), {})
        cells = [fmt(*row[k][:2], digits(k)) if k in row else "–" for k in metrics]
        out += f"| {m} | " + " | ".join(cells) + " |\n"
    return out


def build() -> str:
    parts = []
    fixed = load("mosi-fixed")
    if fixed:
        seeds = ", ".join(map(str, fixed["seeds"]))
        parts.append(f"#### CMU-MOSI, fixed protocol — test, selected on validation, seeds {seeds} (mean ± std)\n")
        for metric in ("acc2", "f1", "mae", "corr"):
            parts.append(f"\n**{metric}**{' (lower is better)' if metric in LOWER_IS_BETTER else ''}\n\n"
                         + table(fixed, metric, fixed["methods"], CONDS))
        parts.append("\nAll metrics, CSV/JSON and plots: [docs/results/mosi-fixed](docs/results/mosi-fixed/results.md).\n"
                     "\n![acc2 per condition](docs/results/mosi-fixed/bars_acc2.png)\n")
    abl = load("mosi-ablation")
    if abl:
        seeds = ", ".join(map(str, abl["seeds"]))
        parts.append(f"\n#### HARDY-MER ablations — mean over the six missing conditions, test, seeds {seeds}\n\n"
                     + mean6_table(abl, abl["methods"], ["acc2", "f1", "mae", "corr"])
                     + "\nPer condition: [docs/results/mosi-ablation](docs/results/mosi-ablation/results.md).\n")
    uni = load("mosi-unified")
    if uni:
        seeds = ", ".join(map(str, uni["seeds"]))
        parts.append(f"\n#### CMU-MOSI, unified protocol (one model per method and seed, all 7 conditions) — seeds {seeds}\n")
        for metric in ("acc2", "mae"):
            parts.append(f"\n**{metric}**{' (lower is better)' if metric in LOWER_IS_BETTER else ''}\n\n"
                         + table(uni, metric, uni["methods"], CONDS))
        parts.append("\nMore: [docs/results/mosi-unified](docs/results/mosi-unified/results.md).\n"
                     "\n![acc2 per condition, unified](docs/results/mosi-unified/bars_acc2.png)\n")
    mini = load("mosi-minilm-text")
    if mini and fixed:
        seeds = ", ".join(map(str, mini["seeds"]))
        conds = ["t", "at", "tv", "atv"]
        merged = {"summary": [{**r, "method": r["method"] + " (MiniLM text)"} for r in mini["summary"]]
                  + [{**r, "method": r["method"] + " (CNN text)"} for r in fixed["summary"]]}
        methods = [f"{m} ({k} text)" for m in mini["methods"] for k in ("CNN", "MiniLM")]
        parts.append(f"\n#### Text features from `hardymer extract` (MiniLM, offline) vs the CNN text features — acc2, test, seeds {seeds}\n\n"
                     + table(merged, "acc2", methods, conds)
                     + "\nMore: [docs/results/mosi-minilm-text](docs/results/mosi-minilm-text/results.md).\n")
    syn = load("synthetic-fixed")
    if syn:
        seeds = ", ".join(map(str, syn["seeds"]))
        parts.append(f"\n#### Built-in synthetic data (classification, 4 classes), fixed protocol — WA, test, seeds {seeds}\n\n"
                     + table(syn, "wa", syn["methods"], CONDS)
                     + "\nMore: [docs/results/synthetic-fixed](docs/results/synthetic-fixed/results.md) "
                     "(`bash scripts/reproduce_synthetic.sh`).\n")
    return "".join(parts)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = "<!-- results:begin -->\n" + build() + "<!-- results:end -->"
    text, n = re.subn(r"<!-- results:begin -->.*?<!-- results:end -->", lambda _: new, text, flags=re.S)
    if n != 1:
        raise SystemExit("README.md has no results markers")
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(readme)
    index = ROOT / "docs" / "results.md"
    body = build().replace("](docs/", "](")
    tmp = index.with_suffix(".md.tmp")
    tmp.write_text("# Results\n\nGenerated by `python scripts/update_readme_results.py` from the outputs of "
                   "`bash scripts/reproduce_mosi.sh` (each folder under `docs/results/` names its exact "
                   "`hardymer bench` command, dataset, split, protocol, selection rule and seeds).\n\n" + body)
    tmp.replace(index)


if __name__ == "__main__":
    main()
