"""Figures of a bench grid: per-condition bars, hardness scores, neighbour label agreement.

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
from hardymer.conditions import CONDITIONS, label_rate
from hardymer.evaluation.metrics import LOWER_IS_BETTER
from hardymer.reporting.paired import paired_vs_reference
from hardymer.reporting.reference import CONSTANT_KEY
from hardymer.reporting.results import summarise

#: x-axis order of the bar plots: the seven conditions, then the mean over the six missing ones
COLUMNS: tuple[str, ...] = CONDITIONS + ("mean6",)
#: the metrics ``write_plots`` draws bars for, per task
PRIMARY_METRICS = {"classification": ("wa", "ua"), "regression": ("acc2", "mae")}
#: binary accuracies: a coin flip scores 50 %, drawn when the runs carry no constant-predictor reference
BINARY_METRICS = frozenset({"acc2", "acc2_has0"})
#: legend text of the constant-predictor line per metric
CONSTANT_LABELS = {
    "wa": "test majority class",
    "ua": "any one class",
    "acc2": "test majority sign",
    "acc2_has0": "test majority sign",
    "acc7": "test majority class",
    "mae": "test median",
}
#: file names :func:`write_plots` gives the hardness and label-agreement figures
HARDNESS_PNG = "hardness.png"
LABEL_AGREEMENT_PNG = "label_agreement.png"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path, tight: bool = True) -> Path:
    path = Path(path)
    if tight:
        fig.tight_layout()
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))


def _task_of(run: dict) -> str:
    t = run["test"]
    first = next(iter(t.values()))
    mets = first if isinstance(first, dict) else t
    return "classification" if "wa" in mets else "regression"


def _seed_text(seeds: Iterable[int]) -> str:
    """``seed 0`` / ``seeds 0, 1, 2``."""
    seeds = sorted(set(seeds))
    return f"seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))}"


def constant_reference(runs: Sequence[dict], metric: str) -> tuple[float, str] | None:
    """(value, legend label) of the horizontal reference line of ``metric``'s bar plot, or None.

    The mean over the runs of their ``constant_predictor`` metrics (the best constant prediction on
    each run's test split, :mod:`hardymer.reporting.reference`); without it, 50 % chance for the
    binary accuracies (``acc2``, ``acc2_has0``), else None."""
    vals = [
        float(r[CONSTANT_KEY][metric])
        for r in runs
        if isinstance(r.get(CONSTANT_KEY), dict) and r[CONSTANT_KEY].get(metric) is not None
    ]
    vals = [v for v in vals if not math.isnan(v)]
    if vals:
        value = float(np.mean(vals))
        unit = "" if metric in LOWER_IS_BETTER else " %"
        what = CONSTANT_LABELS.get(metric, "best constant prediction")
        return value, f"best constant prediction ({what}): {value:.{3 if unit == '' else 1}f}{unit}"
    if metric in BINARY_METRICS:
        return 50.0, "chance (50 %, coin flip)"
    return None


def _y_limits(lows: Iterable[float], highs: Iterable[float]) -> tuple[float, float]:
    """Axis limits around the data (not from 0): the span of ``lows``..``highs`` plus a margin."""
    lo = min(v for v in lows if np.isfinite(v))
    hi = max(v for v in highs if np.isfinite(v))
    pad = max(0.08 * (hi - lo), 0.02 * max(abs(hi), abs(lo)), 1e-3)
    return lo - pad, hi + pad


def plot_condition_bars(runs: Sequence[dict], methods: Sequence[str], metric: str, path: str | Path) -> Path:
    """Grouped bars of ``metric`` (test, mean ± std over seeds): one group per condition (and
    ``mean6``), one bar per method. ``runs`` are metrics.json contents (``bench_method`` names
    the row, else ``method``), fixed (flat ``test``) or unified (``test`` per condition).

    The y-axis spans the data (it does not start at 0); a dashed line marks the constant-prediction
    reference of :func:`constant_reference` where there is one. The legend (every method, then the
    reference) sits right of the axes."""
    agg = summarise(runs)
    methods = [m for m in methods if any((m, c) in agg and metric in agg[(m, c)] for c in COLUMNS)]
    columns = [c for c in COLUMNS if any((m, c) in agg and metric in agg[(m, c)] for m in methods)]
    if not methods or not columns:
        raise ValueError(f"no run reports test metric {metric!r} for methods {list(methods)}")
    fig = _figure(max(6.0, 2.5 + 0.9 * len(columns) * max(1, len(methods)) ** 0.5), 4.0)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(columns), dtype=float)
    width = 0.8 / len(methods)
    lows: list[float] = []
    highs: list[float] = []
    for i, m in enumerate(methods):
        mu = np.array([agg[(m, c)][metric][0] if (m, c) in agg and metric in agg[(m, c)] else np.nan for c in columns])
        sd = np.array([agg[(m, c)][metric][1] if (m, c) in agg and metric in agg[(m, c)] else 0.0 for c in columns])
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, mu, width, yerr=sd, capsize=2, label=m)
        lows += list(mu - sd)
        highs += list(mu + sd)
    ref = constant_reference(runs, metric)
    if ref is not None:
        ax.axhline(ref[0], color="black", linestyle="--", linewidth=1.2, label=ref[1], zorder=3, gid="constant")
        lows.append(ref[0])
        highs.append(ref[0])
    ax.set_ylim(*_y_limits(lows, highs))
    if "mean6" in columns and len(columns) > 1:
        ax.axvline(len(columns) - 1.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xticks(x)
    ax.set_xticklabels(columns)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_xlabel(
        "available modalities" + (" (mean6: mean over the six missing conditions)" if "mean6" in columns else "")
    )
    ax.set_ylabel(f"{metric} (test){' — lower is better' if metric in LOWER_IS_BETTER else ''}")
    ax.set_title(
        f"{metric} per condition, mean ± std over {_seed_text(r['seed'] for r in runs)} (y-axis does not start at 0)",
        fontsize="medium",
    )
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda j: ref is not None and labels[j] == ref[1])  # methods first
    ax.legend(
        [handles[j] for j in order],
        [labels[j] for j in order],
        fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
    )
    return _save(fig, path)


def is_rate_grid(runs: Sequence[dict]) -> bool:
    """Whether ``runs`` are a random-protocol grid (their conditions are missing-rate labels)."""
    return bool(runs) and all(label_rate(str(r.get("condition"))) is not None for r in runs)


def plot_rate_curve(
    runs: Sequence[dict], methods: Sequence[str], metric: str, path: str | Path, reference: str = "backbone"
) -> Path:
    """The random protocol's curve: left, ``metric`` (test) over the missing rate r, mean ± std over
    seeds per method; right, the paired difference ``method − reference`` over r with its 95 %
    Student-t interval (same seed, same stored masks). Without ``reference`` among ``methods``, the
    left panel only."""
    agg = summarise(runs)
    rate_cols = sorted({c for (_, c) in agg if label_rate(c) is not None}, key=lambda c: label_rate(c) or 0.0)
    methods = [m for m in methods if any((m, c) in agg and metric in agg[(m, c)] for c in rate_cols)]
    if not methods or not rate_cols:
        raise ValueError(f"no run reports test metric {metric!r} at a missing rate for methods {list(methods)}")
    paired = paired_vs_reference(runs, methods, reference)
    diffs = {
        (d["method"], d["condition"]): d
        for d in paired.get("differences", [])
        if d["metric"] == metric and label_rate(d["condition"]) is not None
    }
    two = bool(diffs)
    fig = _figure(11.0 if two else 6.5, 4.0)
    ax = fig.add_subplot(1, 2 if two else 1, 1)
    colour = {m: f"C{i % 10}" for i, m in enumerate(methods)}  # one colour per method in both panels
    for m in methods:
        cols = [c for c in rate_cols if (m, c) in agg and metric in agg[(m, c)]]
        r = np.array([label_rate(c) for c in cols], dtype=float)
        mu = np.array([agg[(m, c)][metric][0] for c in cols])
        sd = np.array([agg[(m, c)][metric][1] for c in cols])
        ax.plot(r, mu, marker="o", markersize=3, label=m, color=colour[m])
        ax.fill_between(r, mu - sd, mu + sd, alpha=0.15, color=colour[m])
    ax.set_xlabel("missing rate r")
    ax.set_ylabel(f"{metric} (test){' — lower is better' if metric in LOWER_IS_BETTER else ''}")
    ax.set_title(f"{metric} over r, mean ± std over {_seed_text(r['seed'] for r in runs)}", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if two:
        ax2 = fig.add_subplot(1, 2, 2)
        ax2.axhline(0.0, color="black", linewidth=0.8)
        for m in methods:
            cols = [c for c in rate_cols if (m, c) in diffs]
            if not cols:
                continue
            r = np.array([label_rate(c) for c in cols], dtype=float)
            mean = np.array([diffs[(m, c)]["mean"] for c in cols])
            lo = np.array([diffs[(m, c)]["ci_low"] if diffs[(m, c)]["ci_low"] is not None else np.nan for c in cols])
            hi = np.array([diffs[(m, c)]["ci_high"] if diffs[(m, c)]["ci_high"] is not None else np.nan for c in cols])
            err = [mean - lo, hi - mean]
            ax2.errorbar(r, mean, yerr=err, marker="o", markersize=3, capsize=2, label=m, color=colour[m])
        ax2.set_xlabel("missing rate r")
        ax2.set_ylabel(f"{metric}: method − {reference} (paired)")
        ax2.set_title("paired difference, 95 % interval over seeds", fontsize="medium")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize="small")
    return _save(fig, path)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _ordered(conds: Iterable[str]) -> list[str]:
    conds = set(conds)
    return [c for c in CONDITIONS if c in conds] + sorted(conds - set(CONDITIONS))


def _run_info(run_dirs: Sequence[str | Path]) -> tuple[list[int], str | None]:
    """(seeds, task) of the finished runs among ``run_dirs``, from their metrics.json (task None if unknown)."""
    seeds: set[int] = set()
    tasks: set[str] = set()
    for d in run_dirs:
        m = _read_json(Path(d) / "metrics.json")
        if not isinstance(m, dict):
            continue
        if "seed" in m:
            seeds.add(int(m["seed"]))
        if m.get("test"):
            tasks.add(_task_of(m))
    return sorted(seeds), (tasks.pop() if len(tasks) == 1 else None)


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


def fitted_alphas(dh: np.ndarray, ih: np.ndarray, s: np.ndarray) -> tuple[float, float] | None:
    """(α1, α2) with s = α1·minmax(DH) + α2·minmax(IH), recovered from stored rows by least squares;
    None when DH or IH is constant or the rows do not fit that form."""
    a, b = _minmax(np.asarray(dh, float)), _minmax(np.asarray(ih, float))
    if not a.any() or not b.any():
        return None
    design = np.stack([a, b], 1)
    coef, *_ = np.linalg.lstsq(design, np.asarray(s, float), rcond=None)
    if np.max(np.abs(design @ coef - s)) > 1e-6:
        return None
    return float(coef[0]), float(coef[1])


def plot_hardness(run_dirs: Sequence[str | Path], path: str | Path) -> Path | None:
    """Box plots per condition of what the hardness is made of: the direct hardness DH, the indirect
    hardness IH and their combination s, for the training utterances of the hardymer runs among
    ``run_dirs`` (those with a ``hardness.json``), pooled over runs; None if there are none.

    ``h`` itself is not drawn: under ``mapping=rank`` it is the rank of s, uniform by construction.
    A caption under the axes says what each quantity is."""
    vals: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    used: list[Path] = []
    mappings: set[str] = set()
    estimators: set[str] = set()
    for d in run_dirs:
        rows = _read_json(Path(d) / "hardness.json")
        if not rows:
            continue
        used.append(Path(d))
        summary = _read_json(Path(d) / "hardness_summary.json") or {}
        mappings.add(str(summary.get("mapping", "?")))
        estimators.add(str(summary.get("mi_estimator", "?")))
        for r in rows:
            for key in ("dh", "ih", "s"):
                vals[r["condition"]][key].append(float(r[key]))
    if not vals:
        return None
    degenerate = [c for c in _ordered(vals) if not any(np.any(vals[c][k]) for k in ("dh", "ih", "s"))]
    conds = [c for c in _ordered(vals) if c not in degenerate] or degenerate
    fits = [fitted_alphas(*(np.asarray(vals[c][k]) for k in ("dh", "ih", "s"))) for c in conds]
    alphas = {(round(f[0], 4), round(f[1], 4)) for f in fits if f is not None}
    seeds, _ = _run_info(used)
    fig = _figure(13.0, 4.6)
    panels = (("dh", "DH (direct hardness)"), ("ih", "IH (indirect hardness)"), ("s", "s (combined score)"))
    for i, (key, name) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        data = [np.asarray(vals[c][key]) for c in conds]
        ax.boxplot(
            data,
            whis=(5, 95),
            showfliers=False,
            showmeans=True,
            widths=0.6,
            meanprops={"marker": "^", "markerfacecolor": "tab:green", "markeredgecolor": "tab:green"},
        )
        ax.set_xticks(np.arange(1, len(conds) + 1))
        ax.set_xticklabels(conds)
        ax.set_xlabel("available modalities")
        ax.set_title(name, fontsize="medium")
        ax.grid(axis="y", alpha=0.3)
    n_per = sorted({len(vals[c]["s"]) for c in conds})
    who = _seed_text(seeds) if seeds else f"{len(used)} run{'s' if len(used) != 1 else ''}"
    fig.suptitle(
        f"what the hardness is made of, training utterances per condition ({who}; "
        f"n = {'/'.join(map(str, n_per))} per condition)"
    )
    ih_txt = (
        "IH: −PMI between the present and the missing modalities (InfoNCE critic); low shared information = hard."
        if estimators == {"critic"}
        else "IH: the release's entropy proxy from the teacher's encodings (high = hard)."
        if estimators == {"entropy"}
        else "IH: indirect hardness (estimator as configured)."
    )
    a_txt = f" (α1 = {min(alphas)[0]:.2f}, α2 = {min(alphas)[1]:.2f})" if len(alphas) == 1 else ""
    h_txt = (
        "h = rank of s, uniform on [0, 1] by construction, so it is not shown."
        if mappings == {"rank"}
        else f"h = mapping {'/'.join(sorted(mappings))} of s (not shown)."
    )
    caption = (
        "DH: the teacher's reconstruction error of the missing modalities. " + ih_txt + "\n"
        f"s = α1·norm(DH) + α2·norm(IH){a_txt}, norm: min–max over the training set. "
        + h_txt
        + "\n"
        + (
            f"Not drawn: {', '.join(degenerate)} (nothing missing, DH = IH = s = 0). "
            if degenerate and degenerate != conds
            else ""
        )
        + "Boxes: quartiles and median; whiskers: 5–95 %; triangles: means."
    )
    fig.tight_layout(rect=(0.0, 0.14, 1.0, 0.95))
    fig.text(0.01, 0.01, caption, ha="left", va="bottom", fontsize="small")
    return _save(fig, path, tight=False)


def plot_label_agreement(run_dirs: Sequence[str | Path], path: str | Path) -> Path | None:
    """Share of the first k retrieved neighbours with the anchor's label against k, one line per
    condition, mean over the runs with a ``hardness_summary.json``; None if none. The label is the
    class (classification) or the sign of the score, ≥ 0 vs < 0 (regression), as
    :func:`hardymer.hardness.diagnostics.label_agreement_share` counts it.

    No chance line is drawn: it depends on the label distribution, which the summaries lack."""
    vals: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    used: list[Path] = []
    for d in run_dirs:
        s = _read_json(Path(d) / "hardness_summary.json")
        if not s or "conditions" not in s:
            continue
        used.append(Path(d))
        for c, info in s["conditions"].items():
            for k, v in (info.get("label_agreement_at_k") or {}).items():
                if v is not None and not (isinstance(v, float) and math.isnan(v)):
                    vals[c][int(k)].append(float(v))
    vals = {c: ks for c, ks in vals.items() if ks}
    if not vals:
        return None
    seeds, task = _run_info(used)
    agree = {"classification": "the anchor's class", "regression": "the sign of the anchor's score (≥ 0 vs < 0)"}.get(
        task or "", "the anchor's label (class; sign of the score for regression)"
    )
    fig = _figure(7.0, 4.4)
    ax = fig.add_subplot(1, 1, 1)
    all_k: set[int] = set()
    markers = "osD^v<>"
    for j, c in enumerate(_ordered(vals)):
        ks = sorted(vals[c])
        all_k.update(ks)
        # distinct markers, shrinking, so that lines on top of each other stay visible
        ax.plot(
            ks,
            [float(np.mean(vals[c][k])) for k in ks],
            marker=markers[j % len(markers)],
            markersize=max(3.0, 9.0 - j),
            label=c,
        )
    ax.set_xticks(sorted(all_k))
    ax.set_xlabel("k (the first k retrieved neighbours of each training utterance)")
    ax.set_ylabel(f"share of neighbours with\n{agree}")
    ax.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    who = _seed_text(seeds) if seeds else f"{len(used)} run{'s' if len(used) != 1 else ''}"
    several = max(len(v) for ks in vals.values() for v in ks.values()) > 1
    ax.set_title(f"retrieved neighbours' label agreement ({'mean over ' if several else ''}{who})", fontsize="medium")
    ax.legend(title="condition", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return _save(fig, path)


def write_plots(
    runs: Sequence[dict],
    out_dir: str | Path,
    methods: Sequence[str],
    run_dirs: Sequence[str | Path] = (),
    reference: str = "backbone",
) -> list[Path]:
    """Write ``bars_<metric>.png`` for the primary metrics (acc2/mae for regression, wa/ua for
    classification; for a random-protocol grid ``curve_<metric>.png``, the metric and the paired
    difference against ``reference`` over the missing rate), ``hardness.png`` and
    ``label_agreement.png`` (when there are hardymer runs) into ``out_dir``; return the paths written."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    if runs:
        curve = is_rate_grid(runs)
        for metric in PRIMARY_METRICS[_task_of(runs[0])]:
            try:
                if curve:
                    written.append(plot_rate_curve(runs, methods, metric, out_dir / f"curve_{metric}.png", reference))
                else:
                    written.append(plot_condition_bars(runs, methods, metric, out_dir / f"bars_{metric}.png"))
            except ValueError:  # no run carries this metric
                continue
    for fn, name in ((plot_hardness, HARDNESS_PNG), (plot_label_agreement, LABEL_AGREEMENT_PNG)):
        p = fn(run_dirs, out_dir / name)
        if p is not None:
            written.append(p)
    return written
