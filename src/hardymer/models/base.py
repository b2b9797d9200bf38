"""The interface every method implements: a module + its training objective."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from hardymer.data.batching import Batch

if TYPE_CHECKING:
    from hardymer.models.context import FitContext


class StepParts:
    """The loss of one optimizer step as parts whose gradients the trainer accumulates: each part is
    a callable computed, backpropagated and freed before the next, so a step over many views holds
    the activations of one part only. The step's loss is the sum of the parts."""

    def __init__(self, parts: Iterable[Callable[[], torch.Tensor]]) -> None:
        self.parts = parts


@dataclass
class MethodSpec:
    """What a method needs to know about the data to build itself."""

    dims: dict[str, int]
    output_dim: int
    task: str


class Method(nn.Module):
    """Base class of all methods.

    Subclasses implement :meth:`forward` (predictions ``[B, L, C]`` logits or ``[B, L]`` scores
    for the inputs the batch makes available) and :meth:`training_loss`. Two-stage methods set
    ``stage1_fraction`` > 0; the trainer only selects checkpoints in the last stage.
    """

    #: share of the epochs spent in stage 1 (full modalities, unimodal heads); 0 = one stage
    stage1_fraction: float = 0.0
    #: True when predictions depend on the other utterances of a group (dialogue / video context)
    uses_groups: bool = False

    def __init__(self, spec: MethodSpec, config: Any) -> None:
        super().__init__()
        self.spec = spec
        self.config = config

    # -- training schedule ------------------------------------------------------
    def stage(self, epoch: int, epochs: int) -> int:
        """1 during the warm-up stage, else 2 (single-stage methods are always in stage 2)."""
        return 1 if epoch < self.stage1_epochs(epochs) else 2

    def stage1_epochs(self, epochs: int) -> int:
        """Stage-1 epochs: round(stage1_fraction·epochs), or the count fixed by :meth:`pin_stage1_epochs`."""
        pinned = self.__dict__.get("_stage1_pinned")
        return int(pinned) if pinned is not None else int(round(self.stage1_fraction * epochs))

    def pin_stage1_epochs(self, n: int | None) -> None:
        """Fix stage 1 at ``n`` epochs whatever total :meth:`stage` is given (a step-based stage 2
        lengthens the total, not stage 1); ``None`` restores the fraction rule."""
        self.__dict__["_stage1_pinned"] = n

    def steps_per_batch(self, stage: int) -> int:
        """Optimizer steps one batch takes in ``stage`` (the number of losses :meth:`training_losses` yields)."""
        return 1

    def stage1_signature(self) -> dict | None:
        """What this method's stage-1 loss depends on besides the data, initial weights and training
        config, when stage 1 does not depend on the condition (it can then be trained once and
        shared by every condition); ``None`` (the default): not shareable."""
        return None

    def prepare(self, ctx: FitContext) -> None:
        """Hook run once before training (e.g. train a teacher, precompute neighbours)."""

    def on_stage_start(self, stage: int, ctx: FitContext) -> None:
        """Hook run when a stage begins."""

    # -- objective ------------------------------------------------------------------
    def forward(self, batch: Batch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def training_loss(self, batch: Batch, ctx: FitContext, epoch: int) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def training_losses(self, batch: Batch, ctx: FitContext, epoch: int) -> Iterator[torch.Tensor | StepParts]:
        """The losses of one batch, one optimizer step each, in order; the trainer steps after each
        loss before the next is computed. A :class:`StepParts` is one step whose loss comes in parts
        (gradients accumulated). Default: the single :meth:`training_loss`."""
        yield self.training_loss(batch, ctx, epoch)

    def run_summary(self) -> dict:
        """Method-specific figures for ``metrics.json`` (e.g. the realised neighbour-view share)."""
        return {}

    def task_loss(self, out: torch.Tensor, y: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (classification) or L1/MSE (regression) over non-padding positions."""
        out = out.float()  # losses in fp32 (a no-op unless the forward pass ran under autocast)
        if self.spec.task == "classification":
            return F.cross_entropy(out[valid], y[valid].long())
        pred = out[valid].reshape(-1)
        target = y[valid].float()
        loss = getattr(self.config, "regression_loss", "l1")
        return F.l1_loss(pred, target) if loss == "l1" else F.mse_loss(pred, target)

    def predict_output(self, batch: Batch) -> torch.Tensor:
        """Post-processed outputs: probabilities ``[B, L, C]`` or scores ``[B, L]``."""
        out = self.forward(batch).float()
        if self.spec.task == "classification":
            return out.softmax(-1)
        return out.reshape(out.shape[0], out.shape[1])

    def config_dict(self) -> dict:
        return asdict(self.config)
