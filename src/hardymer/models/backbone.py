"""``backbone``: the HARDY-MER student/teacher network with MHE and RDCL switched off.

1. per modality: linear projection d_m -> D, dropout;
2. per modality: a transformer encoder over the group's utterances, keys masked by padding and
   by the modality's availability (a missing modality is never attended to);
3. fusion: concatenation of the three encodings (missing -> exactly 0), residual ReLU MLP, head;
4. decoder: MLP reconstructing all three inputs from the fused hidden state;
5. two stages: stage 1 (first ``stage1_fraction`` of the epochs) sees full modalities and trains
   one unimodal head per modality; stage 2 sees the condition mask(s) and optimises the fused
   task loss plus the reconstruction loss of the *missing* modalities against the complete
   stored features.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from hardymer.conditions import MODALITIES
from hardymer.data.batching import Batch
from hardymer.models._api import register_method
from hardymer.models.base import Method, MethodSpec


@dataclass
class BackboneConfig:
    # CPU-sized defaults; the release uses hidden=256, depth=4 (pass --method-opt to match it)
    hidden: int = 128
    depth: int = 2
    heads: int = 2
    ff_mult: int = 2
    dropout: float = 0.3
    attn_dropout: float | None = None  # dropout of the attention weights; None: same as dropout
    decoder_hidden: int = 1024
    recon_weight: float = 1.0
    stage1_fraction: float = 0.5
    regression_loss: str = "l1"


class ModalityEncoder(nn.Module):
    """Projection + transformer over the utterances of a group for one modality."""

    def __init__(self, d_in: int, cfg: BackboneConfig) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(d_in, cfg.hidden), nn.Dropout(cfg.dropout))
        layer = nn.TransformerEncoderLayer(
            cfg.hidden, cfg.heads, cfg.hidden * cfg.ff_mult, cfg.dropout, batch_first=True, norm_first=False
        )
        if cfg.attn_dropout is not None:
            layer.self_attn.dropout = float(cfg.attn_dropout)
        self.encoder = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)

    def encode(self, p: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Run the transformer on projected tokens ``p`` [B, L, D]; ``keep`` [B, L] marks usable keys."""
        return run_masked(self.encoder, p, keep)


