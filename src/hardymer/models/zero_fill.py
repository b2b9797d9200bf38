"""``zero-fill``: a per-utterance MLP on concatenated features, missing modalities zeroed,
plus the three availability indicators. The simplest honest baseline."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hardymer.conditions import MODALITIES
from hardymer.data.batching import Batch
from hardymer.models._api import register_method
from hardymer.models.base import Method, MethodSpec


@dataclass
class ZeroFillConfig:
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.3
    regression_loss: str = "l1"


@register_method(
    "zero-fill",
    ZeroFillConfig,
    paper="zero-imputation baseline (missing modalities set to 0, availability flags)",
    protocols=["fixed", "unified", "random"],
)
class ZeroFill(Method):
    def __init__(self, spec: MethodSpec, config: ZeroFillConfig) -> None:
        super().__init__(spec, config)
        d_in = sum(spec.dims[m] for m in MODALITIES) + len(MODALITIES)
        layers: list[nn.Module] = []
        for _ in range(config.layers):
            layers += [nn.Linear(d_in, config.hidden), nn.ReLU(), nn.Dropout(config.dropout)]
            d_in = config.hidden
        layers.append(nn.Linear(d_in, spec.output_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, batch: Batch) -> torch.Tensor:
        x = torch.cat([batch.x[m] for m in MODALITIES] + [batch.avail.float()], dim=-1)
        return self.mlp(x)

    def training_loss(self, batch: Batch, ctx, epoch: int) -> torch.Tensor:
        b = batch.with_availability(ctx.conditions.sample(batch))
        return self.task_loss(self.forward(b), b.y, b.valid)
