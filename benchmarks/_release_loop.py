"""Our arithmetic in the release's loop shape: a stage-2 epoch for cost comparisons
(``benchmarks/bench_speed.py``) only. Benchmark code, not part of the package.

It uses the project's own models, so its cost is not the authors' release's cost (measured on
MOSI-poria, 1 thread: 4.47 CPU s per stage-2 epoch here against 8.74 s for the release, whose
teacher is besides about 75 % of its cost); its ratio to our epoch must not be read as
"hardymer vs the release".

Our ``hardymer`` precomputes hardness and neighbours once per (fold, condition) and trains on the
K+1 views of a batch as one stacked forward/backward and one optimizer step. The authors' release
instead does, for *every* training batch:

1. direct hardness: a forward pass of the frozen teacher under the condition and its
   reconstruction error of the missing modalities;
2. indirect hardness: cross-modal MI of the batch rows (here the PMI critics, with the batch as
   the reference set);
3. batch-level min–max normalisation of both, s = α1·DH̃ + α2·IH̃, h = mapping(s) (release:
   σ(β·s)), k_i = ⌊K·h_i⌋ + 1;
4. faiss queries for the batch's utterances, merged (release: concatenate and de-duplicate);
5. the K+1 views of the batch, then K+1 separate forward/backward/optimizer steps, one per view.

:func:`release_style_stage2_epoch` does exactly that work. It deliberately does not copy the
release's bugs where they do not change the cost: gradients are zeroed before each view step
(the release accumulates them, method.md §6.5), normalisation runs over the non-padding
positions (the release includes padding), reconstruction targets are the complete stored
features (§6.6), and the indirect term uses our PMI critics rather than the release's entropy
proxy (both are a few small matrix products on the batch's rows).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from hardymer.conditions import MODALITIES, canonical_condition, condition_mask
from hardymer.data.batching import Batch
from hardymer.hardness.combine import combine, neighbour_counts, to_hardness
from hardymer.hardness.mi import critic_indirect_hardness
from hardymer.retrieval.index import build_views, retrieve_neighbours

if TYPE_CHECKING:
    from hardymer.hardness.mi import PairCritic
    from hardymer.models.backbone import Backbone
    from hardymer.models.hardymer import Hardymer
    from hardymer.retrieval.index import ModalityIndex
    from hardymer.models.context import FitContext

#: keys of the ``timings`` dict filled by :func:`release_style_stage2_epoch`
PARTS = ("hardness", "retrieval", "views", "steps")


class ReleaseEpoch(NamedTuple):
    seconds: float
    mean_loss: float


def _view_batch(batch: Batch, view_idx: torch.Tensor, feats: dict[str, torch.Tensor], avail: torch.Tensor,
                mask: torch.Tensor) -> Batch:
    """``batch`` with each valid position replaced by dataset row ``view_idx`` [B, L]: the view's
    complete features and natural availability, the anchor's label, the condition ``mask``."""
    valid = batch.valid
    v = view_idx.clamp(min=0)
    vm = valid.unsqueeze(-1)
    x_full = {m: feats[m][v] * vm for m in MODALITIES}
    avail_full = avail[v] & vm
    b = Batch(x=x_full, x_full=x_full, avail=avail_full, avail_full=avail_full, valid=valid, y=batch.y,
              idx=v.masked_fill(~valid, -1))
    return b.with_availability(mask.view(1, 1, 3).expand_as(avail_full))


