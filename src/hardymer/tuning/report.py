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
        w.writerow([t.number, t.state.name, "" if t.value is None else repr(float(t.value)), dur,
                    *[json.dumps(t.params[k]) if k in t.params else "" for k in keys], t.user_attrs.get("error", "")])
    atomic_write_text(path, buf.getvalue())


def write_history_png(trials: Sequence[Any], path: str | Path, direction: str, metric: str) -> Path:
    """Objective of each complete trial (dots) and the best so far (step line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [(t.number, float(t.value)) for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if done:
        xs, ys = zip(*done)
        best, cur = [], math.inf if direction == "minimize" else -math.inf
        for y in ys:
            cur = min(cur, y) if direction == "minimize" else max(cur, y)
            best.append(cur)
        ax.scatter(xs, ys, s=14, label="trial")
        ax.step(xs, best, where="post", color="C3", label="best so far")
        ax.legend()
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title("optimisation history")
    fig.tight_layout()
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
