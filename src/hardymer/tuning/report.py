"""Trial table (CSV) and optimisation-history plot of a study."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hardymer._io import atomic_write, atomic_write_text


def write_trials_csv(trials: Sequence[Any], path: str | Path) -> None:
    """One row per trial: number, state, value, duration_s, then one ``params_<key>`` column per parameter."""
    keys = sorted({k for t in trials for k in t.params})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["number", "state", "value", "duration_s", *[f"params_{k}" for k in keys], "error"])
    for t in trials:
        dur = t.duration.total_seconds() if t.duration is not None else ""
        w.writerow(
            [
                t.number,
                t.state.name,
                "" if t.value is None else repr(float(t.value)),
                dur,
                *[json.dumps(t.params[k]) if k in t.params else "" for k in keys],
                t.user_attrs.get("error", ""),
            ]
        )
    atomic_write_text(path, buf.getvalue())


def _conditions_text(conditions: Sequence[str] | str) -> str:
    if isinstance(conditions, str):
        return conditions
    return f"condition{'s' if len(conditions) != 1 else ''} {', '.join(conditions)}" if conditions else ""


def history_figure(
    trials: Sequence[Any], direction: str, metric: str, *, method: str = "", conditions: Sequence[str] | str = ""
) -> Any:
    """The matplotlib ``Figure`` of :func:`write_history_png` (Agg canvas, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, MultipleLocator

    done = [(t.number, float(t.value)) for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if done:
        xs, ys = zip(*done)
        best, cur = [], math.inf if direction == "minimize" else -math.inf
        for y in ys:
            cur = min(cur, y) if direction == "minimize" else max(cur, y)
            best.append(cur)
        ax.scatter(xs, ys, s=14, label="complete trial")
        ax.step(xs, best, where="post", color="C3", label="best so far")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    n_ticks = max((t.number for t in trials), default=0) + 1
    ax.xaxis.set_major_locator(MultipleLocator(1) if n_ticks <= 20 else MaxNLocator(integer=True))
    rest = len(trials) - len(done)
    ax.set_xlabel(
        f"trial number ({len(done)} of {len(trials)} complete"
        + (f"; {rest} pruned or failed, not drawn)" if rest else ")")
    )
    better = "lower" if direction == "minimize" else "higher"
    ax.set_ylabel(f"validation {metric} ({better} is better)")
    ax.grid(alpha=0.3)
    what = ", ".join(x for x in (method, _conditions_text(conditions)) if x)
    ax.set_title(
        f"optimisation history{': ' + what if what else ''}\n"
        f"objective: validation {metric}, mean over the trial's runs ({direction})",
        fontsize="medium",
    )
    fig.tight_layout()
    return fig


def write_history_png(
    trials: Sequence[Any],
    path: str | Path,
    direction: str,
    metric: str,
    *,
    method: str = "",
    conditions: Sequence[str] | str = "",
) -> Path:
    """Objective of each complete trial (dots) and the best so far (step line) against the trial
    number (integer ticks). The title names ``method``, the ``conditions``, the validation
    ``metric`` and the ``direction`` of the search; pruned and failed trials are counted, not drawn."""
    fig = history_figure(trials, direction, metric, method=method, conditions=conditions)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))
