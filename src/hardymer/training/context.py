"""What a method sees while it is fitted: data of one fold, protocol, config, seed, device.

It is also how a method gets what the training layer fits for it: :meth:`FitContext.teacher`
returns a frozen teacher backbone (cached on disk), so methods never call the trainer themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hardymer.data.batching import GroupBatcher
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.training.protocol import FixedCondition, RandomConditions


@dataclass
class FitContext:
    ds: MultimodalDataset  # features already standardised with the fold's training statistics
    fold: Split
    conditions: FixedCondition | RandomConditions
    train: Any  # TrainConfig (OmegaConf node or dataclass)
    seed: int
    device: torch.device
    out_dir: Path | None = None
    cache_dir: Path | None = None
    run_key: dict = field(default_factory=dict)  # identifies (dataset, fold, condition, seed, features)
    extras: dict = field(default_factory=dict)  # outputs methods want written (hardness, neighbours...)

    def batcher(self, part: str, shuffle: bool = False, indices: np.ndarray | None = None,
                batch_size: int | None = None) -> GroupBatcher:
        idx = self.fold.part(part) if indices is None else indices
        return GroupBatcher(self.ds, idx, batch_size=batch_size or self.train.batch_size, shuffle=shuffle,
                            max_len=self.train.max_len, device=self.device, seed=self.seed,
                            bucket=shuffle and bool(getattr(self.train, "bucket", False)),
                            bucket_batches=int(getattr(self.train, "bucket_batches", 1)))

    def teacher(self, spec: Any, config: Any, epochs: int = 0) -> Any:
        """A frozen teacher ``Backbone(spec, config)`` trained on this context (``epochs``: 0 = the
        student's), from the on-disk cache when ``cache_dir`` holds it."""
        from hardymer.training.teacher import load_or_fit_teacher

        return load_or_fit_teacher(spec, config, self, epochs)

    def fit_teacher(self, spec: Any, config: Any, epochs: int = 0) -> tuple[Any, Any]:
        """Train a fresh teacher on this context (no teacher cache); the frozen teacher and its FitResult."""
        from hardymer.training.teacher import fit_teacher

        return fit_teacher(spec, config, self, epochs)
