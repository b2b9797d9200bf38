"""HARDY-MER's curriculum precompute, once per (fold, conditions): Multi-view Hardness Evaluation
(MHE) and the retrieval of Retrieval-based Dynamic Curriculum Learning (RDCL).

:func:`hardness_table` scores every training utterance under every condition, given the frozen
teacher (handed in as a callable, called only when the table is not in the on-disk cache):

1. direct hardness DH = the teacher's reconstruction error of the missing modalities against the
   complete stored features;
2. indirect hardness IH = −PMI between present and missing modalities (InfoNCE critics trained on
   full-modality training data), or the release's entropy proxy;
3. h = mapping(α1·DH̃ + α2·IH̃), k_i = ⌊K·h_i⌋ + 1 (or, with ``share``, k allocated so that
   mean(k)/(K+1) = share: ``hardness.combine.allocate_neighbours``);
4. faiss retrieval over training utterances of the available modalities.

:func:`install_views` turns the table into the K+1 views per utterance the student trains on,
plus the summary and per-utterance rows written next to the run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from hardymer._cache import cache_key, cache_path, train_key
from hardymer._io import atomic_numpy_save
from hardymer.conditions import MODALITIES, Condition
from hardymer.hardness.combine import allocate_neighbours, combine, neighbour_counts, to_hardness
from hardymer.hardness.diagnostics import hardness_diagnostics
from hardymer.hardness.mi import critic_indirect_hardness, entropy_indirect_hardness, pair_pmi, train_pair_critics
from hardymer.models.backbone import Backbone, BackboneConfig
from hardymer.models.context import FitContext
from hardymer.retrieval.index import build_indexes, build_views, label_agreement, retrieve_neighbours, search_candidates

log = logging.getLogger(__name__)

#: the method options the hardness table depends on (with the teacher's config and the train config)
TABLE_OPTIONS = (
    "K",
    "alpha1",
    "alpha2",
    "beta",
    "mapping",
    "mi_estimator",
    "use_direct",
    "use_indirect",
    "hardness",
    "neighbours",
    "merge",
    "approximate_index",
    "teacher_epochs",
    "critic_epochs",
)


@torch.no_grad()
def direct_hardness(teacher: Backbone, ctx: FitContext, condition: str) -> np.ndarray:
    """DH per dataset index (training rows filled): the teacher's reconstruction error of the
    missing modalities under ``condition``."""
    dh = np.zeros(len(ctx.ds))
    for batch in ctx.batcher("train", shuffle=False):
        b = batch.with_condition(condition)
        err, _ = teacher.recon_error(b, teacher.forward_all(b)["recon"])
        dh[b.idx[b.valid].cpu().numpy()] = err[b.valid].cpu().numpy()
    return dh


@torch.no_grad()
def teacher_encodings(teacher: Backbone, ctx: FitContext, hidden: int) -> dict[str, np.ndarray]:
    """Full-modality teacher encodings per dataset index (training rows filled); they do not
    depend on the condition, so they are computed once (for the entropy proxy only)."""
    n = len(ctx.ds)
    enc = {m: np.zeros((n, hidden), np.float32) for m in MODALITIES}
    for batch in ctx.batcher("train", shuffle=False):
        h = teacher.encode(batch)
        idx = batch.idx[batch.valid].cpu().numpy()
        for m in MODALITIES:
            enc[m][idx] = h[m][batch.valid].cpu().numpy()
    return enc


def table_cache_key(cfg: Any, ctx: FitContext, teacher_config: BackboneConfig, conditions: Sequence[str]) -> str:
    """The on-disk key of the hardness table: run, teacher config, table options, conditions, train config."""
    hkey = cache_key(
        "hardness",
        ctx.run_key,
        dataclasses.asdict(teacher_config),
        {k: getattr(cfg, k) for k in TABLE_OPTIONS},
        conditions,
        train_key(ctx.train, "hardness"),
    )
    if cfg.share is not None:  # keys of share=None runs are unchanged
        hkey = cache_key("hardness", hkey, {"share": cfg.share})
    return hkey


def hardness_table(
    cfg: Any, ctx: FitContext, teacher_config: BackboneConfig, teacher: Callable[[], Backbone]
) -> dict[str, np.ndarray]:
    """DH, IH, s, h, k and neighbours per (condition, training utterance) for a ``HardymerConfig``
    ``cfg``: from the cache under ``ctx.cache_dir``, else computed (``teacher()`` is called only
    then, and only where a condition misses a modality) and cached."""
    conditions = list(ctx.conditions.conditions)
    hpath = cache_path(ctx.cache_dir, "hardness", table_cache_key(cfg, ctx, teacher_config, conditions), ".npz")
    if hpath is not None and hpath.is_file():
        z = np.load(hpath, allow_pickle=False)
        log.info("hardness and neighbours loaded from cache %s", hpath.name)
        return {k: z[k] for k in z.files}
    table = compute_table(cfg, ctx, conditions, teacher)
    if hpath is not None:
        atomic_numpy_save(hpath, **table)
    return table


def is_scored(cfg: Any, conditions: Sequence[str]) -> bool:
    """Whether the table scores hardness with models: ``hardness=model`` and some condition misses a modality."""
    return cfg.hardness == "model" and not all(Condition(c).mask.all() for c in conditions)


def needs_teacher(cfg: Any, conditions: Sequence[str]) -> bool:
    """Whether computing the table of ``conditions`` trains (or loads) a teacher."""
    return is_scored(cfg, conditions) and (cfg.use_direct or (cfg.use_indirect and cfg.mi_estimator == "entropy"))


def compute_table(
    cfg: Any, ctx: FitContext, conditions: Sequence[str], teacher_fn: Callable[[], Backbone]
) -> dict[str, np.ndarray]:
    """The hardness table of :func:`hardness_table`, computed (no cache)."""
    ds, train = ctx.ds, ctx.fold.train
    # DH and IH score what is missing: where no condition misses a modality (``atv``) both are 0
    # by definition, so neither the teacher nor the critics are trained (same table, less work)
    scored = is_scored(cfg, conditions)
    teacher = teacher_fn() if needs_teacher(cfg, conditions) else None
    critics = pmi = train_feats = None
    if scored and cfg.use_indirect and cfg.mi_estimator == "critic":
        have = [j for j, m in enumerate(MODALITIES) if m not in ds.absent_modalities]
        full = train[ds.available[train][:, have].all(1)]
        critics = train_pair_critics(
            {MODALITIES[j]: ds.features[MODALITIES[j]][full] for j in have}, epochs=cfg.critic_epochs, seed=ctx.seed
        )
        train_feats = {m: ds.features[m][train] for m in MODALITIES}
        pmi = pair_pmi(critics, train_feats)  # condition-independent: once, not per condition
    indexes = build_indexes(ds, train, approximate=cfg.approximate_index) if cfg.neighbours == "faiss" else None
    cands = (
        search_candidates(ds, indexes, train, cfg.K, distances=cfg.merge == "fused")  # one search per modality
        if indexes is not None
        else None
    )
    enc = (
        teacher_encodings(teacher, ctx, cfg.hidden)
        if teacher is not None and cfg.use_indirect and cfg.mi_estimator == "entropy"
        else None
    )
    rng = np.random.default_rng(ctx.seed)
    table: dict[str, Any] = {"train_idx": train, "dh": [], "ih": [], "s": [], "h": [], "k": [], "neighbours": []}
    for c in conditions:
        dh = np.zeros(len(train))
        ih = np.zeros(len(train))
        if teacher is not None:
            dh = direct_hardness(teacher, ctx, c)[train]
        if scored and cfg.use_indirect and not Condition(c).mask.all():
            if critics is not None and train_feats is not None:
                ih = critic_indirect_hardness(critics, train_feats, ds.available[train], c, pmi=pmi)
            elif enc is not None:
                ih = entropy_indirect_hardness(
                    {m: enc[m][train] for m in MODALITIES if m not in ds.absent_modalities}, c
                )
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
        if indexes is not None:
            nb = retrieve_neighbours(ds, indexes, train, c, cfg.K, merge=cfg.merge, candidates=cands)
        elif cfg.neighbours == "random":
            nb = np.stack([rng.choice(train[train != i], cfg.K, replace=False) for i in train])
        else:
            nb = np.full((len(train), cfg.K), -1, dtype=np.int64)
        for name, arr in zip(("dh", "ih", "s", "h", "k", "neighbours"), (dh, ih, s, h, k, nb)):
            table[name].append(arr)
    return {k: np.stack(v) if isinstance(v, list) else v for k, v in table.items()}


def install_views(
    cfg: Any, ctx: FitContext, conditions: list[str], table: dict[str, np.ndarray]
) -> tuple[torch.Tensor, dict, dict[str, torch.Tensor], torch.Tensor]:
    """The K+1 views ``[n_conditions, N_dataset, K+1]`` (dataset indices; row i of a non-training
    utterance is i itself), the hardness summary, and the features and availability on the device.
    Writes ``hardness_summary.json`` and ``hardness.json`` into ``ctx.extras``."""
    ds, train, K = ctx.ds, table["train_idx"], cfg.K
    n = len(ds)
    views = np.repeat(np.arange(n, dtype=np.int64)[None, :, None], len(conditions), 0).repeat(K + 1, 2)
    summary: dict = {"K": K, "mapping": cfg.mapping, "mi_estimator": cfg.mi_estimator, "conditions": {}}
    rows = []
    for ci, c in enumerate(conditions):
        v = build_views(train, table["neighbours"][ci], table["k"][ci], K)
        views[ci, train] = v
        h, k = table["h"][ci], table["k"][ci]
        summary["conditions"][c] = {
            "hardness_mean": float(h.mean()),
            "hardness_std": float(h.std()),
            "hardness_min": float(h.min()),
            "hardness_max": float(h.max()),
            "k_hist": {str(i): int((k == i).sum()) for i in range(min(1, int(k.min())), K + 1)},
            "neighbour_view_share": float((v != train[:, None]).mean()),
            "dh_mean": float(table["dh"][ci].mean()),
            "ih_mean": float(table["ih"][ci].mean()),
            "label_agreement_used": label_agreement(ds, train, table["neighbours"][ci], k),
            "label_agreement_topK": label_agreement(ds, train, table["neighbours"][ci]),
            "label_agreement_at_k": {
                str(kk): label_agreement(ds, train, table["neighbours"][ci][:, :kk]) for kk in range(1, K + 1)
            },
        }
        summary["conditions"][c].update(
            hardness_diagnostics(ds, c, train, table["dh"][ci], table["ih"][ci], h, table["neighbours"][ci], k)
        )
        for r, i in enumerate(train):
            rows.append(
                {
                    "utt_id": str(ds.utt_ids[i]),
                    "condition": c,
                    "dh": float(table["dh"][ci][r]),
                    "ih": float(table["ih"][ci][r]),
                    "s": float(table["s"][ci][r]),
                    "h": float(h[r]),
                    "k": int(k[r]),
                    "neighbours": [str(ds.utt_ids[j]) for j in table["neighbours"][ci][r] if j >= 0],
                }
            )
    ctx.extras["hardness_summary.json"] = summary
    ctx.extras["hardness.json"] = rows
    feats = {m: torch.as_tensor(ds.features[m], device=ctx.device) for m in MODALITIES}
    return (torch.as_tensor(views, device=ctx.device), summary, feats, torch.as_tensor(ds.available, device=ctx.device))
