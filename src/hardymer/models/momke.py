"""``momke``: the backbone plus MoMKE's soft router (Xu et al., ACM MM 2024).

Stage 1 trains each modality's encoder as a unimodal expert (as in the backbone). In stage 2,
every modality's projected tokens go through all three experts, mixed per token by learned
softmax weights from a router on the projected token; the mixture is masked like the backbone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hardymer.conditions import MODALITIES
from hardymer.data.batching import Batch
from hardymer.models._api import register_method
from hardymer.models.backbone import Backbone, BackboneConfig, run_masked
from hardymer.models.base import MethodSpec


@dataclass
class MoMKEConfig(BackboneConfig):
    router_temperature: float = 1.0


@register_method(
    "momke",
    MoMKEConfig,
    paper="Xu et al. 2024, MoMKE: mixture of modality knowledge experts (ACM MM 2024)",
    protocols=["fixed", "unified", "random"],
)
class MoMKE(Backbone):
    def __init__(self, spec: MethodSpec, config: MoMKEConfig) -> None:
        super().__init__(spec, config)
        self.routers = nn.ModuleDict({m: nn.Linear(config.hidden, len(MODALITIES)) for m in MODALITIES})
        self.use_router = False

    def on_stage_start(self, stage: int, ctx) -> None:
        self.use_router = stage == 2

    def encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        if not self.use_router:
            return super().encode(batch)
        out = {}
        for j, m in enumerate(MODALITIES):
            keep = batch.avail[..., j] & batch.valid
            p = self.modality_encoder(m).proj(batch.x[m])
            experts = torch.stack([run_masked(self.modality_encoder(k).encoder, p, keep) for k in MODALITIES], dim=-2)
            w = torch.softmax(self.routers[m](p) / self.config.router_temperature, dim=-1)  # [B, L, 3]
            out[m] = (experts * w.unsqueeze(-1)).sum(-2) * keep.unsqueeze(-1).to(p.dtype)
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self.use_router = True  # a saved MoMKE checkpoint is a stage-2 model
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
