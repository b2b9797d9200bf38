"""Protocols decide which modalities a training step sees.

``fixed`` (the paper's): one model per condition; stage 2 sees exactly that condition.
``unified``: one model for all conditions; each group of a batch draws a condition per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hardymer.conditions import CONDITIONS, Condition
from hardymer.data.batching import Batch

PROTOCOLS = ("fixed", "unified")


class FixedCondition:
    """Every utterance gets the same condition mask."""

    def __init__(self, condition: str) -> None:
        self.condition = Condition(condition)
        self.mask = torch.tensor(self.condition.mask)
        self.conditions = [self.condition]
        self.masks = self.mask.view(1, 3)
        self.eval_conditions = [self.condition]

    def sample_ids(self, n_groups: int) -> torch.Tensor:
        """Index into ``conditions`` per group (always 0 here)."""
        return torch.zeros(n_groups, dtype=torch.long)

    def sample(self, batch: Batch) -> torch.Tensor:
        return self.mask.to(batch.valid.device).view(1, 1, 3).expand_as(batch.avail_full)


class RandomConditions:
    """Each group draws one condition per step, uniformly (or with ``weights``) from ``conditions``."""

    def __init__(
        self, conditions: Sequence[str] = CONDITIONS, weights: Sequence[float] | None = None, seed: int = 0
    ) -> None:
        self.conditions = [Condition(c) for c in conditions]
        self.masks = torch.as_tensor(np.stack([c.mask for c in self.conditions]))
        w = torch.ones(len(self.conditions)) if weights is None else torch.as_tensor(weights, dtype=torch.float)
        self.weights = w / w.sum()
        self.gen = torch.Generator().manual_seed(seed)
        self.eval_conditions = [Condition(c) for c in CONDITIONS]

    def sample_ids(self, n_groups: int) -> torch.Tensor:
        return torch.multinomial(self.weights, n_groups, replacement=True, generator=self.gen)

    def sample(self, batch: Batch) -> torch.Tensor:
        ids = self.sample_ids(batch.valid.shape[0])
        m = self.masks[ids].to(batch.valid.device)  # [B, 3]
        return m.unsqueeze(1).expand_as(batch.avail_full)


def make_condition_sampler(protocol: str, condition: str, seed: int) -> FixedCondition | RandomConditions:
    if protocol == "fixed":
        return FixedCondition(condition)
    if protocol == "unified":
        return RandomConditions(seed=seed)
    raise ValueError(f"unknown protocol {protocol!r}; use {', '.join(PROTOCOLS)}")
