"""Figures of a bench grid: per-condition bars, hardness histograms, neighbour label agreement.

Matplotlib is used through the Agg canvas directly (no pyplot, no global backend switch), and
every PNG is written atomically (:func:`hardymer._io.atomic_write`).

    >>> from hardymer.reporting.plots import write_plots
    >>> write_plots(runs, "runs/bench", ["zero-fill", "hardymer"], run_dirs)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from hardymer._io import atomic_write
from hardymer.conditions import CONDITIONS
from hardymer.evaluation.metrics import LOWER_IS_BETTER
from hardymer.reporting.results import summarise

#: x-axis order of the bar plots: the seven conditions, then the mean over the six missing ones
COLUMNS: tuple[str, ...] = CONDITIONS + ("mean6",)
#: the metrics ``write_plots`` draws bars for, per task
PRIMARY_METRICS = {"classification": ("wa", "ua"), "regression": ("acc2", "mae")}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def _task_of(run: dict) -> str:
    t = run["test"]
    first = next(iter(t.values()))
    mets = first if isinstance(first, dict) else t
    return "classification" if "wa" in mets else "regression"


def plot_condition_bars(runs: Sequence[dict], methods: Sequence[str], metric: str, path: str | Path) -> Path:
    """Grouped bars of ``metric`` (test, mean ± std over seeds): one group per condition (and
    ``mean6``), one bar per method. ``runs`` are metrics.json contents (``bench_method`` names
    the row, else ``method``), fixed (flat ``test``) or unified (``test`` per condition)."""
    agg = summarise(runs)
    methods = [m for m in methods if any((m, c) in agg and metric in agg[(m, c)] for c in COLUMNS)]
    columns = [c for c in COLUMNS if any((m, c) in agg and metric in agg[(m, c)] for m in methods)]
    if not methods or not columns:
        raise ValueError(f"no run reports test metric {metric!r} for methods {list(methods)}")
    fig = _figure(max(6.0, 1.0 + 0.9 * len(columns) * max(1, len(methods)) ** 0.5), 4.0)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(columns), dtype=float)
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        mu = np.array([agg[(m, c)][metric][0] if (m, c) in agg and metric in agg[(m, c)] else np.nan for c in columns])
        sd = np.array([agg[(m, c)][metric][1] if (m, c) in agg and metric in agg[(m, c)] else 0.0 for c in columns])
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, mu, width, yerr=sd, capsize=2, label=m)
    ax.set_xticks(x)
    ax.set_xticklabels(columns)
    ax.set_xlabel("available modalities" + (" (mean6: mean over the six missing conditions)" if "mean6" in columns else ""))
    ax.set_ylabel(f"{metric} (test){' — lower is better' if metric in LOWER_IS_BETTER else ''}")
    seeds = sorted({r["seed"] for r in runs})
    ax.set_title(f"{metric} per condition, mean ± std over seeds {', '.join(map(str, seeds))}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", ncols=min(len(methods), 4))
    return _save(fig, path)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _ordered(conds: Iterable[str]) -> list[str]:
    conds = set(conds)
    return [c for c in CONDITIONS if c in conds] + sorted(conds - set(CONDITIONS))


def plot_hardness_histograms(run_dirs: Sequence[str | Path], path: str | Path) -> Path | None:
    """One histogram of the hardness ``h`` of the training utterances per condition, pooled over
    the hardymer runs among ``run_dirs`` (those with a ``hardness.json``); None if there are none."""
    h_by_cond: dict[str, list[float]] = defaultdict(list)
    n_runs = 0
    for d in run_dirs:
        rows = _read_json(Path(d) / "hardness.json")
        if not rows:
            continue
        n_runs += 1
        for r in rows:
            h_by_cond[r["condition"]].append(float(r["h"]))
    if not h_by_cond:
        return None
    conds = _ordered(h_by_cond)
    ncols = min(len(conds), 4)
    nrows = math.ceil(len(conds) / ncols)
    fig = _figure(3.0 * ncols, 2.6 * nrows)
    lo = min(0.0, min(min(v) for v in h_by_cond.values()))
    hi = max(1.0, max(max(v) for v in h_by_cond.values()))
    bins = np.linspace(lo, hi, 21)
    for i, c in enumerate(conds):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        h = np.asarray(h_by_cond[c])
        ax.hist(h, bins=bins, color="tab:blue", alpha=0.8)
        ax.set_title(f"condition {c}: n={len(h)}, mean h={h.mean():.2f}", fontsize="small")
        ax.set_xlabel("hardness h")
        if i % ncols == 0:
            ax.set_ylabel("training utterances")
    fig.suptitle(f"hardness of training utterances ({n_runs} run{'s' if n_runs != 1 else ''})")
    return _save(fig, path)


def plot_label_agreement(run_dirs: Sequence[str | Path], path: str | Path) -> Path | None:
    """Share of the first k retrieved neighbours with the anchor's label (class / sign) against
    k, one line per condition, mean over the runs with a ``hardness_summary.json``; None if none.

    No chance line is drawn: it depends on the label distribution, which the summaries lack."""
    vals: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    n_runs = 0
    for d in run_dirs:
        s = _read_json(Path(d) / "hardness_summary.json")
        if not s or "conditions" not in s:
            continue
        n_runs += 1
        for c, info in s["conditions"].items():
            for k, v in (info.get("label_agreement_at_k") or {}).items():
                if v is not None and not (isinstance(v, float) and math.isnan(v)):
                    vals[c][int(k)].append(float(v))
    vals = {c: ks for c, ks in vals.items() if ks}
    if not vals:
        return None
    fig = _figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    all_k: set[int] = set()
    for c in _ordered(vals):
        ks = sorted(vals[c])
        all_k.update(ks)
        ax.plot(ks, [float(np.mean(vals[c][k])) for k in ks], marker="o", label=c)
    ax.set_xticks(sorted(all_k))
    ax.set_xlabel("k (first k neighbours)")
    ax.set_ylabel("label agreement with the anchor")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    ax.set_title(f"retrieved neighbours' label agreement (mean over {n_runs} run{'s' if n_runs != 1 else ''})")
    ax.legend(title="condition", fontsize="small", ncols=2)
    return _save(fig, path)


def write_plots(runs: Sequence[dict], out_dir: str | Path, methods: Sequence[str],
                run_dirs: Sequence[str | Path] = ()) -> list[Path]:
    """Write ``bars_<metric>.png`` for the primary metrics (acc2/mae for regression, wa/ua for
    classification), ``hardness_hist.png`` and ``label_agreement.png`` (when there are hardymer
    runs) into ``out_dir``; return the paths written."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    if runs:
        for metric in PRIMARY_METRICS[_task_of(runs[0])]:
            try:
                written.append(plot_condition_bars(runs, methods, metric, out_dir / f"bars_{metric}.png"))
            except ValueError:  # no run carries this metric
                continue
    for fn, name in ((plot_hardness_histograms, "hardness_hist.png"), (plot_label_agreement, "label_agreement.png")):
        p = fn(run_dirs, out_dir / name)
        if p is not None:
            written.append(p)
    return written
