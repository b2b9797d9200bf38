"""``gcnet``: Graph Completion Network (Lian, Chen, Sun, Liu, Tao; IEEE TPAMI 2023).

Over the utterances of a group (dialogue / video), in the order the data model keeps:

1. the three inputs, missing modalities zeroed, concatenated (no availability flags: the release
   gives the mask to the loss only) -> a 2-layer BiLSTM, hidden ``hidden`` per direction
   (``2·hidden`` out);
2. two graph branches over the group's utterances, each ``RGCN(2·hidden -> g) -> GraphConv(g -> g)``
   with ``g = hidden // 2`` and no nonlinearity in between, concatenated with the branch input
   (``D_h = 2·hidden + g``), a 2-layer BiLSTM (``D_h`` per direction), the optional matching
   attention (``time_attn``: 'general2', tanh scores, masked softmax) and ``Linear(2·D_h -> D_h)``
   + ReLU. The temporal branch has 3 relations (past / now / future) in the window
   ``[i - window_past, i + window_future]``; the speaker branch has ``speakers²`` relations
   (speaker role of the receiving and the sending utterance), one in effect where a group has one
   speaker. The branch outputs are summed;
3. a task head ``Linear(D_h -> C)`` and a reconstruction head ``Linear(D_h -> d_a + d_t + d_v)``.

Loss: the task loss (cross-entropy, or MSE as released for regression) + ``recon_weight`` × the
reconstruction MSE counted only on the missing (utterance, modality) entries whose features
exist: per modality the squared error summed over its entries divided by its width, the sum
divided by the number of utterances (the release's normalisation). One stage; the missing
pattern of every step comes from the protocol's condition sampler.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from hardymer.conditions import MODALITIES
from hardymer.data.batching import Batch
from hardymer.errors import ConfigError
from hardymer.models._api import register_method
from hardymer.models.base import Method, MethodSpec
from hardymer.models.graph import (
    TEMPORAL_RELATIONS,
    GraphConv,
    RelationalGraphConv,
    speaker_adjacency,
    speaker_roles,
    temporal_adjacency,
)
from hardymer.models.gru_context import group_lengths


@dataclass
class GCNetConfig:
    hidden: int = 100  # D_e: the base BiLSTM's size per direction (the release's --hidden: 50/100/200)
    window_past: int = 2
    window_future: int = 2
    speakers: int = 2  # speaker roles per group (speakers² relations); 1 = a single speaker relation
    time_attn: bool = False  # the release's --time-attn (off by default there)
    dropout: float = 0.5  # between the layers of every BiLSTM, as released
    recon_weight: float = 1.0  # 1 = the release's --loss-recon; 0 = no reconstruction
    regression_loss: str = "mse"


def run_lstm(lstm: nn.LSTM, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """A batch-first LSTM over each group's real utterances (packed: padding is never read); 0 at padding."""
    B, L, _ = x.shape
    lengths = group_lengths(valid)
    out = x.new_zeros(B, L, lstm.hidden_size * (2 if lstm.bidirectional else 1))
    rows = (lengths > 0).nonzero(as_tuple=True)[0]
    if len(rows):
        packed = pack_padded_sequence(x[rows.to(x.device)], lengths[rows], batch_first=True, enforce_sorted=False)
        seq, _ = lstm(packed)
        seq, _ = pad_packed_sequence(seq, batch_first=True, total_length=L)
        out = out.index_copy(0, rows.to(x.device), seq.to(out.dtype))
    return out


