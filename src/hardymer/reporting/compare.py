"""Comparing bench results side by side: several ``results.json`` folders, one metric.

Each folder (a bench ``--out`` or ``--report`` folder) contributes one row per method, labelled
``method@label``; columns are the conditions and ``mean6``. Paired differences against a reference
row use only the seeds (seed/fold keys) both rows share (:func:`hardymer.evaluation.stats.paired_differences`).
Folders of different datasets, folds, protocols, selection splits or dataset options are refused
unless mixing is allowed explicitly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from hardymer._io import atomic_write_json, atomic_write_text
from hardymer.errors import ConfigError, DataError
from hardymer.evaluation.metrics import LOWER_IS_BETTER, metric_decimals, metric_names
from hardymer.evaluation.stats import (
    MIN_SEEDS,
    PairedDifference,
    format_interval,
    no_interval_note,
    paired_differences,
)
from hardymer.reporting.paired import per_seed_values
from hardymer.reporting.results import DEFAULT_REFERENCE, summarise
from hardymer.reporting.tables import result_columns

#: results.json keys every compared folder needs
REQUIRED_KEYS = ("dataset", "protocol", "select_on", "methods", "runs")
#: what must agree between folders (unless mixing is allowed): name -> description
SETTINGS = {
    "dataset": "dataset",
    "folds": "folds (splits)",
    "protocol": "protocol",
    "select_on": "model selection split",
    "task": "task",
    "data": "dataset options",
}


@dataclass(frozen=True)
class BenchResults:
    """One folder's ``results.json``: its runs and what they were run on."""

    label: str
    path: str
    dataset: str
    protocol: str
    select_on: str
    task: str
    folds: tuple[str, ...]
    methods: tuple[str, ...]
    runs: tuple[dict, ...]
    data: str | None = None  # the runs' dataset options (from their config.yaml), when the run folders are there

    def setting(self, name: str) -> object:
        return getattr(self, name)


def metric_digits(metric: str) -> int:
    """Decimals a metric is shown with: :func:`hardymer.evaluation.metrics.metric_decimals`."""
    return metric_decimals(metric)


def default_metric(task: str) -> str:
    """The main metric of a task: ``acc2`` for regression, the first classification metric (``wa``) otherwise."""
    return "acc2" if task == "regression" else metric_names("classification")[0]


def _data_signature(folder: Path, runs: Sequence[dict]) -> str | None:
    """The dataset section (name and options, not the root path or fold) of the run configs under
    ``folder`` as canonical text; ``None`` when no run folder with a config.yaml is there."""
    seen: set[str] = set()
    for cfg_path in sorted(folder.glob("*/*/fold*/seed*/config.yaml"))[:200]:
        try:
            data = (yaml.safe_load(cfg_path.read_text()) or {}).get("data") or {}
        except (OSError, yaml.YAMLError):
            continue
        seen.add(json.dumps({"name": data.get("name"), "options": data.get("options") or {}}, sort_keys=True))
    if not seen:
        return None
    return " | ".join(sorted(seen))


def load_bench_results(path: str | Path, label: str | None = None) -> BenchResults:
    """Read ``path/results.json`` (or ``path`` itself when it is the JSON file); ``DataError``
    naming the folder when there is none or it lacks a key."""
    p = Path(path)
    file = p if p.is_file() else p / "results.json"
    folder = file.parent
    if not file.is_file():
        raise DataError("no results.json here (give a `hardymer bench` --out or --report folder)", source=str(p))
    try:
        js = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"not a readable results.json ({type(exc).__name__}: {exc})", source=str(file)) from None
    if not isinstance(js, dict):
        raise DataError("expected a JSON object", source=str(file))
    for key in REQUIRED_KEYS:
        if key not in js:
            raise DataError("missing key", source=str(file), field=key)
    if not js["runs"]:
        raise DataError("no runs", source=str(file), field="runs")
    shared = {"dataset": js["dataset"], "protocol": js["protocol"], "select_on": js["select_on"]}
    runs = tuple({**shared, **r} for r in js["runs"])
    task = js.get("task") or ("classification" if "wa" in _first_metrics(runs[0]) else "regression")
    return BenchResults(
        label=label if label is not None else (folder.name or str(folder)),
        path=str(p),
        dataset=str(js["dataset"]),
        protocol=str(js["protocol"]),
        select_on=str(js["select_on"]),
        task=str(task),
        folds=tuple(sorted({str(r.get("fold")) for r in runs})),
        methods=tuple(js["methods"]),
        runs=runs,
        data=_data_signature(folder, runs),
    )


