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
    from hardymer.models.context import FitContext
    from hardymer.models.hardymer import Hardymer
    from hardymer.retrieval.index import ModalityIndex

#: keys of the ``timings`` dict filled by :func:`release_style_stage2_epoch`
PARTS = ("hardness", "retrieval", "views", "steps")


class ReleaseEpoch(NamedTuple):
    """Wall seconds of one release-style epoch and its mean training loss."""

    seconds: float
    mean_loss: float


def _view_batch(
    batch: Batch, view_idx: torch.Tensor, feats: dict[str, torch.Tensor], avail: torch.Tensor, mask: torch.Tensor
) -> Batch:
    """``batch`` with each valid position replaced by dataset row ``view_idx`` [B, L]: the view's
    complete features and natural availability, the anchor's label, the condition ``mask``."""
    valid = batch.valid
    v = view_idx.clamp(min=0)
    vm = valid.unsqueeze(-1)
    x_full = {m: feats[m][v] * vm for m in MODALITIES}
    avail_full = avail[v] & vm
    b = Batch(
        x=x_full,
        x_full=x_full,
        avail=avail_full,
        avail_full=avail_full,
        valid=valid,
        y=batch.y,
        idx=v.masked_fill(~valid, -1),
    )
    return b.with_availability(mask.view(1, 1, 3).expand_as(avail_full))


class _Loop(NamedTuple):
    """What every batch of a release-style epoch needs, resolved once per epoch."""

    K: int
    a1: float
    a2: float
    beta: float
    cond: str
    feats: dict[str, torch.Tensor]
    avail: torch.Tensor
    mask: torch.Tensor


def _loop_inputs(student: Hardymer, ctx: FitContext, condition: str) -> _Loop:
    """Hardness weights from the student's config and the dataset's tensors on the context's device."""
    cfg = student.config
    ds, device = ctx.ds, ctx.device
    cond = canonical_condition(condition)
    return _Loop(
        K=int(cfg.K),
        a1=cfg.alpha1 if cfg.use_direct else 0.0,
        a2=cfg.alpha2 if cfg.use_indirect else 0.0,
        beta=cfg.beta,
        cond=cond,
        feats={m: torch.as_tensor(ds.features[m], device=device) for m in MODALITIES},
        avail=torch.as_tensor(ds.available, device=device),
        mask=torch.as_tensor(condition_mask(cond), device=device),
    )


def _batch_neighbour_counts(
    batch: Batch,
    rows: np.ndarray,
    teacher: Backbone,
    critics: dict[tuple[str, str], PairCritic] | None,
    ctx: FitContext,
    lp: _Loop,
    mapping: str,
) -> np.ndarray:
    """Steps 1-3: direct and indirect hardness of the batch rows, batch-level normalisation, k_i."""
    valid = batch.valid
    ds = ctx.ds
    # 1. direct hardness: teacher forward under the condition
    dh = np.zeros(len(rows))
    if lp.a1 > 0:
        with torch.no_grad():
            b = batch.with_condition(lp.cond)
            err, _ = teacher.recon_error(b, teacher.forward_all(b)["recon"])
        dh = err[valid].double().cpu().numpy()
    # 2. indirect hardness: critic PMI of the batch rows (the batch is the reference set)
    ih = np.zeros(len(rows))
    if lp.a2 > 0 and critics:
        ih = critic_indirect_hardness(
            critics, {m: ds.features[m][rows] for m in MODALITIES}, ds.available[rows], lp.cond
        )
    # 3. batch-level min–max normalisation, mapping, neighbour counts
    h = to_hardness(combine(dh, ih, lp.a1, lp.a2), mapping, lp.beta)
    return neighbour_counts(h, lp.K)


def _batch_views(
    batch: Batch, rows: np.ndarray, nb: np.ndarray, k: np.ndarray, lp: _Loop, device: torch.device
) -> list[Batch]:
    """Step 5a: the K+1 view batches of ``batch`` from its neighbours ``nb`` and counts ``k``."""
    views = torch.as_tensor(build_views(rows, nb, k, lp.K), device=device)  # [Q, K+1]
    view_batches = []
    for j in range(lp.K + 1):
        vi = batch.idx.clone()
        vi[batch.valid] = views[:, j]
        view_batches.append(_view_batch(batch, vi, lp.feats, lp.avail, lp.mask))
    return view_batches


def _view_steps(
    student: Hardymer,
    view_batches: list[Batch],
    optimizer: torch.optim.Optimizer,
    grad_clip: float | None,
    losses: list[float],
) -> None:
    """Step 5b: one forward/backward/optimizer step per view; each loss is appended to ``losses``."""
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
    parts = dict.fromkeys(PARTS, 0.0)
    t_start = time.perf_counter()
    lp = _loop_inputs(student, ctx, condition)
    if batches is None:
        batches = ctx.batcher("train", shuffle=True)
    teacher.eval()
    student.train()
    losses: list[float] = []
    for batch in batches:
        t0 = time.perf_counter()
        rows = batch.idx[batch.valid].cpu().numpy()
        k = _batch_neighbour_counts(batch, rows, teacher, critics, ctx, lp, mapping)
        t1 = time.perf_counter()
        # 4. faiss retrieval for the batch's utterances
        nb = retrieve_neighbours(ctx.ds, indexes, rows, lp.cond, lp.K, merge=merge)
        t2 = time.perf_counter()
        # 5. K+1 views, one forward/backward/step each
        view_batches = _batch_views(batch, rows, nb, k, lp, ctx.device)
        t3 = time.perf_counter()
        _view_steps(student, view_batches, optimizer, ctx.train.grad_clip, losses)
        t4 = time.perf_counter()
        for name, dt in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[name] += dt
    seconds = time.perf_counter() - t_start
    if timings is not None:
        for name, dt in parts.items():
            timings[name] = timings.get(name, 0.0) + dt
    return ReleaseEpoch(seconds, float(np.mean(losses)) if losses else math.nan)
