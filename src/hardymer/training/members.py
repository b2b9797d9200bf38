"""Model-batched training: several backbone runs trained as one network.

The runs of one (method, data, fold, config) that differ in their condition and seed have the same
network shape. :func:`fit_members` trains them together. Stage 1 (full modalities) is the same
computation for the conditions of one seed, so it is trained once per seed (or restored from the
shared stage-1 cache) and copied to that seed's members. In stage 2 the members' parameters are
stacked (:class:`~hardymer.models.stacked.StackedBackbone`) and every step is one batched
forward/backward: the conditions of one seed share their batch (same order), members of other
seeds bring their own seed's batch, padded to one shape. Each member keeps its own optimizer state
(:class:`~hardymer.optim.StackedAdam`), gradient clipping, condition sampler (under the unified and
random protocols its own draws), validation, selection and early stopping (a stopped member leaves
the stack, its best epoch kept); the result of each is a
:class:`~hardymer.training.trainer.FitResult` like :func:`fit`'s.

What differs from training the members one by one: the dropout draws (one random stream for all
members), so results agree in distribution, not bit for bit (with dropout off, the parameters after
N steps agree to float tolerance: tested). Where batching cannot apply, :func:`batching_obstacle`
says why and the caller trains run by run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from hardymer._cache import train_key
from hardymer.conditions import MODALITIES
from hardymer.data.batching import Batch
from hardymer.data.protocol import FixedCondition
from hardymer.evaluation.metrics import default_select_metric, is_better
from hardymer.models.backbone import Backbone
from hardymer.models.base import Method
from hardymer.models.context import FitContext
from hardymer.models.dropout import use_fast_dropout
from hardymer.models.stacked import StackedBackbone, stack_key, stage2_parameter_names
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
    ``backbone`` runs of one config on the same data and fold, with the same training config and
    protocol, selecting on validation, none twice (same condition and seed)."""
    if len(methods) != len(ctxs) or not methods:
        return "no runs"
    others = sorted({type(m).__name__ for m in methods if not isinstance(m, Backbone)})
    if others:
        return f"{', '.join(others)} has no model-batched form (only backbone and hardymer have)"
    why = network_obstacle([m for m in methods if isinstance(m, Backbone)])
    if why is not None:
        return why
    c0 = ctxs[0]
    for c in ctxs:
        if type(c.conditions) is not type(c0.conditions):
            return "the runs' protocols differ"
        if c.ds is not c0.ds and (c.ds.name != c0.ds.name or len(c.ds) != len(c0.ds)):
            return "the runs use different data"
        if c.fold.name != c0.fold.name or c.device != c0.device:
            return "the runs differ in fold or device"
        if train_key(c.train, "run") != train_key(c0.train, "run"):
            return "the runs' training configs differ"
    if c0.train.select_on != "val":
        return "train.select_on=test"
    if len({(member_label(c), c.seed) for c in ctxs}) != len(ctxs):
        return "two runs have the same condition and seed"
    return None


def member_label(ctx: FitContext) -> str:
    """A member's condition as its run names it: the fixed condition, else the run key's
    (``all``, a missing-rate label), else the sampler's kind."""
    if isinstance(ctx.conditions, FixedCondition):
        return str(ctx.conditions.condition)
    return str(ctx.run_key.get("condition", type(ctx.conditions).__name__))


def _state_digest(method: Method) -> list[torch.Tensor]:
    return [v.detach().clone() for v in method.state_dict().values()]


def set_rng_state(state: dict[str, torch.Tensor] | None, device: torch.device) -> None:
    """Put torch's global generator(s) in ``state`` (from :func:`rng_state`; ``None``: leave them)."""
    if state is None:
        return
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """torch's global generator state(s) now (``cpu``, and ``cuda`` on a CUDA device): what a run's
    fit would start from, for :func:`fit_members`'s ``rng_states``."""
    out = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state(device)
    return out


def _stage1(
    lead: Backbone,
    ctx: FitContext,
    train_b: Any,
    s1_epochs: int,
    epochs: int,
    on_epoch: Callable[[int, dict], None],
) -> tuple[Any, list[dict], float, bool]:
    """Stage 1 of one seed's lead member, as :func:`fit` runs it (restored from the shared
    stage-1 cache when it holds it, else trained and saved there); its optimizer, history,
    seconds and whether it was restored."""
    opt = make_optimizer(lead, ctx.train)
    history: list[dict] = []
    seconds = 0.0
    shared = shared_stage1(lead, ctx, s1_epochs, epochs)
    saved = shared.load() if shared is not None else None
    if s1_epochs <= 0:
        return opt, history, seconds, False
    lead.on_stage_start(1, ctx)
    if saved is not None and shared is not None:
        history = restore_stage1(saved, lead, opt, train_b, ctx)
        log.info("stage 1 (%d epochs, seed %d) restored from %s", s1_epochs, ctx.seed, shared.path.name)
        return opt, history, float(saved.get("seconds", 0.0)), True
    for epoch in range(s1_epochs):
        te = time.perf_counter()
        losses = train_epoch(lead, train_b, ctx, opt, epoch)
        seconds += time.perf_counter() - te
        rec = {"epoch": epoch, "stage": 1, "loss": float(np.mean(losses)) if losses else math.nan, "steps": len(losses)}
        history.append(rec)
        on_epoch(epoch, {**rec, "seconds": time.perf_counter() - te})
    if shared is not None:
        save_stage1(shared, lead, opt, train_b, ctx, history, seconds)
    return opt, history, seconds, False