class MatchingAttention(nn.Module):
    """The release's 'general2' attention: ``α_ts = softmax_s tanh((W o_t + b)·o_s)`` over the real
    utterances ``s`` of the group, output ``Σ_s α_ts o_s``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.transform = nn.Linear(dim, dim, bias=True)

    def forward(self, mem: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        scores = torch.tanh(torch.bmm(self.transform(mem), mem.transpose(1, 2)))  # [B, t, s]
        scores = scores.masked_fill(~valid.unsqueeze(1), float("-inf"))
        alpha = torch.softmax(scores.float(), dim=-1).to(mem.dtype)
        alpha = torch.where(valid.unsqueeze(2), alpha, torch.zeros_like(alpha))  # padding rows (all -inf)
        return torch.bmm(alpha, mem)


class GraphBranch(nn.Module):
    """RGCN -> GraphConv, [input; graph output], BiLSTM, optional attention, Linear + ReLU."""

    def __init__(self, d_in: int, graph_hidden: int, n_relations: int, time_attn: bool, dropout: float) -> None:
        super().__init__()
        self.conv1 = RelationalGraphConv(d_in, graph_hidden, n_relations)
        self.conv2 = GraphConv(graph_hidden, graph_hidden)
        d_h = d_in + graph_hidden
        self.lstm = nn.LSTM(d_h, d_h, num_layers=2, bidirectional=True, batch_first=True, dropout=dropout)
        self.attn = MatchingAttention(2 * d_h) if time_attn else None
        self.linear = nn.Linear(2 * d_h, d_h)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        g = self.conv2(self.conv1(x, adj), adj.amax(1))
        h = run_lstm(self.lstm, torch.cat([x, g], dim=-1), valid)
        if self.attn is not None:
            h = self.attn(h, valid)
        return F.relu(self.linear(h))


@register_method(
    "gcnet",
    GCNetConfig,
    paper="Lian, Chen, Sun, Liu, Tao 2023, GCNet: graph completion network for incomplete multimodal learning "
    "in conversation (IEEE TPAMI 2023)",
    venue="IEEE TPAMI 2023",
    protocols=["fixed", "unified", "random"],
    differs="plain-torch RGCN (no basis decomposition, as the release's call) and GraphConv; BiLSTMs packed so "
    "padding never enters the recurrence (the release runs them over padded dialogues); speaker roles by first "
    "appearance in the group (the release: IEMOCAP's host/guest slot); no GRU built; seeded; the missing pattern "
    "from the protocol (the release: CPM-Net's random mask, redrawn for every test batch); selection on validation "
    "(the release selects IEMOCAP epochs on the test fold)",
)
class GCNet(Method):
    """GCNet: BiLSTM encoder, temporal and speaker graph branches, task + masked reconstruction heads."""

    stage1_fraction = 0.0
    uses_groups = True  # the BiLSTMs and the graphs run over the utterances of a group

    def __init__(self, spec: MethodSpec, config: GCNetConfig) -> None:
        super().__init__(spec, config)
        if config.hidden < 2:
            raise ConfigError(f"gcnet: hidden must be >= 2 (the graph size is hidden // 2), got {config.hidden}")
        if config.window_past < 0 or config.window_future < 0:
            raise ConfigError(
                f"gcnet: window_past and window_future must be >= 0, got {config.window_past}, {config.window_future}"
            )
        if config.speakers < 1:
            raise ConfigError(f"gcnet: speakers must be >= 1, got {config.speakers}")
        if not 0.0 <= config.dropout < 1.0:
            raise ConfigError(f"gcnet: dropout must be in [0, 1), got {config.dropout}")
        if config.recon_weight < 0:
            raise ConfigError(f"gcnet: recon_weight must be >= 0, got {config.recon_weight}")
        if config.regression_loss not in ("l1", "mse"):
            raise ConfigError(f"gcnet: regression_loss must be l1 or mse, got {config.regression_loss!r}")
        self.dims = [spec.dims[m] for m in MODALITIES]
        d_in = sum(self.dims)
        d_e2 = 2 * config.hidden
        g = config.hidden // 2
        self.encoder = nn.LSTM(
            d_in, config.hidden, num_layers=2, bidirectional=True, batch_first=True, dropout=config.dropout
        )
        self.temporal = GraphBranch(d_e2, g, len(TEMPORAL_RELATIONS), config.time_attn, config.dropout)
        self.speaker = GraphBranch(d_e2, g, config.speakers**2, config.time_attn, config.dropout)
        d_h = d_e2 + g
        self.head = nn.Linear(d_h, spec.output_dim)
        self.rec_head = nn.Linear(d_h, d_in)

    def hidden(self, batch: Batch) -> torch.Tensor:
        """The summed branch outputs ``[B, L, D_h]`` (0 at padding)."""
        cfg = self.config
        valid = batch.valid
        x = torch.cat([batch.x[m] for m in MODALITIES], dim=-1)
        x = x * valid.unsqueeze(-1).to(x.dtype)
        enc = run_lstm(self.encoder, x, valid)
        speaker = batch.speaker if batch.speaker is not None else torch.zeros_like(batch.idx)
        roles = speaker_roles(speaker, valid)
        adj_t = temporal_adjacency(valid, cfg.window_past, cfg.window_future).to(enc.dtype)
        adj_s = speaker_adjacency(roles, valid, cfg.window_past, cfg.window_future, cfg.speakers).to(enc.dtype)
        h = self.temporal(enc, adj_t, valid) + self.speaker(enc, adj_s, valid)
        return h * valid.unsqueeze(-1).to(h.dtype)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.head(self.hidden(batch))

    def reconstruction_loss(self, rec: torch.Tensor, batch: Batch) -> torch.Tensor:
        """MSE on the missing (utterance, modality) entries whose features exist: per modality the
        summed squared error over its missing entries divided by its width, the total divided by
        the number of real utterances."""
        missing = batch.avail_full & ~batch.avail & batch.valid.unsqueeze(-1)  # [B, L, 3]
        total = rec.new_zeros((), dtype=torch.float32)
        start = 0
        for j, m in enumerate(MODALITIES):
            d = self.dims[j]
            err = (rec[..., start : start + d].float() - batch.x_full[m].float()) ** 2
            total = total + (err.sum(-1) * missing[..., j].float()).sum() / d
            start += d
        return total / batch.valid.sum().clamp(min=1).float()

    def training_loss(self, batch: Batch, ctx, epoch: int) -> torch.Tensor:
        b = batch.with_availability(ctx.conditions.sample(batch))
        h = self.hidden(b)
        loss = self.task_loss(self.head(h), b.y, b.valid)
        if self.config.recon_weight > 0:
            loss = loss + self.config.recon_weight * self.reconstruction_loss(self.rec_head(h), b)
        return loss