def run_masked(encoder: nn.Module, p: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Transformer over tokens with key masking; rows with no usable key output 0; output * keep."""
    rows = keep.any(1)
    out = torch.zeros_like(p)
    if rows.any():
        sel = rows.nonzero(as_tuple=True)[0]
        out_sel = encoder(p[sel], src_key_padding_mask=~keep[sel])
        out = out.index_copy(0, sel, out_sel)
    return out * keep.unsqueeze(-1).to(out.dtype)


@register_method(
    "backbone",
    BackboneConfig,
    paper="Zuo et al. 2025, HARDY-MER backbone without MHE/RDCL (arXiv 2508.06800)",
    protocols=["fixed", "unified", "random"],
)
class Backbone(Method):
    stage1_fraction = 0.5
    uses_groups = True  # the encoders attend over the utterances of a group

    def __init__(self, spec: MethodSpec, config: BackboneConfig) -> None:
        super().__init__(spec, config)
        self.stage1_fraction = config.stage1_fraction
        D = config.hidden
        self.encoders = nn.ModuleDict({m: ModalityEncoder(spec.dims[m], config) for m in MODALITIES})
        self.uni_heads = nn.ModuleDict({m: nn.Linear(D, spec.output_dim) for m in MODALITIES})
        self.fuse = nn.Sequential(nn.Linear(3 * D, 3 * D), nn.ReLU(), nn.Dropout(config.dropout))
        self.head = nn.Linear(3 * D, spec.output_dim)
        d_all = sum(spec.dims[m] for m in MODALITIES)
        self.decoder = nn.Sequential(
            nn.Linear(3 * D, config.decoder_hidden), nn.ReLU(), nn.Linear(config.decoder_hidden, d_all)
        )

    def stage1_signature(self) -> dict | None:
        """Stage 1 is the unimodal losses on full modalities: it depends on the backbone config only
        (not on the condition, nor on options of subclasses that act in stage 2)."""
        return {
            "stage1": "backbone-unimodal",
            "config": {f.name: getattr(self.config, f.name) for f in dataclasses.fields(BackboneConfig)},
        }

    # ------------------------------------------------------------------ network
    def modality_encoder(self, m: str) -> ModalityEncoder:
        """The encoder of modality ``m``."""
        return cast(ModalityEncoder, self.encoders[m])

    def encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Per-modality encodings ``[B, L, D]``; exactly 0 where the modality is unavailable."""
        out = {}
        for j, m in enumerate(MODALITIES):
            keep = batch.avail[..., j] & batch.valid
            enc = self.modality_encoder(m)
            out[m] = enc.encode(enc.proj(batch.x[m]), keep)
        return out

    def fuse_hidden(self, h: dict[str, torch.Tensor]) -> torch.Tensor:
        f = torch.cat([h[m] for m in MODALITIES], dim=-1)
        return f + self.fuse(f)

    def forward_all(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Fused output, hidden state, reconstruction and per-modality encodings."""
        h = self.encode(batch)
        hid = self.fuse_hidden(h)
        return {"out": self.head(hid), "hidden": hid, "recon": self.decoder(hid), "enc": h}

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.forward_all(batch)["out"]

    # ------------------------------------------------------------------ losses
    def split_recon(self, recon: torch.Tensor) -> dict[str, torch.Tensor]:
        parts, s = {}, 0
        for m in MODALITIES:
            d = self.spec.dims[m]
            parts[m] = recon[..., s : s + d]
            s += d
        return parts

    def recon_error(self, batch: Batch, recon: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-utterance reconstruction error of the missing modalities ``[B, L]`` (MSE per
        dimension, averaged over the missing modalities that have complete stored features),
        and the count of such modalities ``[B, L]``."""
        parts = self.split_recon(recon.float())
        err = torch.zeros(batch.valid.shape, device=recon.device)
        cnt = torch.zeros_like(err)
        for j, m in enumerate(MODALITIES):
            target_ok = (~batch.avail[..., j]) & batch.avail_full[..., j] & batch.valid
            e = ((parts[m] - batch.x_full[m]) ** 2).mean(-1)
            err = err + e * target_ok
            cnt = cnt + target_ok
        return err / cnt.clamp(min=1), cnt

    def stage1_loss(self, batch: Batch) -> torch.Tensor:
        """Sum of the unimodal task losses on full modalities (warms up each encoder)."""
        h = self.encode(batch)
        loss = torch.zeros((), device=batch.valid.device)
        for j, m in enumerate(MODALITIES):
            ok = batch.valid & batch.avail[..., j]
            if ok.any():
                loss = loss + self.task_loss(self.uni_heads[m](h[m]), batch.y, ok)
        return loss

    def stage2_loss(self, batch: Batch, task_scale: float = 1.0, recon_scale: float = 1.0) -> torch.Tensor:
        """Fused task loss + weighted reconstruction loss of the missing modalities (each mean
        times its ``*_scale``: a part's share of the positions when a batch is split into parts)."""
        o = self.forward_all(batch)
        loss = self.task_loss(o["out"], batch.y, batch.valid) * task_scale if batch.valid.any() else o["out"].sum() * 0
        if self.config.recon_weight > 0:
            err, cnt = self.recon_error(batch, o["recon"])
            has = cnt > 0
            if has.any():
                loss = loss + self.config.recon_weight * err[has].mean() * recon_scale
        return loss

    @staticmethod
    def recon_targets(batch: Batch) -> torch.Tensor:
        """``[B, L]`` True where an utterance has a missing modality with complete stored features
        (the positions :meth:`recon_error` averages over)."""
        return ((~batch.avail) & batch.avail_full & batch.valid.unsqueeze(-1)).any(-1)

    def stage2_batch(self, batch: Batch, ctx, epoch: int) -> Batch:
        """What one stage-2 step trains on: ``batch`` under the condition mask(s) the run's sampler
        draws (``avail`` combined with the natural availability and padding)."""
        return batch.with_availability(ctx.conditions.sample(batch))

    def training_loss(self, batch: Batch, ctx, epoch: int) -> torch.Tensor:
        if self.stage(epoch, ctx.train.epochs) == 1:
            return self.stage1_loss(batch)
        return self.stage2_loss(self.stage2_batch(batch, ctx, epoch))
