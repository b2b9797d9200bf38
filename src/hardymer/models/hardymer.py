"""``hardymer``: HARDY-MER = backbone student + Multi-view Hardness Evaluation (MHE) +
Retrieval-based Dynamic Curriculum Learning (RDCL), computed once per (fold, condition).

``prepare`` (before the student trains):
1. gets a frozen teacher backbone (same data, fold, condition(s), seed, features) from the
   training layer (``ctx.teacher``: trained there, or loaded from its cache);
2. direct hardness DH = the teacher's reconstruction error of each training utterance's missing
   modalities against the complete stored features;
3. indirect hardness IH = −PMI between present and missing modalities (InfoNCE critics trained on
   full-modality training data), or the release's entropy proxy;
4. h = mapping(α1·DH̃ + α2·IH̃) over the training set, k_i = ⌊K·h_i⌋ + 1 (or, with ``share``, k_i
   allocated so that mean(k)/(K+1) = share: ``hardness.combine.allocate_neighbours``);
5. faiss retrieval over training utterances of the available modalities → K+1 views per utterance.
Teacher, critics and hardness are cached on disk and reused by every run that shares their inputs.

Stage 2 stacks all K+1 views of a batch into one forward/backward and one optimizer step
(``view_steps=stacked``), or takes one optimizer step per view (``sequential``: K+1 steps). Every
view carries the anchor's label and condition mask; a neighbour brings its own complete features,
so its missing modalities are real reconstruction targets. Inference is one forward pass.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np
import torch

from hardymer.conditions import MODALITIES, condition_mask
from hardymer.data.batching import Batch
from hardymer.errors import ConfigError
from hardymer.hardness._cache import cache_key, cache_path
from hardymer.hardness.combine import allocate_neighbours, combine, neighbour_counts, to_hardness
from hardymer.hardness.diagnostics import hardness_diagnostics
from hardymer.hardness.mi import critic_indirect_hardness, entropy_indirect_hardness, pair_pmi, train_pair_critics
from hardymer.models.backbone import Backbone, BackboneConfig
from hardymer.models.base import MethodSpec, StepParts
from hardymer.retrieval.index import build_indexes, build_views, label_agreement, retrieve_neighbours, search_candidates

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
    share: Optional[float] = None  # expected neighbour views / (K+1); None: k = ⌊K·h⌋+1 (rank: 0.5)
    neighbours: str = "faiss"  # faiss | random (random training utterances) | none (self only)
    merge: str = "fused"  # fused | concat (release)
    approximate_index: bool | str | None = None  # None: exact up to retrieval.index.APPROX_MIN_ROWS rows, ivf above
    pacing: str = "none"  # none | linear (share of neighbour views grows over stage 2)
    view_steps: str = "stacked"  # stacked (one step over all K+1 views) | sequential (one step per view)
    view_chunk: int = 0  # stacked: views per forward/backward pass, gradients accumulated (0: all K+1 at once)
    teacher_epochs: int = 0  # 0: same as the student
    critic_epochs: int = 60
    teacher_options: dict = field(default_factory=dict)  # backbone options overriding the student's


def _plain(cfg) -> dict:
    from omegaconf import OmegaConf

    d = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dataclasses.asdict(cfg)
    for k in ("device", "num_threads", "stage2_steps", "share_stage1"):  # share_stage1: how, not what
        d.pop(k, None)
    if not d.get("view_chunk"):  # keys of unchunked runs are those from before the option
        d.pop("view_chunk", None)
    if d.get("precision") == "fp32":  # keys of fp32 runs are those from before the option
        d.pop("precision")
    if not d.get("fast_dropout", True):  # likewise for runs without train.fast_dropout
        d.pop("fast_dropout")
    return d


class Hardymer(Backbone):
    def __init__(self, spec: MethodSpec, config: HardymerConfig) -> None:
        super().__init__(spec, config)
        for name, allowed in (("mapping", ("release", "centered", "rank")), ("mi_estimator", ("critic", "entropy")),
                              ("hardness", ("model", "fixed", "random", "all")),
                              ("neighbours", ("faiss", "random", "none")),
                              ("merge", ("fused", "concat")), ("pacing", ("none", "linear")),
                              ("view_steps", ("stacked", "sequential"))):
            if getattr(config, name) not in allowed:
                raise ValueError(f"hardymer: {name} must be one of {allowed}, got {getattr(config, name)!r}")
        if config.K < 1:
            raise ValueError("hardymer: K must be >= 1")
        if config.view_chunk < 0:
            raise ConfigError(f"hardymer: view_chunk must be >= 0 (0: all K+1 views in one pass), got {config.view_chunk}")
        if config.share is not None:
            if config.hardness == "all":
                raise ConfigError("hardymer: share cannot be combined with hardness=all (k = K for all)")
            if not 0.0 <= config.share <= config.K / (config.K + 1):
                raise ConfigError(f"hardymer: share must be in [0, K/(K+1)] = [0, {config.K / (config.K + 1):.4f}] "
                                  f"for K={config.K}, got {config.share}")
        self.views: torch.Tensor | None = None  # [n_cond, N_dataset, K+1] dataset indices
        self.report: dict = {}
        object.__setattr__(self, "_teacher", None)  # not a submodule: never trained or saved with the student

    @property
    def teacher(self) -> Backbone | None:
        return self.__dict__["_teacher"]

    # ------------------------------------------------------------------ MHE + RDCL, once
    def _teacher_config(self) -> BackboneConfig:
        base = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(BackboneConfig)}
        base.update(self.config.teacher_options)
        return BackboneConfig(**base)

    def fit_teacher(self, ctx):
        """Train a fresh teacher backbone two-stage on ``ctx`` (no cache); return it frozen and its
        FitResult. The fit is the training layer's (``ctx.fit_teacher``)."""
        return ctx.fit_teacher(self.spec, self._teacher_config(), self.config.teacher_epochs)

    def _train_teacher(self, ctx) -> Backbone:
        """The frozen teacher for ``ctx``, handed by the training layer (on-disk cache, else trained)."""
        return ctx.teacher(self.spec, self._teacher_config(), self.config.teacher_epochs)

    @torch.no_grad()
    def _direct_hardness(self, teacher: Backbone, ctx, condition: str) -> np.ndarray:
        """DH per dataset index (training rows filled): the teacher's reconstruction error of the
        missing modalities under ``condition``."""
        dh = np.zeros(len(ctx.ds))
        for batch in ctx.batcher("train", shuffle=False):
            b = batch.with_condition(condition)
            err, _ = teacher.recon_error(b, teacher.forward_all(b)["recon"])
            dh[b.idx[b.valid].cpu().numpy()] = err[b.valid].cpu().numpy()
        return dh

    @torch.no_grad()
    def _teacher_encodings(self, teacher: Backbone, ctx) -> dict[str, np.ndarray]:
        """Full-modality teacher encodings per dataset index (training rows filled); they do not
        depend on the condition, so they are computed once (for the entropy proxy only)."""
        n = len(ctx.ds)
        enc = {m: np.zeros((n, self.config.hidden), np.float32) for m in MODALITIES}
        for batch in ctx.batcher("train", shuffle=False):
            h = teacher.encode(batch)
            idx = batch.idx[batch.valid].cpu().numpy()
            for m in MODALITIES:
                enc[m][idx] = h[m][batch.valid].cpu().numpy()
        return enc

    def prepare(self, ctx) -> None:  # type: ignore[override]
        # the teacher and the critics reseed torch's global generator: fork it, so that the student
        # trains on the same random draws whether MHE/RDCL is computed now or loaded from the cache
        with torch.random.fork_rng(devices=[ctx.device] if ctx.device.type == "cuda" else []):
            self._prepare(ctx)

    def _prepare(self, ctx) -> None:
        cfg = self.config
        ds, train = ctx.ds, ctx.fold.train
        conditions = list(ctx.conditions.conditions)
        hkey = cache_key("hardness", ctx.run_key, dataclasses.asdict(self._teacher_config()),
                         {k: getattr(cfg, k) for k in ("K", "alpha1", "alpha2", "beta", "mapping", "mi_estimator",
                                                       "use_direct", "use_indirect", "hardness", "neighbours",
                                                       "merge", "approximate_index", "teacher_epochs", "critic_epochs")},
                         conditions, _plain(ctx.train))
        if cfg.share is not None:  # keys of share=None runs are unchanged
            hkey = cache_key("hardness", hkey, {"share": cfg.share})
        hpath = cache_path(ctx.cache_dir, "hardness", hkey, ".npz")
        # DH and IH score what is missing: where no condition misses a modality (``atv``) both are 0
        # by definition, so neither the teacher nor the critics are trained (same table, less work)
        scored = cfg.hardness == "model" and not all(condition_mask(c).all() for c in conditions)
        need_teacher = scored and (cfg.use_direct or (cfg.use_indirect and cfg.mi_estimator == "entropy"))
        if hpath is not None and hpath.is_file():
            z = np.load(hpath, allow_pickle=False)
            table = {k: z[k] for k in z.files}
            log.info("hardness and neighbours loaded from cache %s", hpath.name)
        else:
            teacher = self._train_teacher(ctx) if need_teacher else None
            object.__setattr__(self, "_teacher", teacher)
            critics = None
            if scored and cfg.use_indirect and cfg.mi_estimator == "critic":
                have = [j for j, m in enumerate(MODALITIES) if m not in ds.absent_modalities]
                full = train[ds.available[train][:, have].all(1)]
                critics = train_pair_critics({MODALITIES[j]: ds.features[MODALITIES[j]][full] for j in have},
                                             epochs=cfg.critic_epochs, seed=ctx.seed)
                train_feats = {m: ds.features[m][train] for m in MODALITIES}
                pmi = pair_pmi(critics, train_feats)  # condition-independent: once, not per condition
            indexes = build_indexes(ds, train, approximate=cfg.approximate_index) if cfg.neighbours == "faiss" else None
            cands = (search_candidates(ds, indexes, train, cfg.K, distances=cfg.merge == "fused")  # one search per modality
                     if indexes is not None else None)
            enc = (self._teacher_encodings(teacher, ctx)
                   if teacher is not None and cfg.use_indirect and cfg.mi_estimator == "entropy" else None)
            rng = np.random.default_rng(ctx.seed)
            table = {"train_idx": train, "dh": [], "ih": [], "s": [], "h": [], "k": [], "neighbours": []}
            for c in conditions:
                dh = np.zeros(len(train))
                ih = np.zeros(len(train))
                if teacher is not None:
                    dh = self._direct_hardness(teacher, ctx, c)[train]
                if scored and cfg.use_indirect and not condition_mask(c).all():
                    if cfg.mi_estimator == "critic":
                        ih = critic_indirect_hardness(critics, train_feats, ds.available[train], c, pmi=pmi)
                    else:
                        ih = entropy_indirect_hardness({m: enc[m][train] for m in MODALITIES  # type: ignore[index]
                                                        if m not in ds.absent_modalities}, c)
                a1 = cfg.alpha1 if cfg.use_direct else 0.0
                a2 = cfg.alpha2 if cfg.use_indirect else 0.0
                s = combine(dh, ih, a1, a2)
                if cfg.hardness == "model":
                    h = to_hardness(s, cfg.mapping, cfg.beta)
                elif cfg.hardness in ("fixed", "all"):
                    h = np.full(len(train), 0.5 if cfg.hardness == "fixed" else 1.0)
                else:
                    h = rng.random(len(train))
                if cfg.hardness == "all":
                    k = np.full(len(train), cfg.K, dtype=np.int64)
                elif cfg.share is not None:  # own generator: the other random draws do not move
                    k = allocate_neighbours(h, cfg.K, cfg.share, np.random.default_rng((ctx.seed, 1, len(table["k"]))))
                else:
                    k = neighbour_counts(h, cfg.K)
                if cfg.neighbours == "faiss":
                    nb = retrieve_neighbours(ds, indexes, train, c, cfg.K, merge=cfg.merge, candidates=cands)  # type: ignore[arg-type]
                elif cfg.neighbours == "random":
                    nb = np.stack([rng.choice(train[train != i], cfg.K, replace=False) for i in train])
                else:
                    nb = np.full((len(train), cfg.K), -1, dtype=np.int64)
                for name, arr in zip(("dh", "ih", "s", "h", "k", "neighbours"), (dh, ih, s, h, k, nb)):
                    table[name].append(arr)
            table = {k: np.stack(v) if isinstance(v, list) else v for k, v in table.items()}
            if hpath is not None:
                from hardymer._io import atomic_numpy_save

                atomic_numpy_save(hpath, **table)
        self._install_views(ctx, conditions, table)

    def _install_views(self, ctx, conditions: list[str], table: dict) -> None:
        ds, train, K = ctx.ds, table["train_idx"], self.config.K
        n = len(ds)
        views = np.repeat(np.arange(n, dtype=np.int64)[None, :, None], len(conditions), 0).repeat(K + 1, 2)
        summary: dict = {"K": K, "mapping": self.config.mapping, "mi_estimator": self.config.mi_estimator,
                         "conditions": {}}
        rows = []
        for ci, c in enumerate(conditions):
            v = build_views(train, table["neighbours"][ci], table["k"][ci], K)
            views[ci, train] = v
            h, k = table["h"][ci], table["k"][ci]
            summary["conditions"][c] = {
                "hardness_mean": float(h.mean()), "hardness_std": float(h.std()),
                "hardness_min": float(h.min()), "hardness_max": float(h.max()),
                "k_hist": {str(i): int((k == i).sum()) for i in range(min(1, int(k.min())), K + 1)},
                "neighbour_view_share": float((v != train[:, None]).mean()),
                "dh_mean": float(table["dh"][ci].mean()), "ih_mean": float(table["ih"][ci].mean()),
                "label_agreement_used": label_agreement(ds, train, table["neighbours"][ci], k),
                "label_agreement_topK": label_agreement(ds, train, table["neighbours"][ci]),
                "label_agreement_at_k": {str(kk): label_agreement(ds, train, table["neighbours"][ci][:, :kk])
                                         for kk in range(1, K + 1)},
            }
            summary["conditions"][c].update(hardness_diagnostics(ds, c, train, table["dh"][ci], table["ih"][ci], h,
                                                                 table["neighbours"][ci], k))
            for r, i in enumerate(train):
                rows.append({"utt_id": str(ds.utt_ids[i]), "condition": c, "dh": float(table["dh"][ci][r]),
                             "ih": float(table["ih"][ci][r]), "s": float(table["s"][ci][r]),
                             "h": float(h[r]), "k": int(k[r]),
                             "neighbours": [str(ds.utt_ids[j]) for j in table["neighbours"][ci][r] if j >= 0]})
        self.views = torch.as_tensor(views, device=ctx.device)
        self.report = summary
        ctx.extras["hardness_summary.json"] = summary
        ctx.extras["hardness.json"] = rows
        self._feats = {m: torch.as_tensor(ds.features[m], device=ctx.device) for m in MODALITIES}
        self._avail = torch.as_tensor(ds.available, device=ctx.device)

    # ------------------------------------------------------------------ stage 2 on views
    def view_batch(self, batch: Batch, cond_ids: torch.Tensor, masks: torch.Tensor, share: float = 1.0) -> Batch:
        """Stack the K+1 views of ``batch`` along the batch dimension ([(K+1)·B, L])."""
        assert self.views is not None, "prepare() must run before training on views"
        K = self.config.K
        B, L = batch.valid.shape
        idx = batch.idx.clamp(min=0)
        v = self.views[cond_ids.view(B, 1).expand(B, L), idx]  # [B, L, K+1]
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
        cond = masks[cond_ids].to(v.device).view(B, 1, 3).expand(B, L, 3).repeat(K + 1, 1, 1)
        stacked = Batch(x=x_full, x_full=x_full, avail=avail_full, avail_full=avail_full, valid=valid,
                        y=batch.y.repeat(K + 1, 1), idx=v.masked_fill(~valid, -1))
        return stacked.with_availability(cond)

    def _stage2_views(self, batch: Batch, ctx, epoch: int) -> Batch:
        epochs = ctx.train.epochs
        share = 1.0
        if self.config.pacing == "linear":
            s1 = self.stage1_epochs(epochs)
            share = (epoch - s1 + 1) / max(epochs - s1, 1)
        cond_ids = ctx.conditions.sample_ids(batch.valid.shape[0])
        return self.view_batch(batch, cond_ids, ctx.conditions.masks, share)

    def training_loss(self, batch: Batch, ctx, epoch: int) -> torch.Tensor:  # type: ignore[override]
        if self.stage(epoch, ctx.train.epochs) == 1:
            return self.stage1_loss(batch)
        return self.stage2_loss(self._stage2_views(batch, ctx, epoch))

    def training_losses(self, batch: Batch, ctx, epoch: int) -> Iterator[torch.Tensor]:  # type: ignore[override]
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
                return self.stage2_loss(view_slice(sb, rows.start, rows.stop),
                                        task_scale=int(sb.valid[rows].sum()) / n_valid,
                                        recon_scale=int(targets[rows].sum()) / n_recon)

            yield StepParts([lambda lo=lo: part(lo, min(lo + c, V)) for lo in range(0, V, c)])
            return
        for j in range(self.config.K + 1):
            yield self.stage2_loss(view_slice(sb, j * B, (j + 1) * B))

    def steps_per_batch(self, stage: int) -> int:  # type: ignore[override]
        return self.config.K + 1 if stage == 2 and self.config.view_steps == "sequential" else 1

    def run_summary(self) -> dict:  # type: ignore[override]
        """The realised neighbour-view share of the installed views (mean over conditions)."""
        conds = self.report.get("conditions", {})
        shares = [c["neighbour_view_share"] for c in conds.values() if "neighbour_view_share" in c]
        return {"neighbour_view_share": float(np.mean(shares))} if shares else {}


def view_slice(b: Batch, start: int, stop: int) -> Batch:
    """Rows ``start:stop`` of a stacked view batch (one view of every group)."""
    r = slice(start, stop)
    return Batch(x={m: t[r] for m, t in b.x.items()}, x_full={m: t[r] for m, t in b.x_full.items()},
                 avail=b.avail[r], avail_full=b.avail_full[r], valid=b.valid[r], y=b.y[r], idx=b.idx[r])
