"""Teacher fits: the frozen backbone a method (``hardymer``) scores hardness with.

The training layer owns every fit. A method asks its :class:`~hardymer.models.context.FitContext`
for a teacher (:meth:`FitContext.teacher`), which calls the provider the training layer put there:
:func:`load_or_fit_teacher`. This module trains it two-stage with
:func:`hardymer.training.trainer.fit` (always selected on validation, epoch-based), freezes it and
caches its weights on disk under a key of everything it depends on.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import TYPE_CHECKING, Any, cast

import torch

from hardymer._cache import cache_key, cache_path, train_key
from hardymer._io import atomic_torch_save
from hardymer.models.backbone import Backbone, BackboneConfig
from hardymer.models.base import MethodSpec
from hardymer.models.context import FitContext
from hardymer.training import trainer
from hardymer.training.seeding import own_torch_stream

if TYPE_CHECKING:
    from hardymer.training.trainer import FitResult

log = logging.getLogger(__name__)

#: offset of the teacher's training seed from the run's seed (its initial weights come from the run's stream)
TEACHER_SEED_OFFSET = 7919


def teacher_train_config(train: Any, epochs: int = 0) -> Any:
    """The student's training config with the teacher's ``epochs`` (0: the student's), always
    selected on validation and epoch-based (no ``stage2_steps``), as an OmegaConf node."""
    from omegaconf import OmegaConf

    train_cfg = OmegaConf.create(
        cast(dict, OmegaConf.to_container(train)) if OmegaConf.is_config(train) else dataclasses.asdict(train)
    )
    if epochs:
        train_cfg.epochs = epochs
    train_cfg.select_on = "val"
    train_cfg.pop("stage2_steps", None)  # the teacher trains epoch-based (shared by step-based runs)
    return train_cfg


def teacher_cache_key(ctx: FitContext, config: BackboneConfig, epochs: int = 0) -> str:
    """The on-disk key of the teacher for ``ctx`` (run, backbone config, training config)."""

    return cache_key(
        "teacher", ctx.run_key, dataclasses.asdict(config), train_key(teacher_train_config(ctx.train, epochs), "model")
    )


def _new_teacher(spec: MethodSpec, config: BackboneConfig, device: torch.device) -> Backbone:
    """An untrained teacher whose initial weights are what the caller's torch stream would draw
    next; the caller's stream does not move (the student trains on the same draws whether the
    teacher is fitted, loaded from the cache or not needed)."""
    with own_torch_stream(None, device):
        return Backbone(spec, config).to(device)


def teacher_context(ctx: FitContext, epochs: int = 0) -> FitContext:
    """The context a teacher of ``ctx`` trains in: the run's data, fold, seed and cache, a copy of
    its condition sampler, and the teacher's training config (:func:`teacher_train_config`)."""
    return FitContext(
        ds=ctx.ds,
        fold=ctx.fold,
        conditions=copy.deepcopy(ctx.conditions),
        train=teacher_train_config(ctx.train, epochs),
        seed=ctx.seed,
        device=ctx.device,
        run_key=ctx.run_key,
        cache_dir=ctx.cache_dir,
    )


def fit_teacher(
    spec: MethodSpec, config: BackboneConfig, ctx: FitContext, epochs: int = 0
) -> tuple[Backbone, FitResult]:
    """Train a fresh teacher backbone two-stage on ``ctx`` (no teacher cache); return it frozen
    and its :class:`~hardymer.training.trainer.FitResult`.

    Its training draws (dropout, batch order, sampled conditions) come from its own streams, seeded
    from ``ctx.seed + TEACHER_SEED_OFFSET`` (torch) and ``ctx.seed`` (batcher, a copy of the
    condition sampler): nothing the caller draws from moves."""
    teacher = _new_teacher(spec, config, ctx.device)
    sub = teacher_context(ctx, epochs)
    with own_torch_stream(ctx.seed + TEACHER_SEED_OFFSET, ctx.device):
        res = trainer.fit(teacher, sub)  # through the module attribute (tests count fits there)
    log.info(
        "teacher trained: best epoch %d, validation %s",
        res.best_epoch + 1,
        ", ".join(f"{k} {v:.4f}" for k, v in sorted(_headline(res.val).items())),
    )
    teacher.eval().requires_grad_(False)
    return teacher, res


