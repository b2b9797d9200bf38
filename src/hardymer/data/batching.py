"""Group batches: padded utterance sequences with padding and modality masks.

A batch holds whole groups (dialogues / videos) so that models can attend across the
utterances of a group. Everything is gathered from one tensor per modality with a trailing
zero row used for padding, which keeps batching cheap (no per-item Python work per step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from hardymer.conditions import MODALITIES, condition_mask
from hardymer.data.dataset import MultimodalDataset


@dataclass
class Batch:
    """A padded batch of ``B`` groups of at most ``L`` utterances.

    ``x`` holds the inputs the model may see (missing modalities zeroed), ``x_full`` the
    complete stored features (reconstruction targets), ``avail`` the effective availability
    (natural & condition), ``avail_full`` the natural availability, ``valid`` the non-padding
    positions and ``idx`` the dataset index of each position (-1 for padding).
    """

    x: dict[str, torch.Tensor]
    x_full: dict[str, torch.Tensor]
    avail: torch.Tensor  # [B, L, 3] bool
    avail_full: torch.Tensor  # [B, L, 3] bool
    valid: torch.Tensor  # [B, L] bool
    y: torch.Tensor  # [B, L]
    idx: torch.Tensor  # [B, L] long

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(
            x={m: t.to(device) for m, t in self.x.items()},
            x_full={m: t.to(device) for m, t in self.x_full.items()},
            avail=self.avail.to(device), avail_full=self.avail_full.to(device),
            valid=self.valid.to(device), y=self.y.to(device), idx=self.idx.to(device),
        )

    def with_availability(self, avail: torch.Tensor) -> "Batch":
        """A batch whose inputs are masked by ``avail`` ([B, L, 3] bool, & natural availability)."""
        eff = avail & self.avail_full & self.valid.unsqueeze(-1)
        x = {m: self.x_full[m] * eff[..., j : j + 1].to(self.x_full[m].dtype) for j, m in enumerate(MODALITIES)}
        return Batch(x=x, x_full=self.x_full, avail=eff, avail_full=self.avail_full,
                     valid=self.valid, y=self.y, idx=self.idx)

    def with_condition(self, condition: str) -> "Batch":
        """Apply a named condition (e.g. ``"at"``) to every utterance."""
        cm = torch.as_tensor(condition_mask(condition), device=self.valid.device)
        return self.with_availability(cm.view(1, 1, 3).expand_as(self.avail_full))


def group_index(ds: MultimodalDataset, indices: np.ndarray) -> np.ndarray:
    """Padded ``[G, L]`` matrix of dataset indices: one row per group, sorted by ``order``; -1 pads."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        return np.zeros((0, 0), dtype=np.int64)
    g = ds.groups[indices]
    # stable: by group (first appearance order of sorted group ids), then by order within group
    uniq, inv = np.unique(g, return_inverse=True)
    key = np.lexsort((ds.order[indices], inv))
    sorted_idx = indices[key]
    sorted_inv = inv[key]
    counts = np.bincount(sorted_inv, minlength=len(uniq))
    out = np.full((len(uniq), int(counts.max())), -1, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(len(sorted_idx)) - starts[sorted_inv]
    out[sorted_inv, pos] = sorted_idx
    return out


class GroupBatcher:
    """Yields :class:`Batch` objects over the groups of one split part.

    Args:
        ds: the dataset (features already standardised if the method wants it).
        indices: dataset indices of the part (e.g. ``fold.train``).
        batch_size: number of groups per batch.
        shuffle: shuffle groups each epoch with ``generator``.
        max_len: split groups longer than this into consecutive chunks (bounds memory).
    """

    def __init__(self, ds: MultimodalDataset, indices: np.ndarray, batch_size: int = 16,
                 shuffle: bool = False, max_len: int | None = None,
                 device: torch.device | str = "cpu", seed: int = 0) -> None:
        gi = group_index(ds, indices)
        if max_len is not None and gi.shape[1] > max_len:
            rows = []
            for r in gi:
                r = r[r >= 0]
                for s in range(0, len(r), max_len):
                    chunk = np.full(max_len, -1, dtype=np.int64)
                    c = r[s : s + max_len]
                    chunk[: len(c)] = c
                    rows.append(chunk)
            gi = np.stack(rows)
        self.groups = torch.as_tensor(gi)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = torch.device(device)
        self.gen = torch.Generator().manual_seed(seed)
        n = len(ds)
        # one tensor per modality with a trailing zero row for padding (index -1 -> n)
        self.feats = {m: torch.cat([torch.as_tensor(ds.features[m]), torch.zeros(1, ds.dims[m])]).to(self.device)
                      for m in MODALITIES}
        self.avail_all = torch.cat([torch.as_tensor(ds.available), torch.zeros(1, 3, dtype=torch.bool)]).to(self.device)
        lab = torch.as_tensor(ds.labels)
        self.labels = torch.cat([lab, torch.zeros(1, dtype=lab.dtype)]).to(self.device)
        self.n = n

    def __len__(self) -> int:
        return (len(self.groups) + self.batch_size - 1) // self.batch_size

    @property
    def num_utterances(self) -> int:
        return int((self.groups >= 0).sum())

    def make_batch(self, rows: torch.Tensor) -> Batch:
        """Build a batch from rows of the padded group-index matrix."""
        idx = rows.to(self.device)
        valid = idx >= 0
        L = int(valid.sum(1).max().item()) if valid.any() else 1
        idx, valid = idx[:, :L], valid[:, :L]
        g = torch.where(valid, idx, torch.full_like(idx, self.n))
        x_full = {m: f[g] for m, f in self.feats.items()}
        avail_full = self.avail_all[g]
        return Batch(x=dict(x_full), x_full=x_full, avail=avail_full, avail_full=avail_full,
                     valid=valid, y=self.labels[g], idx=torch.where(valid, idx, torch.full_like(idx, -1)))

    def __iter__(self) -> Iterator[Batch]:
        order = torch.randperm(len(self.groups), generator=self.gen) if self.shuffle else torch.arange(len(self.groups))
        for s in range(0, len(order), self.batch_size):
            yield self.make_batch(self.groups[order[s : s + self.batch_size]])