def release_style_stage2_epoch(
    student: Hardymer,
    teacher: Backbone,
    critics: dict[tuple[str, str], PairCritic] | None,
    indexes: dict[str, ModalityIndex],
    ctx: FitContext,
    optimizer: torch.optim.Optimizer,
    condition: str,
    *,
    batches: Iterable[Batch] | None = None,
    mapping: str = "release",
    merge: str = "concat",
    timings: dict | None = None,
) -> ReleaseEpoch:
    """One stage-2 epoch the way the release computes it (see the module docstring).

    Args:
        student: the model being trained (its ``config`` gives K, α1, α2, β, use_direct/indirect).
        teacher: the frozen teacher backbone (direct hardness, recomputed per batch).
        critics: PMI critics per modality pair (indirect hardness, recomputed per batch); ``None``
            or empty when the student does not use indirect hardness.
        indexes: faiss indexes per modality over the fold's training utterances.
        ctx: the fit context (dataset, fold, training config, device).
        optimizer: the student's optimizer; stepped K+1 times per batch.
        condition: the (fixed) condition, e.g. ``"a"``.
        batches: training batches to iterate (default: ``ctx.batcher("train", shuffle=True)``).
        mapping: hardness mapping applied to the batch-normalised scores (release: ``"release"``).
        merge: how per-modality neighbour lists are merged (release: ``"concat"``).
        timings: if given, seconds spent per part (:data:`PARTS`) are added to it.

    Returns:
        wall seconds of the epoch and the mean training loss over all view steps.
    """
    cfg = student.config
    K = int(cfg.K)
    ds = ctx.ds
    device = ctx.device
    cond = canonical_condition(condition)
    a1 = cfg.alpha1 if cfg.use_direct else 0.0
    a2 = cfg.alpha2 if cfg.use_indirect else 0.0
    grad_clip = ctx.train.grad_clip
    parts = dict.fromkeys(PARTS, 0.0)
    t_start = time.perf_counter()
    feats = {m: torch.as_tensor(ds.features[m], device=device) for m in MODALITIES}
    avail = torch.as_tensor(ds.available, device=device)
    mask = torch.as_tensor(condition_mask(cond), device=device)
    if batches is None:
        batches = ctx.batcher("train", shuffle=True)
    teacher.eval()
    student.train()
    losses: list[float] = []
    for batch in batches:
        t0 = time.perf_counter()
        valid = batch.valid
        rows = batch.idx[valid].cpu().numpy()
        # 1. direct hardness: teacher forward under the condition
        dh = np.zeros(len(rows))
        if a1 > 0:
            with torch.no_grad():
                b = batch.with_condition(cond)
                err, _ = teacher.recon_error(b, teacher.forward_all(b)["recon"])
            dh = err[valid].double().cpu().numpy()
        # 2. indirect hardness: critic PMI of the batch rows (the batch is the reference set)
        ih = np.zeros(len(rows))
        if a2 > 0 and critics:
            ih = critic_indirect_hardness(critics, {m: ds.features[m][rows] for m in MODALITIES},
                                          ds.available[rows], cond)
        # 3. batch-level min–max normalisation, mapping, neighbour counts
        h = to_hardness(combine(dh, ih, a1, a2), mapping, cfg.beta)
        k = neighbour_counts(h, K)
        t1 = time.perf_counter()
        # 4. faiss retrieval for the batch's utterances
        nb = retrieve_neighbours(ds, indexes, rows, cond, K, merge=merge)
        t2 = time.perf_counter()
        # 5. K+1 views, one forward/backward/step each
        views = torch.as_tensor(build_views(rows, nb, k, K), device=device)  # [Q, K+1]
        view_batches = []
        for j in range(K + 1):
            vi = batch.idx.clone()
            vi[valid] = views[:, j]
            view_batches.append(_view_batch(batch, vi, feats, avail, mask))
        t3 = time.perf_counter()
        for vb in view_batches:
            optimizer.zero_grad(set_to_none=True)
            loss = student.stage2_loss(vb)
            if not torch.isfinite(loss):
                raise FloatingPointError("non-finite training loss in a release-style view step")
            loss.backward()
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(student.parameters(), grad_clip)
            optimizer.step()
            losses.append(float(loss.detach()))
        t4 = time.perf_counter()
        for name, dt in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[name] += dt
    seconds = time.perf_counter() - t_start
    if timings is not None:
        for name, dt in parts.items():
            timings[name] = timings.get(name, 0.0) + dt
    return ReleaseEpoch(seconds, float(np.mean(losses)) if losses else math.nan)
