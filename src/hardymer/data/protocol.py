"""Protocols decide which modalities a training step sees.

``fixed`` (the paper's): one model per condition; stage 2 sees exactly that condition.
``unified``: one model for all conditions; each group of a batch draws a condition per step.
``random`` (GCNet's, MPLMM's, CIDer's): one model per missing rate r; in training every
(utterance, modality) entry is missing with rate r, drawn per step from the run's generator
(:mod:`hardymer.data.masks`); validation and test are evaluated under one stored mask per part,
drawn from the mask seed and shared by every method and seed (:class:`MaskCondition`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hardymer.conditions import CONDITIONS, Condition, rate_label
from hardymer.data.batching import Batch
from hardymer.data.masks import draw_mask, eval_mask, mask_digest

PROTOCOLS = ("fixed", "unified", "random")


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

    def sample_utterance_ids(self, n_groups: int, length: int) -> torch.Tensor:
        """Index into ``conditions`` per utterance ``[n_groups, length]`` (always 0 here)."""
        return torch.zeros(n_groups, length, dtype=torch.long)

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

    def sample_utterance_ids(self, n_groups: int, length: int) -> torch.Tensor:
        """One condition per group, repeated over its utterances (``[n_groups, length]``)."""
        return self.sample_ids(n_groups).view(n_groups, 1).expand(n_groups, length)

    def sample(self, batch: Batch) -> torch.Tensor:
        ids = self.sample_ids(batch.valid.shape[0])
        m = self.masks[ids].to(batch.valid.device)  # [B, 3]
        return m.unsqueeze(1).expand_as(batch.avail_full)


#: index into CONDITIONS of a keep-mask row, by its code a·4 + t·2 + v (code 0, nothing kept: -1)
_CODE_TO_CONDITION = torch.tensor(
    [-1] + [CONDITIONS.index("".join(m for j, m in enumerate("atv") if (code >> (2 - j)) & 1)) for code in range(1, 8)]
)


class MaskCondition(str):
    """An evaluation condition given per utterance: the stored keep-mask of the random protocol.

    It is the label ``r0.30`` for every purpose a condition name serves (result keys, JSON);
    :meth:`apply` masks a batch by the rows of its utterances. ``table`` is ``[n_dataset, 3]`` bool,
    the validation rows from the validation mask and the test rows from the test mask (other rows
    keep everything); ``parts`` records each part's dataset indices, mask and digest."""

    table: torch.Tensor
    parts: dict
    rate: float
    kind: str
    mask_seed: int

    def apply(self, batch: Batch) -> Batch:
        """``batch`` with each utterance masked by its stored row (natural availability kept)."""
        idx = batch.idx.clamp(min=0).cpu()
        return batch.with_availability(self.table[idx].to(batch.valid.device))

    def summary(self) -> dict:
        """JSON-ready record: rate, generator, seed, and per part its digest and realised missing rate."""
        return {
            "rate": self.rate,
            "mask": self.kind,
            "mask_seed": self.mask_seed,
            **{f"{p}_digest": v["digest"] for p, v in self.parts.items()},
            **{f"{p}_missing_rate": float(1.0 - v["mask"].mean()) for p, v in self.parts.items()},
        }


def stored_mask(
    dataset: str,
    fold: str,
    n: int,
    parts: dict[str, np.ndarray],
    rate: float,
    kind: str = "independent",
    mask_seed: int = 0,
) -> MaskCondition:
    """The stored evaluation mask of the random protocol for ``parts`` (``{"val": idx, "test": idx}``,
    dataset indices) of a dataset of ``n`` utterances: each part's rows from
    :func:`hardymer.data.masks.eval_mask` (a function of dataset, fold, part, rate, generator and
    mask seed only)."""
    cond = MaskCondition(rate_label(rate))
    table = torch.ones(n, 3, dtype=torch.bool)
    recorded = {}
    for part, idx in parts.items():
        idx = np.asarray(idx, dtype=np.int64)
        m = eval_mask(dataset, str(fold), part, len(idx), rate, kind, mask_seed)
        table[torch.as_tensor(idx)] = torch.as_tensor(m.astype(bool))
        recorded[part] = {"idx": idx, "mask": m, "digest": mask_digest(m)}
    cond.table, cond.parts = table, recorded
    cond.rate, cond.kind, cond.mask_seed = float(rate), str(kind), int(mask_seed)
    return cond


class RandomRate:
    """The random protocol's training masks: each (utterance, modality) entry missing with rate r,
    drawn per step with the named generator (at least one modality per utterance); evaluation under
    the stored ``eval_condition``. Each utterance's pattern is one of the seven conditions, so a
    method that keys on conditions (hardness and neighbours) sees per-utterance condition ids."""

    def __init__(self, rate: float, kind: str, seed: int, eval_condition: MaskCondition | None = None) -> None:
        self.rate, self.kind = float(rate), str(kind)
        self.conditions = [Condition(c) for c in CONDITIONS]
        self.masks = torch.as_tensor(np.stack([c.mask for c in self.conditions]))
        self.rng = np.random.default_rng([int(seed), 0x6D61736B])  # its own stream ("mask")
        self.eval_conditions = [eval_condition] if eval_condition is not None else []

    def sample_utterance_ids(self, n_groups: int, length: int) -> torch.Tensor:
        """Index into ``conditions`` per utterance ``[n_groups, length]``, drawn at rate r."""
        # per step: a batch is small, so cpm's 0.005 precision is often out of reach (no warning here)
        keep = draw_mask(self.kind, n_groups * length, self.rate, self.rng, warn=False).astype(np.int64)
        code = torch.as_tensor(keep[:, 0] * 4 + keep[:, 1] * 2 + keep[:, 2])
        return _CODE_TO_CONDITION[code].view(n_groups, length)

    def sample_ids(self, n_groups: int) -> torch.Tensor:
        """Not defined per group under this protocol (each utterance draws its own pattern)."""
        raise TypeError("the random protocol draws a pattern per utterance: use sample_utterance_ids")

    def sample(self, batch: Batch) -> torch.Tensor:
        B, L = batch.valid.shape
        ids = self.sample_utterance_ids(B, L)
        return self.masks[ids].to(batch.valid.device)


Sampler = FixedCondition | RandomConditions | RandomRate


def make_condition_sampler(
    protocol: str,
    condition: str,
    seed: int,
    rate: float | None = None,
    mask: str = "independent",
    eval_condition: MaskCondition | None = None,
) -> Sampler:
    """The training sampler of ``protocol``; ``random`` needs the missing ``rate`` and generator
    ``mask`` (and, to evaluate, its stored ``eval_condition`` from :func:`stored_mask`)."""
    if protocol == "fixed":
        return FixedCondition(condition)
    if protocol == "unified":
        return RandomConditions(seed=seed)
    if protocol == "random":
        if rate is None:
            raise ValueError("the random protocol needs a missing rate (missing.rate)")
        return RandomRate(float(rate), mask, seed, eval_condition)
    raise ValueError(f"unknown protocol {protocol!r}; use {', '.join(PROTOCOLS)}")
