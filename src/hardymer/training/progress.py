"""Per-epoch progress for a run and the ``history.csv`` table of every metric per epoch.

:class:`EpochLogger` is an ``on_epoch(epoch, stage, record)`` callback for
:func:`~hardymer.training.trainer.fit`: one plain log line per epoch with the stage, the train loss,
the selection metric, the best value so far and an estimate of the time left.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

from hardymer._io import atomic_write_text
from hardymer.evaluation.metrics import is_better  # the selection rule fit uses

log = logging.getLogger(__name__)


def format_seconds(seconds: float) -> str:
    """``seconds`` as ``M:SS`` (or ``H:MM:SS`` from one hour on); ``?`` when not finite."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class EpochLogger:
    """Epoch callback that logs one line per epoch and keeps the best selection value seen.

    ``total`` is the planned number of epochs (early stopping may end sooner); ``label`` prefixes
    every line (e.g. ``"zero-fill atv seed0"``); ``clock`` is injectable for tests.
    """

    def __init__(self, total: int, label: str = "", logger: logging.Logger | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.total = int(total)
        self.label = label
        self.logger = logger or log
        self.clock = clock
        self.start = clock()
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.lines: list[str] = []

    def __call__(self, epoch: int, stage: int, record: dict) -> None:
        metric_key = next((k for k in record if k.startswith(("val_", "test_"))), None)
        parts = [f"stage {stage}", f"epoch {epoch + 1}/{self.total}", f"loss {record.get('loss', math.nan):.4f}"]
        if metric_key is not None:
            value = float(record[metric_key])
            metric = metric_key.split("_", 1)[1]
            if is_better(metric, value, self.best):
                self.best, self.best_epoch = value, epoch
            parts.append(f"{metric_key} {value:.4f}")
            parts.append(f"best {self.best:.4f} (epoch {self.best_epoch + 1})")  # type: ignore[operator]
        elapsed = self.clock() - self.start
        done = epoch + 1
        eta = elapsed / done * (self.total - done) if done else math.nan
        parts.append(f"elapsed {format_seconds(elapsed)}")
        parts.append(f"ETA {format_seconds(eta)}")
        line = (f"{self.label}: " if self.label else "") + ", ".join(parts)
        self.lines.append(line)
        self.logger.info("%s", line)


def history_csv(history: list[dict]) -> str:
    """``history`` (a list of per-epoch records) as CSV text: one row per epoch, a column per key.

    Columns are the union of keys in first-seen order (stage-1 rows leave the metric columns empty).
    """
    columns: list[str] = []
    for rec in history:
        for k in rec:
            if k not in columns:
                columns.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for rec in history:
        w.writerow({k: rec.get(k, "") for k in columns})
    return buf.getvalue()


def write_history_csv(path: str | Path, history: list[dict]) -> None:
    """Write :func:`history_csv` of ``history`` to ``path`` atomically."""
    atomic_write_text(path, history_csv(history))


def chain(*callbacks: Callable[[int, int, dict], None] | None) -> Callable[[int, int, dict], None] | None:
    """One epoch callback that calls every non-None ``callbacks`` in order (None when there is none)."""
    cbs = [c for c in callbacks if c is not None]
    if not cbs:
        return None

    def call(epoch: int, stage: int, record: dict) -> None:
        for c in cbs:
            c(epoch, stage, record)

    return call
