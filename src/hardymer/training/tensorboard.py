"""TensorBoard scalars per epoch (optional extra ``tensorboard``): an ``on_epoch`` callback for
:func:`~hardymer.training.trainer.fit`, writing every number of the epoch record (the same record
``history.json`` / ``history.csv`` keep) under its key, with the epoch as the step."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hardymer.errors import ConfigError

#: values of ``--log``
LOG_BACKENDS = ("none", "tensorboard")


def check_log_backend(name: str) -> str:
    """``name`` if it is a known ``--log`` value; ``tensorboard`` also needs the package installed."""
    if name not in LOG_BACKENDS:
        raise ConfigError(f"--log {name}: use {' or '.join(LOG_BACKENDS)}")
    if name == "tensorboard":
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError(
                "--log tensorboard needs the optional extra: pip install 'hardymer[tensorboard]'"
            ) from None
    return name


class TensorBoardLogger:
    """``on_epoch(epoch, stage, record)`` callback: one scalar per numeric key of ``record``
    (``stage``, ``loss``, ``steps``, ``val_<metric>``) at step ``epoch + 1`` (1-based, as in history.csv),
    flushed each epoch; :meth:`close` when the run ends."""

    def __init__(self, log_dir: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        self.writer: Any = SummaryWriter(log_dir=str(self.log_dir))

    def __call__(self, epoch: int, stage: int, record: dict) -> None:
        for key, value in record.items():
            if key in ("epoch", "seconds") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(float(value)):
                self.writer.add_scalar(key, float(value), epoch + 1)  # 1-based, as in history.csv
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