def _first_metrics(run: dict) -> dict:
    vals = run["test"]
    first = next(iter(vals.values()))
    return first if isinstance(first, dict) else vals


def check_comparable(results: Sequence[BenchResults], allow_mixed: bool = False) -> list[str]:
    """Raise ``ConfigError`` naming the first setting the folders disagree on (dataset, folds,
    protocol, selection split, task, dataset options); with ``allow_mixed`` return those
    disagreements as notes instead. The task must always agree (the metrics differ)."""
    notes = []
    for name, what in SETTINGS.items():
        values = {r.label: r.setting(name) for r in results}
        if name == "data":  # only folders whose run configs are at hand can be compared on this
            values = {k: v for k, v in values.items() if v is not None}
        if len({json.dumps(v, default=str) for v in values.values()}) <= 1:
            continue
        listing = "; ".join(f"{k}: {_show(v)}" for k, v in values.items())
        if name == "task" or not allow_mixed:
            extra = "" if name == "task" else " (--allow-mixed compares them anyway)"
            raise ConfigError(f"the folders differ in {what}: {listing}{extra}")
        notes.append(f"mixed {what}: {listing}")
    return notes


def _show(v: object) -> str:
    return ", ".join(map(str, v)) if isinstance(v, tuple) else str(v)


@dataclass
class Row:
    """One ``method@label`` row: ``mean ± std (n)`` per column."""

    name: str
    method: str
    label: str
    cells: dict[str, tuple[float, float, int]] = field(default_factory=dict)


@dataclass
class Comparison:
    """Rows × columns of one metric, and the paired differences of each row against ``reference``."""

    metric: str
    task: str
    columns: list[str]
    rows: list[Row]
    reference: str | None
    #: ``{row name: {column: paired difference dict (mean, ci_low, ci_high, n, excludes_zero, few_seeds, keys)}}``
    paired: dict[str, dict[str, dict]]
    notes: list[str]

    @property
    def lower_is_better(self) -> bool:
        return self.metric in LOWER_IS_BETTER

    def to_dict(self) -> dict:
        return {**asdict(self), "lower_is_better": self.lower_is_better}


def parse_reference(spec: str | None, results: Sequence[BenchResults]) -> str | None:
    """``METHOD`` (in the first folder holding it) or ``METHOD@LABEL`` (``LABEL`` a folder label
    or the folder as given) -> the row name ``method@label``. ``None`` spec: ``backbone`` in the
    first folder when it is there, else no reference."""
    if spec is None:
        return f"{DEFAULT_REFERENCE}@{results[0].label}" if DEFAULT_REFERENCE in results[0].methods else None
    method, _, where = spec.partition("@")
    if where:
        hits = [r for r in results if where in (r.label, r.path, str(Path(r.path)))]
        if not hits:
            raise ConfigError(
                f"--reference {spec}: no folder {where!r}; folders: {', '.join(r.label for r in results)}"
            )
        if method not in hits[0].methods:
            raise ConfigError(
                f"--reference {spec}: {hits[0].label} has no method {method!r}; methods: {', '.join(hits[0].methods)}"
            )
        return f"{method}@{hits[0].label}"
    for r in results:
        if method in r.methods:
            return f"{method}@{r.label}"
    raise ConfigError(
        f"--reference {spec}: no folder has method {method!r}; methods: "
        + ", ".join(sorted({m for r in results for m in r.methods}))
    )


