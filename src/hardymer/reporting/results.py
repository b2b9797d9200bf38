"""Aggregating bench runs into results.csv, results.json and results.md."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from hardymer._env import describe, environment
from hardymer._io import atomic_write_json, atomic_write_text
from hardymer.conditions import AUC_COLUMN, label_rate
from hardymer.errors import ConfigError, DataError
from hardymer.evaluation.metrics import LOWER_IS_BETTER, metric_decimals, metric_names
from hardymer.reporting.paired import MAIN_METRICS, paired_table, paired_vs_reference
from hardymer.reporting.tables import add_condition_means, aggregate, markdown_table, per_condition, result_columns

#: the reference method of the paired-difference tables unless told otherwise
DEFAULT_REFERENCE = "backbone"
#: per-run keys kept in results.json (enough to rebuild every table)
RUN_KEYS = (
    "bench_method",
    "method",
    "condition",
    "seed",
    "fold",
    "best_epoch",
    "val",
    "test",
    "train_seconds",
    "environment",
    "constant_predictor",
    "missing",
)


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
    sel_txt = (
        "validation (honest)" if sel == "val" else "**TEST — optimistic, only for comparison with published numbers**"
    )
    return (
        f"# {title or 'Results'}\n\n"
        f"- dataset: `{dataset}`, fold(s): {', '.join(folds)}\n"
        f"- protocol: `{r0['protocol']}`; reported split: test\n"
        f"- model selection: best epoch on {sel_txt}, metric `{r0['select_metric']}`\n"
        f"- seeds: {', '.join(map(str, seeds))} "
        f"(mean ± sample std over seeds{' and folds' if len(folds) > 1 else ''})\n"
        + (
            random_protocol_note(runs)
            if r0["protocol"] == "random"
            else "- `mean6` = mean over the six missing-modality conditions (per seed, then mean ± std)\n"
        )
        + "".join(f"- {n}\n" for n in notes)
    )


def random_protocol_note(runs: Sequence[dict]) -> str:
    """The header lines of a random-protocol grid: what ``r0.30`` and ``auc`` mean, the generator,
    the mask seed and the stored test masks' digests and realised missing rates."""
    masks: dict[str, dict] = {}
    for r in runs:
        if "missing" in r and label_rate(str(r["condition"])) is not None:
            masks.setdefault(str(r["condition"]), r["missing"])
    kinds = sorted({str(m.get("mask")) for m in masks.values()})
    seeds = sorted({int(m.get("mask_seed", 0)) for m in masks.values()})
    out = (
        "- columns `rX`: one model per missing rate X (each (utterance, modality) entry missing with rate X "
        "in training, drawn per step); validation and test under one stored mask per rate, the same for "
        f"every method and seed (generator `{', '.join(kinds) or '?'}`, "
        f"mask seed {', '.join(map(str, seeds)) or '?'})\n"
        f"- `{AUC_COLUMN}` = area under the metric-over-rate curve divided by the span of r (trapezoid rule; "
        "the mean over the swept rates), per seed, then mean ± std\n"
    )
    if masks:
        cells = ", ".join(
            f"{c}: {100 * float(m.get('test_missing_rate', float('nan'))):.1f} % (`{m.get('test_digest', '?')}`)"
            for c, m in sorted(masks.items(), key=lambda kv: label_rate(kv[0]) or 0.0)
        )
        out += f"- realised missing rate of the stored test masks (digest): {cells}\n"
    return out


def run_environments(runs: Sequence[dict]) -> list[dict]:
    """The distinct numeric environments recorded in the runs' metrics (first-seen order)."""
    seen: dict[str, dict] = {}
    for r in runs:
        env = r.get("environment")
        if env:
            seen.setdefault(json.dumps(env, sort_keys=True), env)
    return list(seen.values())


def environment_line(run_envs: Sequence[dict], report_env: dict) -> str:
    """``numeric environment: torch X, numpy Y, faiss Z, N threads, <cpu>`` (one per distinct
    environment of the runs; says so when the runs did not record one)."""
    if run_envs:
        return "- numeric environment: " + "; ".join(describe(e) for e in run_envs) + "\n"
    return (
        "- numeric environment: not recorded by these runs (their metrics.json predate it); "
        f"this report was written with {describe(report_env, threads=False)}\n"
    )


