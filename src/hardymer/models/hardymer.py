"""``hardymer``: HARDY-MER = backbone student + Multi-view Hardness Evaluation (MHE) +
Retrieval-based Dynamic Curriculum Learning (RDCL), computed once per (fold, condition).

This module is the student. ``prepare`` (before it trains) gets a frozen teacher backbone (same
data, fold, condition(s), seed, features) from the training layer (``ctx.teacher``: trained there,
or loaded from its cache) and hands it to :mod:`hardymer.models.curriculum`, which scores direct
and indirect hardness, maps it to neighbour counts and retrieves the neighbours; the resulting
K+1 views per training utterance are installed here. Teacher, critics and hardness are cached on
disk and reused by every run that shares their inputs.

Stage 2 stacks all K+1 views of a batch into one forward/backward and one optimizer step
(``view_steps=stacked``), or takes one optimizer step per view (``sequential``: K+1 steps). Every
view carries the anchor's label and condition mask; a neighbour brings its own complete features,
so its missing modalities are real reconstruction targets. Inference is one forward pass.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

import hardymer.models.curriculum as curriculum
from hardymer.conditions import MODALITIES
from hardymer.data.batching import Batch
from hardymer.errors import ConfigError
from hardymer.models._api import register_method
from hardymer.models.backbone import Backbone, BackboneConfig
from hardymer.models.base import MethodSpec, StepParts

log = logging.getLogger(__name__)


@dataclass
class HardymerConfig(BackboneConfig):
    K: int = 3
    alpha1: float = 0.6
    alpha2: float = 0.4
    beta: float = 4.0
    mapping: str = "rank"  # release | centered | rank
    mi_estimator: str = "critic"  # critic | entropy (the release's proxy, comparison only)
    use_direct: bool = True
    use_indirect: bool = True
    hardness: str = "model"  # model | fixed (k = ⌊K/2⌋+1 for all) | random | all (k = K for all)
    share: float | None = None  # expected neighbour views / (K+1); None: k = ⌊K·h⌋+1 (rank: 0.5)
    neighbours: str = "faiss"  # faiss | random (random training utterances) | none (self only)
    merge: str = "fused"  # fused | concat (release)
    approximate_index: bool | str | None = None  # None: exact up to retrieval.index.APPROX_MIN_ROWS rows, ivf above
    pacing: str = "none"  # none | linear (share of neighbour views grows over stage 2)
    view_steps: str = "stacked"  # stacked (one step over all K+1 views) | sequential (one step per view)
    view_chunk: int = 0  # stacked: views per forward/backward pass, gradients accumulated (0: all K+1 at once)
    teacher_epochs: int = 0  # 0: same as the student
    critic_epochs: int = 60
    teacher_options: dict = field(default_factory=dict)  # backbone options overriding the student's


@register_method(
    "hardymer",
    HardymerConfig,
    paper="Zuo et al. 2025, HARDY-MER (arXiv 2508.06800)",
    protocols=["fixed", "unified", "random"],
)
class Hardymer(Backbone):
    def __init__(self, spec: MethodSpec, config: HardymerConfig) -> None:
        super().__init__(spec, config)
        for name, allowed in (
            ("mapping", ("release", "centered", "rank")),
            ("mi_estimator", ("critic", "entropy")),
            ("hardness", ("model", "fixed", "random", "all")),
            ("neighbours", ("faiss", "random", "none")),
            ("merge", ("fused", "concat")),
            ("pacing", ("none", "linear")),
            ("view_steps", ("stacked", "sequential")),
        ):
            if getattr(config, name) not in allowed:
                raise ValueError(f"hardymer: {name} must be one of {allowed}, got {getattr(config, name)!r}")
        if config.K < 1:
            raise ValueError("hardymer: K must be >= 1")
        if config.view_chunk < 0:
            raise ConfigError(
                f"hardymer: view_chunk must be >= 0 (0: all K+1 views in one pass), got {config.view_chunk}"
            )
        if config.share is not None:
            if config.hardness == "all":
                raise ConfigError("hardymer: share cannot be combined with hardness=all (k = K for all)")
            if not 0.0 <= config.share <= config.K / (config.K + 1):
                raise ConfigError(
                    f"hardymer: share must be in [0, K/(K+1)] = [0, {config.K / (config.K + 1):.4f}] "
                    f"for K={config.K}, got {config.share}"
                )
        self.views: torch.Tensor | None = None  # [n_cond, N_dataset, K+1] dataset indices
        self.report: dict = {}
        object.__setattr__(self, "_teacher", None)  # not a submodule: never trained or saved with the student

    @property
    def teacher(self) -> Backbone | None:
        return self.__dict__["_teacher"]

    # ------------------------------------------------------------------ MHE + RDCL, once
    def teacher_config(self) -> BackboneConfig:
        """The backbone config of the teacher: the student's backbone options with ``teacher_options`` over them."""
        base = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(BackboneConfig)}
        base.update(self.config.teacher_options)
        return BackboneConfig(**base)

    def _keep_teacher(self, teacher: Backbone) -> Backbone:
        object.__setattr__(self, "_teacher", teacher)
        return teacher

    def _train_teacher(self, ctx) -> Backbone:
        """The frozen teacher for ``ctx``, handed by the training layer (on-disk cache, else trained)."""
        return ctx.teacher(self.spec, self.teacher_config(), self.config.teacher_epochs)

    def prepare(self, ctx) -> None:
        """MHE + RDCL once, before training: hardness and neighbours per condition (from the
        on-disk cache when it holds them), then the K+1 views of every training utterance."""
        # no draw here moves the student's generators (the teacher trains on its own streams, the
        # critics on their own generators), so the student trains on the same random draws whether
        # MHE/RDCL is computed now or loaded from the cache
        table = curriculum.hardness_table(
            self.config, ctx, self.teacher_config(), lambda: self._keep_teacher(self._train_teacher(ctx))
        )
        self.views, self.report, self._feats, self._avail = curriculum.install_views(
            self.config, ctx, list(ctx.conditions.conditions), table
        )

    # ------------------------------------------------------------------ stage 2 on views
    def view_batch(self, batch: Batch, cond_ids: torch.Tensor, masks: torch.Tensor, share: float = 1.0) -> Batch:
        """Stack the K+1 views of ``batch`` along the batch dimension ([(K+1)·B, L]); ``cond_ids``
        indexes ``masks`` per group ``[B]`` or per utterance ``[B, L]`` (the random protocol)."""
        assert self.views is not None, "prepare() must run before training on views"
        K = self.config.K
        B, L = batch.valid.shape
        idx = batch.idx.clamp(min=0)
        cond_ids = cond_ids.view(B, 1).expand(B, L) if cond_ids.dim() == 1 else cond_ids
        v = self.views[cond_ids, idx]  # [B, L, K+1]
        if share < 1.0:  # pacing: neighbours beyond the nearest ceil(k·share) revert to the anchor
            is_nb = v != idx.unsqueeze(-1)
            k_i = is_nb.sum(-1, keepdim=True)
            allowed = torch.ceil(k_i.float() * share).long()
            rank = is_nb.long().cumsum(-1)  # 1 for n_1 (the nearest), ..., k_i for n_k
            keep_nb = is_nb & (rank <= allowed)
            v = torch.where(keep_nb, v, idx.unsqueeze(-1))
        v = v.permute(2, 0, 1).reshape((K + 1) * B, L)
        valid = batch.valid.repeat(K + 1, 1)
        x_full = {m: self._feats[m][v] * valid.unsqueeze(-1) for m in MODALITIES}
        avail_full = self._avail[v] & valid.unsqueeze(-1)
        cond = masks[cond_ids].to(v.device).view(B, L, 3).repeat(K + 1, 1, 1)
        stacked = Batch(
            x=x_full,
            x_full=x_full,
            avail=avail_full,
            avail_full=avail_full,
            valid=valid,
            y=batch.y.repeat(K + 1, 1),
            idx=v.masked_fill(~valid, -1),
        )
        return stacked.with_availability(cond)

    def stage2_batch(self, batch: Batch, ctx, epoch: int) -> Batch:
        """The K+1 views of ``batch`` stacked along the batch dimension, under the conditions the
        run's sampler draws (one step trains on all of them with ``view_steps=stacked``)."""
        return self._stage2_views(batch, ctx, epoch)

    def _stage2_views(self, batch: Batch, ctx, epoch: int) -> Batch:
        epochs = ctx.train.epochs
        share = 1.0
        if self.config.pacing == "linear":
            s1 = self.stage1_epochs(epochs)
            share = (epoch - s1 + 1) / max(epochs - s1, 1)
        cond_ids = ctx.conditions.sample_utterance_ids(*batch.valid.shape)  # [B, L]
        return self.view_batch(batch, cond_ids, ctx.conditions.masks, share)

    def training_loss(self, batch: Batch, ctx, epoch: int) -> torch.Tensor:
        if self.stage(epoch, ctx.train.epochs) == 1:
            return self.stage1_loss(batch)
        return self.stage2_loss(self._stage2_views(batch, ctx, epoch))

    def training_losses(self, batch: Batch, ctx, epoch: int) -> Iterator[torch.Tensor | StepParts]:
        """``view_steps=sequential`` in stage 2: one loss (one optimizer step) per view j = 0..K,
        each computed after the step on view j−1; otherwise the single stacked loss."""
        V, c = self.config.K + 1, self.config.view_chunk
        if self.stage(epoch, ctx.train.epochs) == 1 or (self.config.view_steps == "stacked" and not 0 < c < V):
            yield self.training_loss(batch, ctx, epoch)
            return
        sb = self._stage2_views(batch, ctx, epoch)
        B = batch.valid.shape[0]
        if self.config.view_steps == "stacked":  # one step, views in chunks of c: the stacked loss in parts
            targets = self.recon_targets(sb)
            n_valid = max(int(sb.valid.sum()), 1)
            n_recon = max(int(targets.sum()), 1)

            def part(lo: int, hi: int) -> torch.Tensor:
                rows = slice(lo * B, hi * B)
                return self.stage2_loss(
                    view_slice(sb, rows.start, rows.stop),
                    task_scale=int(sb.valid[rows].sum()) / n_valid,
                    recon_scale=int(targets[rows].sum()) / n_recon,
                )

            yield StepParts([functools.partial(part, lo, min(lo + c, V)) for lo in range(0, V, c)])
            return
        for j in range(self.config.K + 1):
            yield self.stage2_loss(view_slice(sb, j * B, (j + 1) * B))

    def steps_per_batch(self, stage: int) -> int:
        return self.config.K + 1 if stage == 2 and self.config.view_steps == "sequential" else 1

    def run_summary(self) -> dict:
        """The realised neighbour-view share of the installed views (mean over conditions)."""
        conds = self.report.get("conditions", {})
        shares = [c["neighbour_view_share"] for c in conds.values() if "neighbour_view_share" in c]
        return {"neighbour_view_share": float(np.mean(shares))} if shares else {}


def view_slice(b: Batch, start: int, stop: int) -> Batch:
    """Rows ``start:stop`` of a stacked view batch (one view of every group)."""
    r = slice(start, stop)
    return Batch(
        x={m: t[r] for m, t in b.x.items()},
        x_full={m: t[r] for m, t in b.x_full.items()},
        avail=b.avail[r],
        avail_full=b.avail_full[r],
        valid=b.valid[r],
        y=b.y[r],
        idx=b.idx[r],
    )
