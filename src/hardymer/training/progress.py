"""Per-epoch progress for a run and the ``history.csv`` table of the per-epoch records.

:class:`EpochLogger` is an ``on_epoch(epoch, stage, record)`` callback for
:func:`~hardymer.training.trainer.fit`: one plain log line per epoch with the stage, the train loss,
the selection metric, the best value so far and an estimate of the time left (for files and CI);
:class:`LiveProgress` shows the same on a terminal. Epochs are numbered from 1 for people (log
lines, ``history.csv``, ``metrics.json``); the trainer counts from 0 internally.
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


class EpochTracker:
    """Epoch callback that keeps the best selection value seen and the epoch durations, and formats
    one line per epoch: stage, epoch (1-based), loss, the selection metric, the best so far (with
    its 1-based epoch), elapsed training time and an ETA from epoch times only (setup excluded).

    ``total`` is the planned number of epochs (early stopping may end sooner); ``label`` prefixes
    every line (e.g. ``"zero-fill atv seed0"``); ``clock`` is injectable for tests. A record's
    ``seconds`` (the trainer adds it) is the epoch's duration; without it, the time since the
    previous epoch (or since construction, for the first) is used; ``restored`` records (a shared
    stage 1 loaded from the cache) take no time now and do not count.
    """

    def __init__(self, total: int, label: str = "", clock: Callable[[], float] = time.perf_counter) -> None:
        self.total = int(total)
        self.label = label
        self.clock = clock
        self.last = clock()
        self.best: float | None = None
        self.best_epoch: int | None = None  # 0-based, as the trainer counts
        self.epoch_seconds: list[float] = []

    def update(self, epoch: int, stage: int, record: dict) -> str:
        """Account for one finished epoch (0-based ``epoch``) and return its line."""
        now = self.clock()
        seconds = float(record["seconds"]) if "seconds" in record else now - self.last
        self.last = now
        if not record.get("restored"):  # epochs restored from a shared stage 1 took no time now
            self.epoch_seconds.append(seconds)
        metric_key = next((k for k in record if k.startswith(("val_", "test_"))), None)
        parts = [f"stage {stage}", f"epoch {epoch + 1}/{self.total}", f"loss {record.get('loss', math.nan):.4f}"]
        if metric_key is not None:
            value = float(record[metric_key])
            metric = metric_key.split("_", 1)[1]
            if is_better(metric, value, self.best):
                self.best, self.best_epoch = value, epoch
            parts.append(f"{metric_key} {value:.4f}")
        if self.best is not None and self.best_epoch is not None:
            parts.append(f"best {self.best:.4f} (epoch {self.best_epoch + 1})")
        per_epoch = sum(self.epoch_seconds) / len(self.epoch_seconds) if self.epoch_seconds else math.nan
        parts.append(f"elapsed {format_seconds(sum(self.epoch_seconds))}")
        parts.append(f"ETA {format_seconds(per_epoch * max(self.total - epoch - 1, 0))}")
        return (f"{self.label}: " if self.label else "") + ", ".join(parts)


class EpochLogger(EpochTracker):
    """:class:`EpochTracker` that logs each epoch's line (INFO) as one plain record."""

    def __init__(
        self,
        total: int,
        label: str = "",
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(total, label, clock)
        self.logger = logger or log
        self.lines: list[str] = []

    def __call__(self, epoch: int, stage: int, record: dict) -> None:
        line = self.update(epoch, stage, record)
        self.lines.append(line)
        self.logger.info("%s", line)


class LiveProgress(EpochTracker):
    """A live terminal display of one fit (rich): a spinner while the method prepares (teacher,
    critics, neighbours), then a bar whose text shows stage, epoch, loss, the selection metric,
    the best so far and the ETA. Use as an epoch callback between :meth:`start` and :meth:`stop`."""

    def __init__(self, total: int, label: str = "", clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(total, label, clock)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task(f"{label} preparing", total=None)

    def start(self, what: str = "preparing") -> None:
        self._progress.start()
        self._progress.update(self._task, description=f"{self.label} {what}".strip())

    def begin_epochs(self, done: int) -> None:
        """Switch from the spinner to the epoch bar (``done`` epochs restored from a shared stage 1)."""
        self.last = self.clock()
        self._progress.update(
            self._task,
            total=self.total,
            completed=done,
            description=f"{self.label} epoch {done + 1}/{self.total}".strip(),
        )

    def __call__(self, epoch: int, stage: int, record: dict) -> None:
        line = self.update(epoch, stage, record)
        text = line.split(": ", 1)[1] if self.label else line
        self._progress.update(self._task, completed=epoch + 1, description=f"{self.label} {text}".strip())

    def stop(self) -> None:
        self._progress.stop()


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