def compare_results(
    results: Sequence[BenchResults],
    metric: str | None = None,
    reference: str | None = None,
    allow_mixed: bool = False,
    level: float = 0.95,
) -> Comparison:
    """Side-by-side table of ``metric`` (default :func:`default_metric` of the task) over the
    folders, with per-seed paired differences against ``reference`` (``METHOD[@LABEL]``)."""
    if not results:
        raise ConfigError("compare: give at least one results folder")
    labels = [r.label for r in results]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(f"two folders share the label {dup[0]!r}; name them with --label a,b,...")
    notes = check_comparable(results, allow_mixed)
    task = results[0].task
    metric = metric or default_metric(task)
    if metric not in metric_names(task):
        raise ConfigError(f"--metric {metric}: not a {task} metric; metrics: {', '.join(metric_names(task))}")
    ref_name = parse_reference(reference, results)
    if ref_name is None:
        notes.append(
            f"no paired differences: the first folder ({results[0].label}) has no {DEFAULT_REFERENCE!r}; "
            "name one with --reference METHOD[@FOLDER]"
        )
    rows: list[Row] = []
    seeds: dict[str, dict[str, dict[str, float]]] = {}  # row -> key -> column -> value
    for res in results:
        agg = summarise(list(res.runs))
        per_seed = per_seed_values(list(res.runs))
        for m in res.methods:
            name = f"{m}@{res.label}"
            row = Row(
                name,
                m,
                res.label,
                {c: agg[(m, c)][metric] for c in result_columns(agg) if (m, c) in agg and metric in agg[(m, c)]},
            )
            if not row.cells:
                continue
            rows.append(row)
            seeds[name] = {
                key: {c: v[metric] for c, v in conds.items() if metric in v}
                for (pm, key), conds in per_seed.items()
                if pm == m
            }
    columns = result_columns((r.method, c) for r in rows for c in r.cells)
    paired: dict[str, dict[str, dict]] = {}
    if ref_name is not None and ref_name not in seeds:
        raise ConfigError(f"--reference {reference or DEFAULT_REFERENCE}: {ref_name} has no {metric} values")
    if ref_name is not None:
        ref = seeds[ref_name]
        ref_row = rows_of(rows, ref_name)
        few = False
        for row in rows:
            if row.name == ref_name:
                continue
            paired[row.name] = {}
            for c in columns:
                keys = sorted(k for k in seeds[row.name] if k in ref and c in seeds[row.name][k] and c in ref[k])
                if not keys:
                    continue
                d = paired_differences([seeds[row.name][k][c] for k in keys], [ref[k][c] for k in keys], level=level)
                paired[row.name][c] = {**d.to_dict(), "keys": keys}
                few |= d.few_seeds
            unpaired = [c for c in columns if c in row.cells and c not in paired[row.name] and c in ref_row.cells]
            if unpaired:
                notes.append(f"{row.name}: no seed shared with {ref_name} ({', '.join(unpaired)}): no difference")
        if few:
            notes.append(f"fewer than {MIN_SEEDS} shared seeds behind some differences: those intervals are rough")
    return Comparison(
        metric=metric, task=task, columns=columns, rows=rows, reference=ref_name, paired=paired, notes=notes
    )


def rows_of(rows: Sequence[Row], name: str) -> Row:
    """The row called ``name``."""
    return next(r for r in rows if r.name == name)


def value_cell(cell: tuple[float, float, int], digits: int) -> str:
    """``mean ± std`` (``mean`` alone for one run)."""
    mu, sd, n = cell
    return f"{mu:.{digits}f} ± {sd:.{digits}f}" if n > 1 else f"{mu:.{digits}f}"


def diff_cell(d: dict, digits: int, star: str = "*") -> str:
    """``+m [+lo, +hi]`` with ``star`` where the interval excludes 0; ``+m (n=2, no interval)`` where
    the interval is not estimable (:func:`hardymer.evaluation.stats.format_interval`)."""
    return format_interval(d, digits, star)


