"""What a method sees while it is fitted: data of one fold, protocol, config, seed, device.

It is also how a method gets what the training layer fits for it: the ``teacher`` field is a
callable the training layer fills (``training.teacher.load_or_fit_teacher``) that returns a frozen
teacher backbone (cached on disk), so methods never import or call the trainer themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hardymer.data.batching import GroupBatcher
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.data.protocol import FixedCondition, RandomConditions, RandomRate

#: ``teacher(spec, backbone_config, ctx, epochs)`` -> a frozen backbone trained on ``ctx``
TeacherProvider = Callable[[Any, Any, "FitContext", int], Any]


@dataclass
class FitContext:
    ds: MultimodalDataset  # features already standardised with the fold's training statistics
    fold: Split
    conditions: FixedCondition | RandomConditions | RandomRate
    train: Any  # TrainConfig (OmegaConf node or dataclass)
    seed: int
    device: torch.device
    out_dir: Path | None = None
    cache_dir: Path | None = None
    run_key: dict = field(default_factory=dict)  # identifies (dataset, fold, condition, seed, features)
    extras: dict = field(default_factory=dict)  # outputs methods want written (hardness, neighbours...)
    #: fits (or loads) a frozen teacher; filled by the training layer, ``None`` where no method needs one
    teacher_provider: TeacherProvider | None = None

    def batcher(
        self, part: str, shuffle: bool = False, indices: np.ndarray | None = None, batch_size: int | None = None
    ) -> GroupBatcher:
        idx = self.fold.part(part) if indices is None else indices
        return GroupBatcher(
            self.ds,
            idx,
            batch_size=batch_size or self.train.batch_size,
            shuffle=shuffle,
            max_len=self.train.max_len,
            device=self.device,
            seed=self.seed,
            bucket=shuffle and bool(getattr(self.train, "bucket", False)),
            bucket_batches=int(getattr(self.train, "bucket_batches", 1)),
        )

    def teacher(self, spec: Any, config: Any, epochs: int = 0) -> Any:
        """A frozen teacher ``Backbone(spec, config)`` trained on this context (``epochs``: 0 = the
        student's), from the provider the training layer handed in."""
        if self.teacher_provider is None:
            raise RuntimeError(
                "this FitContext has no teacher_provider; the training layer passes "
                "hardymer.training.teacher.load_or_fit_teacher"
            )
        return self.teacher_provider(spec, config, self, epochs)
