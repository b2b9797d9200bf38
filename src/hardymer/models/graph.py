"""Dialogue graphs and the two graph layers GCNet uses, in plain torch over dense adjacency.

The nodes of a batch are its ``[B, L]`` positions; edges never cross groups or touch padding.
An adjacency tensor ``adj[b, r, i, j]`` is 1 when node ``i`` receives a message from node ``j``
under relation ``r``. Within a group, node ``i`` receives from every ``j`` in the window
``[i - past, i + future]`` (itself included). Relations:

- temporal: ``0`` past (``j < i``), ``1`` now (``j == i``), ``2`` future (``j > i``);
- speaker: ``role_i · S + role_j`` for ``S`` speaker roles (``S²`` relations; with one speaker
  per group only relation ``0`` occurs).

:class:`RelationalGraphConv` is PyG's ``RGCNConv`` without bases (per-relation mean aggregation
plus a root weight and a bias); :class:`GraphConv` is PyG's ``GraphConv`` with sum aggregation
(``lin_rel(Σ_j x_j) + lin_root(x_i)``). Dense adjacency costs ``O(B·L²)`` per layer, which is
small for dialogues of up to a few hundred utterances.
"""

from __future__ import annotations

import torch
from torch import nn

TEMPORAL_RELATIONS = ("past", "now", "future")


def window_mask(valid: torch.Tensor, past: int, future: int) -> torch.Tensor:
    """``[B, L, L]`` bool: ``i`` receives from ``j`` when both are real and ``i - past <= j <= i + future``."""
    if past < 0 or future < 0:
        raise ValueError(f"window sizes must be >= 0, got past={past}, future={future}")
    L = valid.shape[1]
    pos = torch.arange(L, device=valid.device)
    offset = pos.view(1, L) - pos.view(L, 1)  # [i, j] -> j - i
    band = (offset >= -past) & (offset <= future)
    return band.unsqueeze(0) & valid.unsqueeze(2) & valid.unsqueeze(1)


def temporal_adjacency(valid: torch.Tensor, past: int, future: int) -> torch.Tensor:
    """``[B, 3, L, L]`` float adjacency of the temporal graph (relations past / now / future)."""
    win = window_mask(valid, past, future)
    L = valid.shape[1]
    pos = torch.arange(L, device=valid.device)
    offset = pos.view(1, L) - pos.view(L, 1)
    rel = torch.stack([offset < 0, offset == 0, offset > 0])  # [3, L, L]
    return (win.unsqueeze(1) & rel.unsqueeze(0)).float()


def speaker_roles(speaker: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per position, the rank of its speaker's first appearance in the group (``[B, L]`` long, 0 at
    padding): the group's first speaker is role 0, the next new speaker role 1, and so on."""
    same = (speaker.unsqueeze(2) == speaker.unsqueeze(1)) & valid.unsqueeze(1) & valid.unsqueeze(2)  # [B, i, j]
    L = speaker.shape[1]
    pos = torch.arange(L, device=speaker.device)
    big = torch.full_like(speaker, L)
    # first position of each node's speaker
    first = torch.where(same, pos.view(1, 1, L).expand_as(same), big.unsqueeze(1).expand_as(same)).amin(2)
    is_first = (first == pos.view(1, L)) & valid  # nodes where a speaker appears for the first time
    # role = number of speakers whose first appearance comes before this speaker's
    earlier = is_first.unsqueeze(1) & (pos.view(1, 1, L) < first.unsqueeze(2))  # [B, i, j]
    return torch.where(valid, earlier.sum(2), torch.zeros_like(speaker))


def speaker_adjacency(roles: torch.Tensor, valid: torch.Tensor, past: int, future: int, n_roles: int) -> torch.Tensor:
    """``[B, S², L, L]`` float adjacency of the speaker graph: relation ``role_i · S + role_j``
    (roles at or above ``S`` share the last role)."""
    win = window_mask(valid, past, future)
    r = roles.clamp(max=n_roles - 1)
    rel = r.unsqueeze(2) * n_roles + r.unsqueeze(1)  # [B, L, L]
    onehot = rel.unsqueeze(1) == torch.arange(n_roles * n_roles, device=roles.device).view(1, -1, 1, 1)
    return (onehot & win.unsqueeze(1)).float()


class RelationalGraphConv(nn.Module):
    """``out_i = W_root x_i + b + Σ_r mean_{j ∈ N_r(i)} W_r x_j`` (RGCN, no basis decomposition)."""

    def __init__(self, d_in: int, d_out: int, n_relations: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_relations, d_in, d_out))
        self.root = nn.Linear(d_in, d_out, bias=True)
        nn.init.xavier_uniform_(self.weight.view(n_relations * d_in, d_out))

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """``x [B, L, d_in]``, ``adj [B, R, L, L]`` -> ``[B, L, d_out]``."""
        deg = adj.sum(-1, keepdim=True).clamp(min=1.0)  # [B, R, L, 1]
        agg = torch.einsum("brij,bjd->brid", adj / deg, x)  # mean of the neighbours per relation
        return self.root(x) + torch.einsum("brid,rde->bie", agg, self.weight.to(x.dtype))


class GraphConv(nn.Module):
    """``out_i = lin_rel(Σ_{j ∈ N(i)} x_j) + lin_root(x_i)`` over the union of the relations' edges."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.lin_rel = nn.Linear(d_in, d_out, bias=True)
        self.lin_root = nn.Linear(d_in, d_out, bias=False)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """``x [B, L, d_in]``, ``adj [B, L, L]`` (0/1) -> ``[B, L, d_out]``."""
        return self.lin_rel(torch.bmm(adj.to(x.dtype), x)) + self.lin_root(x)