def comparison_note(cmp: Comparison) -> str:
    """What the difference cells mean, in one line."""
    if cmp.reference is None:
        return ""
    diffs = [d for cols in cmp.paired.values() for d in cols.values()]
    ns = sorted({d["n"] for d in diffs})
    level = round(100 * (diffs[0]["level"] if diffs else 0.95))
    lower = " (lower is better)" if cmp.lower_is_better else ""
    note = (
        f"Δ {cmp.metric}{lower}: per-seed paired difference row − {cmp.reference} on the seeds both share "
        f"(n = {', '.join(map(str, ns)) or '–'}), mean and {level} % Student-t interval; * = the interval excludes 0."
    )
    if any(not PairedDifference.from_dict(d).estimable for d in diffs):
        note += " " + no_interval_note()
    return note


def comparison_markdown(cmp: Comparison) -> str:
    """Markdown: the values table, the difference table and the notes."""
    dg = metric_decimals(cmp.metric)
    lower = " — lower is better" if cmp.lower_is_better else ""
    out = (
        f"## {cmp.metric} (test){lower}\n\n| row | "
        + " | ".join(cmp.columns)
        + " |\n|---|"
        + "---|" * len(cmp.columns)
        + "\n"
    )
    for r in cmp.rows:
        out += (
            f"| {r.name} | "
            + " | ".join(value_cell(r.cells[c], dg) if c in r.cells else "–" for c in cmp.columns)
            + " |\n"
        )
    if cmp.reference is not None and cmp.paired:
        out += (
            f"\n## paired difference vs {cmp.reference}: {cmp.metric}\n\n| row − {cmp.reference} | "
            + " | ".join(cmp.columns)
            + " |\n|---|"
            + "---|" * len(cmp.columns)
            + "\n"
        )
        for name, cols in cmp.paired.items():
            out += (
                f"| {name} | "
                + " | ".join(diff_cell(cols[c], dg, "\\*") if c in cols else "–" for c in cmp.columns)
                + " |\n"
            )
        out += "\n" + comparison_note(cmp).replace("*", "\\*") + "\n"
    out += "".join(f"\n- {n}" for n in cmp.notes) + ("\n" if cmp.notes else "")
    return out


def comparison_csv(cmp: Comparison) -> str:
    """CSV: one line per (row, column): the value (mean, std, n) and the difference vs the reference."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "row",
            "method",
            "folder",
            "condition",
            "metric",
            "mean",
            "std",
            "n",
            "reference",
            "diff_mean",
            "ci_low",
            "ci_high",
            "n_paired",
            "excludes_zero",
        ]
    )
    for r in cmp.rows:
        for c in cmp.columns:
            if c not in r.cells:
                continue
            mu, sd, n = r.cells[c]
            d = cmp.paired.get(r.name, {}).get(c)
            diff = (
                ["", "", "", "", ""]
                if d is None
                else [
                    f"{d['mean']:.6f}",
                    "" if d["ci_low"] is None else f"{d['ci_low']:.6f}",
                    "" if d["ci_high"] is None else f"{d['ci_high']:.6f}",
                    d["n"],
                    int(d["excludes_zero"]),
                ]
            )
            w.writerow(
                [r.name, r.method, r.label, c, cmp.metric, f"{mu:.6f}", f"{sd:.6f}", n, cmp.reference or "", *diff]
            )
    return buf.getvalue()


OUT_SUFFIXES = (".md", ".csv", ".json")


def check_out_file(path: str | Path, suffixes: Sequence[str] = OUT_SUFFIXES, option: str = "--out") -> None:
    """``ConfigError`` unless ``path`` ends in one of ``suffixes`` and is not an existing folder."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise ConfigError(f"{option} {path}: use a {', '.join(suffixes[:-1])} or {suffixes[-1]} file")
    if p.is_dir():
        raise ConfigError(f"{option} {path}: is a folder, not a file")


def write_comparison(cmp: Comparison, path: str | Path) -> Path:
    """Write the comparison atomically as ``.md``, ``.csv`` or ``.json`` (by the suffix)."""
    p = Path(path)
    check_out_file(p)
    suffix = p.suffix.lower()
    if suffix == ".md":
        atomic_write_text(p, comparison_markdown(cmp))
    elif suffix == ".csv":
        atomic_write_text(p, comparison_csv(cmp))
    elif suffix == ".json":
        atomic_write_json(p, cmp.to_dict())
    return p
