"""Compare default, tuned and release-recipe configs: REPORT/summary.md from the three results.json.

Usage: python scripts/tuned_summary.py --report docs/results/mosi-tuned --tuned runs/mosi-tune
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hardymer._io import atomic_write_text
from hardymer.evaluation.metrics import LOWER_IS_BETTER, metric_decimals
from hardymer.reporting.tables import fmt

CONFIGS = ("default", "tuned", "release", "default-unified", "tuned-unified")


def _summary(results: Path) -> dict[tuple[str, str], dict]:
    data = json.loads(results.read_text())
    return {(s["method"], s["condition"]): s for s in data["summary"]}, data


def _budget(tuned: Path, m: str, what: str) -> str | None:
    p = tuned / m / "tune.json"
    if not p.is_file():
        return None
    info = json.loads(p.read_text())
    return (
        f"{m}{what}: {info['trials_requested']} trials{' per condition' if not what else ''}, seeds {info['seeds']}, "
        f"{info['wall_seconds'] / 60:.0f} min"
    )


def build(report: Path, tuned: Path, default_results: list[Path] = (), tuned_unified: Path | None = None) -> str:
    """The summary markdown: mean6 of each metric per (method, config), plus the tuning budget.

    ``default_results``: further results.json files whose methods join the default block of their
    protocol (for methods whose default-config runs were not redone here)."""
    found = {c: _summary(report / c / "results.json") for c in CONFIGS if (report / c / "results.json").is_file()}
    for extra in default_results:
        # a results.json of the unified protocol joins the unified default block
        block = "default-unified" if json.loads(extra.read_text()).get("protocol") == "unified" else "default"
        summ, data = _summary(extra)
        base_summ, base_data = found.get(block, ({}, {"methods": [], "seeds": data["seeds"]}))
        for (m, cond), s in summ.items():
            if m not in base_data["methods"]:
                base_summ[(m, cond)] = s
        base_data = dict(
            base_data,
            methods=list(base_data["methods"]) + [m for m in data["methods"] if m not in base_data["methods"]],
        )
        found[block] = (base_summ, base_data)
    found = {c: found[c] for c in CONFIGS if c in found}
    methods: list[str] = []
    for c in found:
        methods += [m for m in found[c][1]["methods"] if m not in methods]
    first = next(iter(found.values()))[0]
    metrics = [k for k in next(iter(first.values())) if k not in ("method", "condition")]
    lines = [
        "# Default vs tuned vs release recipe, fixed and unified protocols (test, selected on validation; mean over the six missing conditions)",
        "",
    ]
    for c, (_, data) in found.items():
        lines.append(f"- {c}: seeds {', '.join(map(str, data['seeds']))} ([results]({c}/results.md))")
    budgets = [b for m in methods for b in [_budget(tuned, m, "")] if b]
    if tuned_unified is not None:
        budgets += [b for m in methods for b in [_budget(tuned_unified, m, " (unified, one study)")] if b]
    if budgets:
        lines.append("- tuning budget (TPE on validation " + "; ".join(budgets) + ")")
    lines += ["", "| method | config | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for m in methods:
        for c, (summ, _) in found.items():
            s = summ.get((m, "mean6"))
            if s is None:
                continue
            cells = [fmt(s[k]["mean"], s[k]["std"], metric_decimals(k)) for k in metrics]
            lines.append(f"| {m} | {c} | " + " | ".join(cells) + " |")
    lower = ", ".join(k for k in metrics if k in LOWER_IS_BETTER)
    lines += ["", f"Lower is better for: {lower or 'none'}.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--report", required=True, type=Path)
    ap.add_argument("--tuned", required=True, type=Path)
    ap.add_argument("--default-results", default="", help="comma list of further default-config results.json")
    ap.add_argument("--tuned-unified", type=Path, default=None, help="the unified-protocol tuning folder")
    args = ap.parse_args()
    extra = [Path(p) for p in args.default_results.split(",") if p]
    atomic_write_text(args.report / "summary.md", build(args.report, args.tuned, extra, args.tuned_unified))


if __name__ == "__main__":
    main()
