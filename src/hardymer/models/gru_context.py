"""``gru-context``: a bc-LSTM-style contextual baseline (Poria et al., 2017) with a GRU.

1. per utterance: the three inputs times their availability (missing -> exactly 0) and the three
   0/1 availability flags, concatenated -> Linear + ReLU + Dropout to ``hidden``;
2. a (bidirectional) GRU over the utterances of the group, packed with the group lengths so that
   padding positions never enter the recurrence;
3. head on ``[projection; GRU output]`` -> ``C`` logits or one score.

One stage; the training loss is the task loss under the protocol's condition sampling (fixed:
the condition; unified: one condition per group and step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from hardymer.conditions import MODALITIES
from hardymer.data.batching import Batch
from hardymer.errors import ConfigError, DataError
from hardymer.models._api import register_method
from hardymer.models.base import Method, MethodSpec


@dataclass
class GruContextConfig:
    hidden: int = 128
    dropout: float = 0.3
    layers: int = 1
    bidirectional: bool = True
    regression_loss: str = "l1"


def group_lengths(valid: torch.Tensor) -> torch.Tensor:
    """Number of utterances per group ``[B]`` (CPU, int64); groups must be left-aligned."""
    lengths = valid.sum(1)
    pos = torch.arange(valid.shape[1], device=valid.device).unsqueeze(0)
    if not torch.equal(valid, pos < lengths.unsqueeze(1)):
        raise DataError("groups must be left-aligned (valid positions first, then padding)", field="valid")
    return lengths.to("cpu", torch.int64)


@register_method(
    "gru-context",
    GruContextConfig,
    paper="Poria et al. 2017, context-dependent sentiment analysis (bc-LSTM, ACL 2017)",
    protocols=["fixed", "unified", "random"],
)
class GruContext(Method):
    stage1_fraction = 0.0
    uses_groups = True  # the BiGRU runs over the utterances of a group

    def __init__(self, spec: MethodSpec, config: GruContextConfig) -> None:
        super().__init__(spec, config)
        if config.hidden < 1 or config.layers < 1:
            raise ConfigError(f"gru-context: hidden and layers must be >= 1, got {config.hidden}, {config.layers}")
        if not 0.0 <= config.dropout < 1.0:
            raise ConfigError(f"gru-context: dropout must be in [0, 1), got {config.dropout}")
        d_in = sum(spec.dims[m] for m in MODALITIES) + len(MODALITIES)
        H = config.hidden
        self.proj = nn.Sequential(nn.Linear(d_in, H), nn.ReLU(), nn.Dropout(config.dropout))
        self.gru = nn.GRU(
            H,
            H,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        d_ctx = H * (2 if config.bidirectional else 1)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(H + d_ctx, spec.output_dim))

    def project(self, batch: Batch) -> torch.Tensor:
        """Per-utterance projection ``[B, L, hidden]`` of the available inputs and the flags."""
        avail = (batch.avail & batch.valid.unsqueeze(-1)).to(batch.x[MODALITIES[0]].dtype)
        parts = [batch.x[m] * avail[..., j : j + 1] for j, m in enumerate(MODALITIES)]
        return self.proj(torch.cat(parts + [avail], dim=-1))

    def context(self, p: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """GRU over each group's utterances (packed: padding is never read); 0 at padding."""
        B, L, _ = p.shape
        lengths = group_lengths(valid)
        out = p.new_zeros(B, L, self.gru.hidden_size * (2 if self.gru.bidirectional else 1))
        rows = (lengths > 0).nonzero(as_tuple=True)[0]
        if len(rows):
            packed = pack_padded_sequence(p[rows.to(p.device)], lengths[rows], batch_first=True, enforce_sorted=False)
            seq, _ = self.gru(packed)
            seq, _ = pad_packed_sequence(seq, batch_first=True, total_length=L)
            out = out.index_copy(0, rows.to(p.device), seq)
        return out

    def forward(self, batch: Batch) -> torch.Tensor:
        p = self.project(batch)
        return self.head(torch.cat([p, self.context(p, batch.valid)], dim=-1))

    def training_loss(self, batch: Batch, ctx, epoch: int) -> torch.Tensor:
        b = batch.with_availability(ctx.conditions.sample(batch))
        return self.task_loss(self.forward(b), b.y, b.valid)