def paired_csv(paired: dict) -> str:
    """CSV of the paired differences: one row per (method, condition, metric); per-seed
    differences joined by ``;`` in seed order (``keys``); empty interval for one seed."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "reference",
            "method",
            "condition",
            "metric",
            "mean",
            "ci_low",
            "ci_high",
            "n",
            "excludes_zero",
            "keys",
            "diffs",
        ]
    )
    for d in paired.get("differences", []):
        ci = ["" if d[k] is None else f"{d[k]:.6f}" for k in ("ci_low", "ci_high")]
        w.writerow(
            [
                paired["reference"],
                d["method"],
                d["condition"],
                d["metric"],
                f"{d['mean']:.6f}",
                *ci,
                d["n"],
                int(d["excludes_zero"]),
                ";".join(d["keys"]),
                ";".join(f"{x:.6f}" for x in d["diffs"]),
            ]
        )
    return buf.getvalue()


def write_results(
    runs: Sequence[dict],
    out_dir: str | Path,
    dataset: str,
    methods: Sequence[str],
    title: str | None = None,
    command: str | None = None,
    reference: str = DEFAULT_REFERENCE,
    notes: Sequence[str] = (),
) -> Path:
    """Write results.csv / paired.csv / results.json / results.md into ``out_dir``; return the .md path.

    Besides mean ± std tables, results.md gets per-seed paired differences against ``reference``
    for the main metrics (skipped with a note when ``reference`` is not in ``methods``), and
    results.json the full paired numbers and the numeric environment. ``notes`` are extra header
    lines (e.g. where tuned configs came from).
    """
    out_dir = Path(out_dir)
    task = "classification" if "wa" in next(iter(per_condition(runs[0]).values())) else "regression"
    agg = summarise(runs)
    columns = result_columns(key for key in agg if key[0] in methods)
    run_envs = run_environments(runs)
    report_env = environment()
    paired = paired_vs_reference(runs, methods, reference)
    md = header(runs, dataset, title, notes) + environment_line(run_envs, report_env)
    if command:
        md += f"\nRegenerate with:\n\n```\n{command}\n```\n"
    for metric in metric_names(task):
        md += f"\n## {metric} (test){' — lower is better' if metric in LOWER_IS_BETTER else ''}\n\n"
        md += markdown_table(
            agg, metric, methods, columns, lower_is_better=metric in LOWER_IS_BETTER, digits=metric_decimals(metric)
        )
    for metric in MAIN_METRICS[task]:
        lower = " — lower is better" if metric in LOWER_IS_BETTER else ""
        md += f"\n## paired difference vs {reference}: {metric} (test){lower}\n\n"
        md += paired_table(paired, metric, methods, columns, digits=metric_decimals(metric))
    atomic_write_text(out_dir / "results.md", md)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["method", "condition", "metric", "mean", "std", "n"])
    for (m, c), mets in sorted(agg.items()):
        for k, (mu, sd, n) in mets.items():
            w.writerow([m, c, k, f"{mu:.6f}", f"{sd:.6f}", n])
    atomic_write_text(out_dir / "results.csv", buf.getvalue())
    atomic_write_text(out_dir / "paired.csv", paired_csv(paired))
    atomic_write_json(
        out_dir / "results.json",
        {
            "dataset": dataset,
            "protocol": runs[0]["protocol"],
            "select_on": runs[0]["select_on"],
            "optimistic": runs[0]["select_on"] == "test",
            "epoch_numbering": "1-based",
            "seeds": sorted({r["seed"] for r in runs}),
            "methods": list(methods),
            "summary": [
                {"method": m, "condition": c, **{k: {"mean": v[0], "std": v[1], "n": v[2]} for k, v in mets.items()}}
                for (m, c), mets in sorted(agg.items())
            ],
            "runs": [{k: r[k] for k in RUN_KEYS if k in r} for r in runs],
            "task": task,
            "select_metric": runs[0]["select_metric"],
            "title": title,
            "command": command,
            "notes": list(notes),
            "environment": {"runs": run_envs, "report": report_env},
            "paired": paired,
        },
    )
    return out_dir / "results.md"


def rebuild_results(
    results_json: str | Path,
    out_dir: str | Path | None = None,
    *,
    reference: str | None = None,
    title: str | None = None,
    command: str | None = None,
    select_metric: str | None = None,
) -> Path:
    """Rewrite results.md / .csv / .json and paired.csv from a results.json (its per-run metrics), e.g. after the
    report format changed, without the run folders. ``title`` and ``command`` (when given)
    replace the stored ones; ``select_metric`` fills in what older results.json files did not
    store; the stored header notes are kept; the reference defaults to the stored one, else
    :data:`DEFAULT_REFERENCE`. Returns the .md path (next to the JSON unless ``out_dir``)."""
    path = Path(results_json)
    try:
        js = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"not a readable results.json ({type(exc).__name__}: {exc})", source=str(path)) from exc
    for key in ("dataset", "protocol", "select_on", "methods", "runs"):
        if key not in js:
            raise DataError("missing key", source=str(path), field=key)
    if not js["runs"]:
        raise DataError("no runs", source=str(path), field="runs")
    metric = js.get("select_metric") or select_metric
    if not metric:
        raise ConfigError(f"{path}: results.json does not store select_metric; pass select_metric")
    shared = {
        "dataset": js["dataset"],
        "protocol": js["protocol"],
        "select_on": js["select_on"],
        "select_metric": metric,
        "optimistic": js["select_on"] == "test",
    }
    runs = [{**shared, **r} for r in js["runs"]]
    ref = reference or (js.get("paired") or {}).get("reference") or DEFAULT_REFERENCE
    return write_results(
        runs,
        out_dir if out_dir is not None else path.parent,
        js["dataset"],
        js["methods"],
        title=title if title is not None else js.get("title"),
        command=command if command is not None else js.get("command"),
        reference=ref,
        notes=js.get("notes") or (),
    )
