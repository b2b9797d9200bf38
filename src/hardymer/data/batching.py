"""Group batches: padded utterance sequences with padding and modality masks.

A batch holds whole groups (dialogues / videos) so that models can attend across the
utterances of a group. Everything is gathered from one tensor per modality with a trailing
zero row used for padding, which keeps batching cheap (no per-item Python work per step).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from hardymer.conditions import MODALITIES, Condition
from hardymer.data.dataset import MultimodalDataset


@dataclass
class Batch:
    """A padded batch of ``B`` groups of at most ``L`` utterances.

    ``x`` holds the inputs the model may see (missing modalities zeroed), ``x_full`` the
    complete stored features (reconstruction targets), ``avail`` the effective availability
    (natural & condition), ``avail_full`` the natural availability, ``valid`` the non-padding
    positions, ``idx`` the dataset index of each position (-1 for padding) and ``speaker`` (when
    the batch was built from a dataset) a speaker code per position: the index of the utterance's
    speaker label among the dataset's sorted labels, 0 where the dataset has no speakers, -1 at
    padding.
    """

    x: dict[str, torch.Tensor]
    x_full: dict[str, torch.Tensor]
    avail: torch.Tensor  # [B, L, 3] bool
    avail_full: torch.Tensor  # [B, L, 3] bool
    valid: torch.Tensor  # [B, L] bool
    y: torch.Tensor  # [B, L]
    idx: torch.Tensor  # [B, L] long
    speaker: torch.Tensor | None = None  # [B, L] long

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            x={m: t.to(device) for m, t in self.x.items()},
            x_full={m: t.to(device) for m, t in self.x_full.items()},
            avail=self.avail.to(device),
            avail_full=self.avail_full.to(device),
            valid=self.valid.to(device),
            y=self.y.to(device),
            idx=self.idx.to(device),
            speaker=None if self.speaker is None else self.speaker.to(device),
        )

    def with_availability(self, avail: torch.Tensor) -> Batch:
        """A batch whose inputs are masked by ``avail`` ([B, L, 3] bool, & natural availability)."""
        eff = avail & self.avail_full & self.valid.unsqueeze(-1)
        x = {m: self.x_full[m] * eff[..., j : j + 1].to(self.x_full[m].dtype) for j, m in enumerate(MODALITIES)}
        return Batch(
            x=x,
            x_full=self.x_full,
            avail=eff,
            avail_full=self.avail_full,
            valid=self.valid,
            y=self.y,
            idx=self.idx,
            speaker=self.speaker,
        )

    def with_condition(self, condition: str) -> Batch:
        """Apply a named condition (e.g. ``"at"``) to every utterance."""
        cm = torch.tensor(Condition(condition).mask, device=self.valid.device)
        return self.with_availability(cm.view(1, 1, 3).expand_as(self.avail_full))


def speaker_codes(ds: MultimodalDataset) -> np.ndarray:
    """Per utterance, the index of its speaker label among the dataset's sorted distinct labels
    (int64 ``[N]``); all 0 when the dataset has no speakers."""
    if ds.speakers is None:
        return np.zeros(len(ds), dtype=np.int64)
    _, codes = np.unique(np.asarray(ds.speakers).astype(str), return_inverse=True)
    return codes.astype(np.int64).reshape(-1)


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
        bucket: with ``shuffle``, batch groups of similar length together (see :meth:`epoch_order`),
            so that a batch pads only to its own longest group. Off: today's uniform shuffle.
        bucket_batches: batches per length bucket; groups are shuffled within a bucket and the
            batches of all buckets are shuffled together (1 = least padding).

    The features are not copied: every batcher over the same dataset gathers from the same
    (standardised) arrays; padding positions are filled with zeros at gather time.
    """

    def __init__(
        self,
        ds: MultimodalDataset,
        indices: np.ndarray,
        batch_size: int = 16,
        shuffle: bool = False,
        max_len: int | None = None,
        device: torch.device | str = "cpu",
        seed: int = 0,
        bucket: bool = False,
        bucket_batches: int = 1,
    ) -> None:
        if bucket_batches < 1:
            raise ValueError(f"bucket_batches must be >= 1, got {bucket_batches}")
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
        self.lengths = (self.groups >= 0).sum(1)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.bucket = bucket
        self.bucket_batches = bucket_batches
        self.device = torch.device(device)
        self.gen = torch.Generator().manual_seed(seed)
        self.n = len(ds)
        # shared with the dataset on CPU (no copy); one copy per batcher on an accelerator
        self.feats = {m: torch.as_tensor(ds.features[m]).to(self.device) for m in MODALITIES}
        self.avail_all = torch.as_tensor(ds.available).to(self.device)
        self.labels = torch.as_tensor(ds.labels).to(self.device)
        self.speakers = torch.as_tensor(speaker_codes(ds)).to(self.device)
        self.epochs = 0
        self.padded_positions = 0  # summed over the epochs iterated so far
        self.last_epoch_padded = 0

    def __len__(self) -> int:
        return (len(self.groups) + self.batch_size - 1) // self.batch_size

    @property
    def num_utterances(self) -> int:
        return int((self.groups >= 0).sum())

    def padding_stats(self) -> dict:
        """Utterances per epoch and padded positions (last epoch, mean over the epochs iterated)."""
        return {
            "utterances": self.num_utterances,
            "bucket": self.bucket,
            "epochs": self.epochs,
            "padded_last_epoch": self.last_epoch_padded,
            "padded_per_epoch": self.padded_positions / self.epochs if self.epochs else 0.0,
        }

    def make_batch(self, rows: torch.Tensor) -> Batch:
        """Build a batch from rows of the padded group-index matrix."""
        idx = rows.to(self.device)
        valid = idx >= 0
        L = int(valid.sum(1).max().item()) if valid.any() else 1
        idx, valid = idx[:, :L], valid[:, :L]
        g = idx.clamp(min=0)
        v3 = valid.unsqueeze(-1)
        x_full = {m: torch.where(v3, f[g], f.new_zeros(())) for m, f in self.feats.items()}
        avail_full = self.avail_all[g] & v3
        y = torch.where(valid, self.labels[g], self.labels.new_zeros(()))
        return Batch(
            x=dict(x_full),
            x_full=x_full,
            avail=avail_full,
            avail_full=avail_full,
            valid=valid,
            y=y,
            idx=torch.where(valid, idx, torch.full_like(idx, -1)),
            speaker=torch.where(valid, self.speakers[g], torch.full_like(idx, -1)),
        )

    def epoch_order(self) -> list[torch.Tensor]:
        """The group rows of each batch of the next epoch (advances the generator when shuffling).

        Without bucketing: a uniform permutation cut into consecutive batches. With bucketing:
        groups sorted by length (ties in random order), cut into buckets of ``bucket_batches``
        batches, shuffled within each bucket and cut into batches; the batches of all buckets are
        then shuffled. Every group appears exactly once per epoch.
        """
        G, bs = len(self.groups), self.batch_size
        if not self.shuffle:
            order = torch.arange(G)
        elif not self.bucket:
            order = torch.randperm(G, generator=self.gen)
        else:
            perm = torch.randperm(G, generator=self.gen)
            by_len = perm[torch.sort(self.lengths[perm], stable=True).indices]
            width = bs * self.bucket_batches
            chunks: list[torch.Tensor] = []
            for s in range(0, G, width):
                b = by_len[s : s + width]
                if self.bucket_batches > 1:
                    b = b[torch.randperm(len(b), generator=self.gen)]
                chunks.extend(b[i : i + bs] for i in range(0, len(b), bs))
            return [chunks[i] for i in torch.randperm(len(chunks), generator=self.gen).tolist()]
        return [order[s : s + bs] for s in range(0, G, bs)]

    def __iter__(self) -> Iterator[Batch]:
        padded = 0
        for sel in self.epoch_order():
            lens = self.lengths[sel]
            padded += int(lens.max()) * len(sel) - int(lens.sum())
            yield self.make_batch(self.groups[sel])
        self.epochs += 1
        self.padded_positions += padded
        self.last_epoch_padded = padded