def stack_batches(batches: list[Batch]) -> Batch:
    """One batch with a leading member dimension: each member's batch padded to the largest
    ``B`` and ``L`` (padding positions invalid and unavailable, as the batcher pads)."""
    B = max(b.valid.shape[0] for b in batches)
    L = max(b.valid.shape[1] for b in batches)

    def pad(t: torch.Tensor, fill: float | bool | int = 0) -> torch.Tensor:
        if t.shape[0] == B and t.shape[1] == L:
            return t
        out = t.new_full((B, L, *t.shape[2:]), fill)
        out[: t.shape[0], : t.shape[1]] = t
        return out

    return Batch(
        x={m: torch.stack([pad(b.x[m]) for b in batches]) for m in MODALITIES},
        x_full={m: torch.stack([pad(b.x_full[m]) for b in batches]) for m in MODALITIES},
        avail=torch.stack([pad(b.avail, False) for b in batches]),
        avail_full=torch.stack([pad(b.avail_full, False) for b in batches]),
        valid=torch.stack([pad(b.valid, False) for b in batches]),
        y=torch.stack([pad(b.y) for b in batches]),
        idx=torch.stack([pad(b.idx, -1) for b in batches]),
    )


def fit_members(
    methods: list[Method],
    ctxs: list[FitContext],
    on_epoch: MemberCallback | None = None,
    rng_states: list[dict[str, torch.Tensor]] | None = None,
) -> list[FitResult]:
    """Train the runs ``(methods[i], ctxs[i])`` as one model-batched network (see the module
    docstring); one :class:`FitResult` per member, in order. Raises ``ValueError`` naming the
    obstacle when they cannot be batched (check :func:`batching_obstacle` first).

    Members of one seed must start from the same weights; they share stage 1 and the batch
    order. Members of several seeds each get their seed's stage 1, started from ``rng_states[i]``
    (torch's generator state(s) the member's own fit would start from, :func:`rng_state`; default:
    the current state, right for one seed), and their seed's batch order, padded to a common shape.
    """
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
    seeds = list(dict.fromkeys(c.seed for c in ctxs))  # in order of first appearance
    lead_of = {s: next(i for i, c in enumerate(ctxs) if c.seed == s) for s in seeds}
    for i, (m, c) in enumerate(zip(members, ctxs, strict=True)):
        ref = _state_digest(members[lead_of[c.seed]])
        if i != lead_of[c.seed] and any(not torch.equal(a, b) for a, b in zip(ref, _state_digest(m), strict=True)):
            raise ValueError(f"the members of seed {c.seed} do not start from the same weights")
    if len(seeds) > 1 and rng_states is None:
        raise ValueError("members of several seeds need rng_states (each seed's generator state at its fit's start)")
    t0 = time.perf_counter()
    for i, (m, c) in enumerate(zip(members, ctxs, strict=True)):
        m.to(c.device)
        if getattr(cfg, "fast_dropout", False):
            use_fast_dropout(m)
        if rng_states is not None:  # a teacher trained here starts where the member's own fit would
            set_rng_state(rng_states[i], c.device)
        m.prepare(c)
    prep_seconds = time.perf_counter() - t0
    train_b = {s: ctxs[lead_of[s]].batcher("train", shuffle=True) for s in seeds}
    n_batches = {len(b) for b in train_b.values()}
    if len(n_batches) != 1:
        raise ValueError("the seeds' training batchers differ in length; train them one by one")
    val_b = c0.batcher("val")
    test_b = c0.batcher("test") if eval_test else None
    s1_epochs, epochs = schedule(members[0], c0, n_batches.pop())
    if getattr(cfg, "stage2_steps", None) is not None:
        from hardymer.training.trainer import _with_epochs

        for m in members:
            m.pin_stage1_epochs(s1_epochs)
        ctxs = [_replace_train(c, _with_epochs(cfg, epochs)) for c in ctxs]
        c0 = ctxs[0]

    # ---- stage 1, once per seed (restored from the shared cache when it holds it), copied to its members
    names = stage2_parameter_names(members[0])
    start_states: list[dict | None] = [None] * M
    history: dict[int, list[dict]] = {}
    stage1_seconds: dict[int, float] = {}
    restored: dict[int, bool] = {}
    for s in seeds:
        li = lead_of[s]
        lead, lctx = members[li], ctxs[li]
        if rng_states is not None:
            set_rng_state(rng_states[li], lctx.device)
        own = [i for i, c in enumerate(ctxs) if c.seed == s]

        def stage1_epoch(epoch: int, rec: dict, own: list[int] = own) -> None:
            for i in own:
                if on_epoch is not None:
                    on_epoch(i, epoch, 1, rec)

        opt, history[s], stage1_seconds[s], restored[s] = _stage1(
            lead, lctx, train_b[s], s1_epochs, epochs, stage1_epoch
        )
        lead_state = lead.state_dict()
        by_param = {id(p): n for n, p in lead.named_parameters()}
        states = {by_param[id(p)]: st for p, st in opt.state.items() if id(p) in by_param}
        for i in own:
            if i != li:
                members[i].load_state_dict(lead_state)
            start_states[i] = states
    for m, c in zip(members, ctxs, strict=True):
        m.on_stage_start(2, c)

    # ---- stage 2, model-batched
    stack = StackedBackbone(members)
    sopt = StackedAdam(
        dict(stack.params.items()),
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        decoupled=str(getattr(cfg, "optimizer", "adamw")).lower() == "adamw",
        member_states={
            stack_key(n): [_stack_state(stack, n, (start_states[i] or {}).get(n)) for i in range(M)] for n in names
        },
    )
    active = list(range(M))
    best_val: list[float | None] = [None] * M
    best_epoch = [-1] * M
    since_best = [0] * M
    best_state: list[dict | None] = [None] * M
    hist: list[list[dict]] = [[dict(r) for r in history[c.seed]] for c in ctxs]
    stage2_seconds = [0.0] * M
    steps_total = [0] * M
    curve_best: list[float | None] = [None] * M
    test_sel: list[dict | None] = [None] * M
    test_sel_epoch: list[int | None] = [None] * M
    labels = [member_label(c) + (f" seed{c.seed}" if len(seeds) > 1 else "") for c in ctxs]
    plain = type(members[0]) is Backbone  # the backbone's stage-2 batch is the batch under the condition
    log.info("stage 2 of %d runs (%s) as one model-batched network", M, ", ".join(labels))
    for epoch in range(s1_epochs, epochs):
        te = time.perf_counter()
        stack.train()
        total = torch.zeros(len(active), dtype=torch.float64)
        n_steps = 0
        for per_seed in zip(*(train_b[s] for s in seeds), strict=True):
            batch_of = dict(zip(seeds, per_seed, strict=True))
            if len(seeds) == 1 and plain:  # one batch for every member: inputs shared, no padding
                batch = per_seed[0]
                avail = torch.stack(
                    [ctxs[i].conditions.sample(batch) & batch.avail_full & batch.valid.unsqueeze(-1) for i in active]
                )
            else:  # each member's own stage-2 batch (its seed's batch, hardymer's views), padded to one shape
                batch = stack_batches([members[i].stage2_batch(batch_of[ctxs[i].seed], ctxs[i], epoch) for i in active])
                avail = batch.avail
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
                    labels[i],
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

    per_seed_count = {s: sum(1 for c in ctxs if c.seed == s) for s in seeds}
    s1_share = [stage1_seconds[c.seed] / per_seed_count[c.seed] for c in ctxs]
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
                train_seconds=prep_seconds / M + s1_share[i] + stage2_seconds[i],
                stage_seconds={"prepare": prep_seconds / M, "stage1": s1_share[i], "stage2": stage2_seconds[i]},
                stage1_epochs=len(hist[i]) - len(s2),
                stage2_epochs=len(s2),
                stage2_steps_total=steps_total[i],
                curriculum_steps=sum(r["steps"] for r in s2 if r["epoch"] <= best_epoch[i]),
                padding=train_b[c.seed].padding_stats(),
                stage1_shared=restored[c.seed],
                test_selected=test_sel[i],
                test_selected_epoch=test_sel_epoch[i],
                batched={
                    "members": M,
                    "conditions": [member_label(x) for x in ctxs],
                    **({"seeds": [x.seed for x in ctxs]} if len(seeds) > 1 else {}),
                },
            )
        )
    log.info("%d model-batched runs trained in %.1f s", M, time.perf_counter() - t0)
    return results


def _stack_state(stack: StackedBackbone, name: str, state: dict | None) -> dict | None:
    """A member's Adam state of ``name`` in the stack's layout."""
    if not state:
        return None
    return {k: (stack.to_stack_layout(name, v) if k != "step" else v) for k, v in state.items()}


def _replace_train(ctx: FitContext, train: object) -> FitContext:
    return dataclasses.replace(ctx, train=train)