def load_or_fit_teacher(spec: MethodSpec, config: BackboneConfig, ctx: FitContext, epochs: int = 0) -> Backbone:
    """The frozen teacher for ``ctx``: from the on-disk cache, else trained (and cached when
    ``ctx.cache_dir`` is set)."""
    path = cache_path(ctx.cache_dir, "teacher", teacher_cache_key(ctx, config, epochs), ".pt")
    if path is not None and path.is_file():
        teacher = _new_teacher(spec, config, ctx.device)
        teacher.load_state_dict(torch.load(path, map_location=ctx.device, weights_only=True))
        log.info("teacher loaded from cache %s", path.name)
        return teacher.eval().requires_grad_(False)
    teacher, _ = fit_teacher(spec, config, ctx, epochs)
    if path is not None:
        atomic_torch_save(path, {k: v.cpu() for k, v in teacher.state_dict().items()})
    return teacher


def _headline(val: dict) -> dict[str, float]:
    """The metrics of the ``atv``/mean entry of an evaluation dict (``{condition: {metric: value}}``)
    or the dict itself when it is flat; non-numbers left out."""
    inner = next(iter(val.values()), None) if val else None
    flat = val.get("mean") or val.get("atv") or inner if isinstance(inner, dict) else val
    return {k: float(v) for k, v in (flat or {}).items() if isinstance(v, (int, float))}


def prefit_teachers(methods: list[Any], ctxs: list[FitContext]) -> int:
    """Train, as one model-batched network (:func:`hardymer.training.members.fit_members`), the
    teachers that the ``hardymer`` runs ``(methods[i], ctxs[i])`` will ask for and the caches
    lack (neither the teacher nor the run's hardness table is cached, and the run's conditions
    miss a modality), and cache each one where :func:`load_or_fit_teacher` looks for it. Each
    teacher is initialised and trained on the streams :func:`fit_teacher` uses; only the dropout
    draws differ. Returns how many were trained (0 when fewer than two are needed or they cannot
    be batched: the runs then train their teachers one by one)."""
    from hardymer.models.curriculum import needs_teacher, table_cache_key
    from hardymer.models.hardymer import Hardymer
    from hardymer.training.members import batching_obstacle, fit_members

    need = []
    for m, c in zip(methods, ctxs, strict=True):
        if not isinstance(m, Hardymer) or c.cache_dir is None:
            continue
        tcfg = m.teacher_config()
        conds = [str(x) for x in c.conditions.conditions]
        table = cache_path(c.cache_dir, "hardness", table_cache_key(m.config, c, tcfg, conds), ".npz")
        path = cache_path(c.cache_dir, "teacher", teacher_cache_key(c, tcfg, m.config.teacher_epochs), ".pt")
        assert table is not None and path is not None
        if table.is_file() or path.is_file() or not needs_teacher(m.config, conds):
            continue
        need.append((m, c, tcfg, path))
    if len(need) < 2:
        return 0
    teachers = [_new_teacher(m.spec, tcfg, c.device) for m, c, tcfg, _ in need]
    subs = [teacher_context(c, m.config.teacher_epochs) for m, c, _, _ in need]
    why = batching_obstacle(list(teachers), subs)
    if why is not None:
        log.info("teachers trained one by one: %s", why)
        return 0
    c0 = subs[0]
    with own_torch_stream(c0.seed + TEACHER_SEED_OFFSET, c0.device):
        results = fit_members(list(teachers), subs)
    for teacher, res, (_, c, _, path) in zip(teachers, results, need, strict=True):
        log.info(
            "teacher (%s) trained model-batched with %d others: best epoch %d, validation %s",
            c.conditions.conditions[0],
            len(need) - 1,
            res.best_epoch + 1,
            ", ".join(f"{k} {v:.4f}" for k, v in sorted(_headline(res.val).items())),
        )
        atomic_torch_save(path, {k: v.cpu() for k, v in teacher.state_dict().items()})
    return len(need)
