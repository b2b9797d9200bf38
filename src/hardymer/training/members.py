"""Model-batched training: the conditions of one seed trained as one network after a shared stage 1.

Under the fixed protocol the runs of one (method, data, fold, seed, config) differ only in their
condition, and for ``backbone`` their stage 1 (full modalities) is the same computation: the shared
stage-1 cache already trains it once. :func:`fit_members` goes one step further and trains their
stage 2 together: the members' parameters are stacked (:class:`~hardymer.models.stacked.StackedBackbone`),
every step is one batched forward/backward over the same batch under each member's condition, each
member keeps its own optimizer state (:class:`~hardymer.optim.StackedAdam`), gradient clipping,
validation, selection and early stopping (a stopped member leaves the stack, its best epoch kept),
and the result of each member is a :class:`~hardymer.training.trainer.FitResult` like :func:`fit`'s.

What differs from training the members one by one: the dropout draws (one random stream for all
members), so results agree in distribution, not bit for bit (with dropout off, the parameters after
N steps agree to float tolerance: tested). Where batching cannot apply, :func:`batching_obstacle`
says why and the caller trains run by run.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np
import torch

from hardymer._cache import train_key
from hardymer.data.protocol import FixedCondition
from hardymer.evaluation.metrics import default_select_metric, is_better
from hardymer.models.backbone import Backbone
from hardymer.models.base import Method
from hardymer.models.context import FitContext
from hardymer.models.dropout import use_fast_dropout
from hardymer.models.stacked import StackedBackbone, stage2_parameter_names
from hardymer.models.stacked import batching_obstacle as network_obstacle
from hardymer.optim import StackedAdam
from hardymer.training.precision import autocast
from hardymer.training.stage1 import restore_stage1, save_stage1, shared_stage1
from hardymer.training.trainer import FitResult, _select_value, evaluate, make_optimizer, schedule, train_epoch

log = logging.getLogger(__name__)

#: ``(member index, epoch, stage, record)``, called after every epoch of every member
MemberCallback = Callable[[int, int, int, dict], None]


def batching_obstacle(methods: list[Method], ctxs: list[FitContext]) -> str | None:
    """Why these runs cannot be trained as one model (``None``: they can). They must be
    ``backbone`` runs of one config under the fixed protocol, on the same data, fold and seed,
    with the same training config, selecting on validation."""
    if len(methods) != len(ctxs) or not methods:
        return "no runs"
    others = sorted({type(m).__name__ for m in methods if not isinstance(m, Backbone)})
    if others:
        return f"{', '.join(others)} has no model-batched form (only backbone has)"
    why = network_obstacle([m for m in methods if isinstance(m, Backbone)])
    if why is not None:
        return why
    c0 = ctxs[0]
    for c in ctxs:
        if not isinstance(c.conditions, FixedCondition):
            return "only the fixed protocol's conditions share a stage 1 and a batch order"
        if c.ds is not c0.ds and (c.ds.name != c0.ds.name or len(c.ds) != len(c0.ds)):
            return "the runs use different data"
        if c.fold.name != c0.fold.name or c.seed != c0.seed or c.device != c0.device:
            return "the runs differ in fold, seed or device"
        if train_key(c.train, "run") != train_key(c0.train, "run"):
            return "the runs' training configs differ"
    cfg = c0.train
    if cfg.select_on != "val":
        return "train.select_on=test"
    if len({_condition(c) for c in ctxs}) != len(ctxs):
        return "two runs have the same condition"
    return None


def _state_digest(method: Method) -> list[torch.Tensor]:
    return [v.detach().clone() for v in method.state_dict().values()]


def fit_members(
    methods: list[Method],
    ctxs: list[FitContext],
    on_epoch: MemberCallback | None = None,
) -> list[FitResult]:
    """Train the runs ``(methods[i], ctxs[i])`` as one model-batched network (see the module
    docstring); one :class:`FitResult` per member, in order. Raises ``ValueError`` naming the
    obstacle when they cannot be batched (check :func:`batching_obstacle` first)."""
    why = batching_obstacle(methods, ctxs)
    if why is not None:
        raise ValueError(f"these runs cannot be trained as one model: {why}")
    members = [m for m in methods if isinstance(m, Backbone)]
    M = len(members)
    c0 = ctxs[0]
    cfg = c0.train
    task = c0.ds.task
    metric = default_select_metric(task) if cfg.select_metric == "auto" else cfg.select_metric
    eval_test = bool(getattr(cfg, "evaluate_test", True))
    record_curve = bool(getattr(cfg, "record_test_curve", False)) and eval_test
    amp = autocast(cfg, c0.device)  # train.precision, as fit uses it (losses and weights stay fp32)
    start = _state_digest(members[0])
    for m in members[1:]:
        if any(not torch.equal(a, b) for a, b in zip(start, _state_digest(m), strict=True)):
            raise ValueError("the members do not start from the same weights (same seed and config expected)")
    t0 = time.perf_counter()
    for m, c in zip(members, ctxs, strict=True):
        m.to(c.device)
        if getattr(cfg, "fast_dropout", False):
            use_fast_dropout(m)
        m.prepare(c)
    prep_seconds = time.perf_counter() - t0
    train_b = c0.batcher("train", shuffle=True)
    val_b = c0.batcher("val")
    test_b = c0.batcher("test") if eval_test else None
    lead = members[0]
    s1_epochs, epochs = schedule(lead, c0, len(train_b))
    if getattr(cfg, "stage2_steps", None) is not None:
        from hardymer.training.trainer import _with_epochs

        for m in members:
            m.pin_stage1_epochs(s1_epochs)
        ctxs = [_replace_train(c, _with_epochs(cfg, epochs)) for c in ctxs]
        c0 = ctxs[0]

    # ---- stage 1, once (restored from the shared cache when it holds it), then copied to every member
    opt = make_optimizer(lead, cfg)
    history: list[dict] = []
    stage1_seconds = 0.0
    shared = shared_stage1(lead, c0, s1_epochs, epochs)
    saved = shared.load() if shared is not None else None
    if s1_epochs > 0:
        lead.on_stage_start(1, c0)
        if saved is not None:
            history = restore_stage1(saved, lead, opt, train_b, c0)
            stage1_seconds = float(saved.get("seconds", 0.0))
            log.info("stage 1 (%d epochs) restored from %s", s1_epochs, shared.path.name if shared else "")
        else:
            for epoch in range(s1_epochs):
                te = time.perf_counter()
                losses = train_epoch(lead, train_b, c0, opt, epoch)
                stage1_seconds += time.perf_counter() - te
                rec = {"epoch": epoch, "stage": 1, "loss": float(np.mean(losses)) if losses else math.nan}
                rec["steps"] = len(losses)
                history.append(rec)
                for i in range(M):
                    if on_epoch is not None:
                        on_epoch(i, epoch, 1, {**rec, "seconds": time.perf_counter() - te})
            if shared is not None:
                save_stage1(shared, lead, opt, train_b, c0, history, stage1_seconds)
    lead_state = lead.state_dict()
    for m in members[1:]:
        m.load_state_dict(lead_state)
    names = stage2_parameter_names(lead)
    by_param = {id(p): n for n, p in lead.named_parameters()}
    lead_states = {by_param[id(p)]: s for p, s in opt.state.items() if id(p) in by_param}
    for m, c in zip(members, ctxs, strict=True):
        m.on_stage_start(2, c)

    # ---- stage 2, model-batched
    stack = StackedBackbone(members)
    sopt = StackedAdam(
        dict(stack.params.items()),
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        decoupled=str(getattr(cfg, "optimizer", "adamw")).lower() == "adamw",
        member_states={n.replace(".", "/"): [_stack_state(stack, n, lead_states.get(n))] * M for n in names},
    )
    active = list(range(M))
    best_val: list[float | None] = [None] * M
    best_epoch = [-1] * M
    since_best = [0] * M
    best_state: list[dict | None] = [None] * M
    hist: list[list[dict]] = [[dict(r) for r in history] for _ in range(M)]
    stage2_seconds = [0.0] * M
    steps_total = [0] * M
    curve_best: list[float | None] = [None] * M
    test_sel: list[dict | None] = [None] * M
    test_sel_epoch: list[int | None] = [None] * M
    log.info(
        "stage 2 of %d conditions (%s) as one model-batched network",
        M,
        ", ".join(_condition(c) for c in ctxs),
    )
    for epoch in range(s1_epochs, epochs):
        te = time.perf_counter()
        stack.train()
        total = torch.zeros(len(active), dtype=torch.float64)
        n_steps = 0
        for batch in train_b:
            avail = torch.stack(
                [ctxs[i].conditions.sample(batch) & batch.avail_full & batch.valid.unsqueeze(-1) for i in active]
            )
            sopt.zero_grad()
            with amp:
                member_losses, used = stack.losses(batch, avail)
            member_losses = member_losses.float()
            if not bool(torch.isfinite(member_losses).all()):
                raise FloatingPointError(f"non-finite training loss at epoch {epoch}")
            member_losses.sum().backward()
            if cfg.grad_clip:
                stack.clip_grad_norm_(float(cfg.grad_clip))
            sopt.step(stack.update_masks(used))
            total += member_losses.detach().double().cpu()
            n_steps += 1
        share = (time.perf_counter() - te) / len(active)
        active_members = [members[i] for i in active]
        stack.write_back(active_members)
        stopped = []
        for row, i in enumerate(active):
            m, c = members[i], ctxs[i]
            steps_total[i] += n_steps
            conds = c.conditions.eval_conditions
            tv = time.perf_counter()
            with amp:
                sel = evaluate(m, val_b, conds, task)
            value = _select_value(sel, metric)
            rec = {
                "epoch": epoch,
                "stage": 2,
                "loss": float(total[row] / max(n_steps, 1)) if n_steps else math.nan,
                "steps": n_steps,
                f"val_{metric}": value,
            }
            if is_better(metric, value, best_val[i]):
                best_val[i], best_epoch[i], since_best[i] = value, epoch, 0
                best_state[i] = {k: v.detach().clone() for k, v in m.state_dict().items()}
            else:
                since_best[i] += 1
            if record_curve and test_b is not None:
                with amp:
                    cur = evaluate(m, test_b, conds, task)
                summary = cur if len(conds) == 1 else cur["mean6" if "mean6" in cur else "mean"]
                rec.update({f"test_{k}": float(v) for k, v in summary.items()})
                if is_better(metric, float(summary[metric]), curve_best[i]):
                    curve_best[i], test_sel[i], test_sel_epoch[i] = float(summary[metric]), cur, epoch
            stage2_seconds[i] += share + (time.perf_counter() - tv)
            hist[i].append(rec)
            if on_epoch is not None:
                on_epoch(i, epoch, 2, {**rec, "seconds": share + (time.perf_counter() - tv)})
            if cfg.patience and since_best[i] >= cfg.patience:
                stopped.append(i)
                log.info(
                    "%s: early stop after epoch %d (best: epoch %d)",
                    _condition(c),
                    epoch + 1,
                    best_epoch[i] + 1,
                )
        if stopped:
            rows = [row for row, i in enumerate(active) if i not in stopped]
            active = [i for i in active if i not in stopped]
            if not active:
                break
            stack = StackedBackbone([members[i] for i in active])  # written back above: the survivors' state
            sopt = sopt.select(dict(stack.params.items()), rows)

    results = []
    for i, (m, c) in enumerate(zip(members, ctxs, strict=True)):
        state, chosen = best_state[i], best_val[i]
        if state is None or chosen is None:
            raise RuntimeError("no stage-2 epoch was run: increase epochs")
        m.load_state_dict(state)
        conds = c.conditions.eval_conditions
        with amp:
            val = evaluate(m, val_b, conds, task)
            test = evaluate(m, test_b, conds, task) if test_b is not None else {}
        check = _select_value(val, metric)
        if not math.isclose(check, chosen, rel_tol=1e-5, abs_tol=1e-5):
            raise RuntimeError(f"restored state gives {metric}={check}, selection saw {chosen}")
        s2 = [r for r in hist[i] if r["stage"] == 2]
        results.append(
            FitResult(
                best_epoch=best_epoch[i],
                select_metric=metric,
                select_on="val",
                val=val,
                test=test,
                history=hist[i],
                train_seconds=prep_seconds / M + stage1_seconds / M + stage2_seconds[i],
                stage_seconds={"prepare": prep_seconds / M, "stage1": stage1_seconds / M, "stage2": stage2_seconds[i]},
                stage1_epochs=len(hist[i]) - len(s2),
                stage2_epochs=len(s2),
                stage2_steps_total=steps_total[i],
                curriculum_steps=sum(r["steps"] for r in s2 if r["epoch"] <= best_epoch[i]),
                padding=train_b.padding_stats(),
                stage1_shared=saved is not None,
                test_selected=test_sel[i],
                test_selected_epoch=test_sel_epoch[i],
                batched={"members": M, "conditions": [_condition(c) for c in ctxs]},
            )
        )
    log.info("%d model-batched runs trained in %.1f s", M, time.perf_counter() - t0)
    return results


def _condition(ctx: FitContext) -> str:
    """The condition of a fixed-protocol context."""
    assert isinstance(ctx.conditions, FixedCondition)
    return str(ctx.conditions.condition)


def _stack_state(stack: StackedBackbone, name: str, state: dict | None) -> dict | None:
    """A member's Adam state of ``name`` in the stack's layout."""
    if not state:
        return None
    return {k: (stack.to_stack_layout(name, v) if k != "step" else v) for k, v in state.items()}


def _replace_train(ctx: FitContext, train: object) -> FitContext:
    import dataclasses

    return dataclasses.replace(ctx, train=train)
