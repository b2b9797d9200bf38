"""The training loop: epochs, validation-based selection, early stopping, best state kept.

Selection is on validation (``select_on="val"``); ``"test"`` exists only to compare with
published numbers and is stamped as optimistic wherever it is reported. The best state is a real
copy of the parameters (not a reference to the live module), and the metrics that are reported
are recomputed from that restored state.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch

from hardymer.data.batching import Batch, GroupBatcher
from hardymer.data.protocol import MaskCondition
from hardymer.errors import ConfigError
from hardymer.evaluation.metrics import compute_metrics, default_select_metric, is_better
from hardymer.models.base import Method, StepParts
from hardymer.models.context import FitContext
from hardymer.models.dropout import use_fast_dropout
from hardymer.optim import Adam
from hardymer.training.precision import autocast
from hardymer.training.progress import LiveProgress, chain, format_seconds
from hardymer.training.stage1 import restore_stage1, save_stage1, shared_stage1

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    best_epoch: int
    select_metric: str
    select_on: str
    val: dict
    test: dict
    history: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)
    stage1_epochs: int = 0  # epochs run in stage 1
    stage2_epochs: int = 0  # epochs run in stage 2
    stage2_steps_total: int = 0  # optimizer steps taken in stage 2
    curriculum_steps: int = 0  # stage-2 optimizer steps up to and including the selected epoch
    padding: dict = field(default_factory=dict)  # padded positions of the training batches per epoch
    stage1_shared: bool = False  # stage 1 was restored from the shared stage-1 cache (not trained)
    # with train.record_test_curve: the test metrics of the stage-2 epoch that is best on test (what a
    # release that selects on test would print) and that epoch (0-based); never used for selection
    test_selected: dict | None = None
    test_selected_epoch: int | None = None
    # trained as one model-batched network with other runs (training.members): how many, which
    batched: dict | None = None


@torch.no_grad()
def predict(method: Method, batcher: GroupBatcher, condition: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outputs, labels and dataset indices of every utterance of ``batcher`` under ``condition`` (a
    condition name, or a :class:`~hardymer.data.protocol.MaskCondition`: a stored per-utterance mask)."""
    was_training = method.training
    method.eval()
    outs, ys, idxs = [], [], []
    for batch in batcher:
        b = condition.apply(batch) if isinstance(condition, MaskCondition) else batch.with_condition(condition)
        out = method.predict_output(b)
        outs.append(out[b.valid].cpu().numpy())
        ys.append(b.y[b.valid].cpu().numpy())
        idxs.append(b.idx[b.valid].cpu().numpy())
    method.train(was_training)
    return np.concatenate(outs), np.concatenate(ys), np.concatenate(idxs)


def evaluate(method: Method, batcher: GroupBatcher, conditions: Sequence[str], task: str) -> dict:
    """Metrics per condition; with several conditions also their mean (``"mean"``) and the
    mean over the six missing-modality conditions (``"mean6"``)."""
    res = {}
    for c in conditions:
        out, y, _ = predict(method, batcher, c)
        res[c] = compute_metrics(task, y, out)
    if len(conditions) == 1:
        return res[conditions[0]]
    keys = list(next(iter(res.values())).keys())
    res["mean"] = {k: float(np.mean([res[c][k] for c in conditions])) for k in keys}
    missing = [c for c in conditions if c != "atv"]
    if missing and len(missing) != len(conditions):
        res["mean6"] = {k: float(np.mean([res[c][k] for c in missing])) for k in keys}
    return res


def select_value(metrics: dict, metric: str) -> float:
    """Public name of the selection rule (used by the tuner)."""
    return _select_value(metrics, metric)


def _select_value(metrics: dict, metric: str) -> float:
    """The selection value of ``metric`` in ``metrics`` (one condition, else ``mean6`` or ``mean``)."""
    if metric in metrics:
        return float(metrics[metric])
    key = "mean6" if "mean6" in metrics else "mean"
    return float(metrics[key][metric])


def train_epoch(method: Method, batches: Iterable[Batch], ctx: FitContext, opt: Adam, epoch: int) -> list[float]:
    """One pass over ``batches``: for each loss of ``method.training_losses`` (one by default),
    zero the gradients, backward, clip and take one optimizer step; the losses, one per step.
    Losses are computed under ``train.precision``'s autocast; backward runs outside it."""
    method.train()
    losses = []
    amp = autocast(ctx.train, ctx.device)
    for batch in batches:
        steps = iter(method.training_losses(batch, ctx, epoch))
        while True:  # the next loss sees the stepped parameters
            with amp:
                item = next(steps, None)
            if item is None:
                break
            opt.zero_grad(set_to_none=True)
            total = 0.0
            for part in item.parts if isinstance(item, StepParts) else [lambda item=item: item]:
                with amp:
                    loss = part()
                loss = loss.float()
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"non-finite training loss at epoch {epoch}")
                loss.backward()  # accumulates over the parts of one step
                total += float(loss.detach())
            if ctx.train.grad_clip:
                torch.nn.utils.clip_grad_norm_(method.parameters(), ctx.train.grad_clip)
            opt.step()
            losses.append(total)
    return losses


def schedule(method: Method, ctx: FitContext, n_batches: int) -> tuple[int, int]:
    """``(stage-1 epochs, total epochs)``. Without ``train.stage2_steps`` the total is
    ``train.epochs``; with it, stage 2 lasts ceil(stage2_steps / optimizer steps per stage-2 epoch)
    epochs after round(stage1_fraction·train.epochs) stage-1 epochs."""
    cfg = ctx.train
    s1 = method.stage1_epochs(cfg.epochs)
    steps = getattr(cfg, "stage2_steps", None)
    if steps is None:
        return s1, cfg.epochs
    if int(steps) < 1:
        raise ConfigError(f"train.stage2_steps must be >= 1, got {steps}")
    per_epoch = max(n_batches * method.steps_per_batch(2), 1)
    return s1, s1 + math.ceil(int(steps) / per_epoch)


def _with_epochs(train_cfg, epochs: int):
    """A copy of the training config with ``epochs`` replaced (the effective total seen by methods)."""
    if dataclasses.is_dataclass(train_cfg) and not isinstance(train_cfg, type):
        return dataclasses.replace(train_cfg, epochs=epochs)
    from omegaconf import OmegaConf

    out = OmegaConf.create(cast(dict, OmegaConf.to_container(train_cfg)))
    out.epochs = epochs
    return out


EpochCallback = Callable[[int, int, dict], None]


def make_optimizer(method: Method, cfg) -> Adam:
    """``train.optimizer``: ``adamw`` (default) or ``adam`` (the release), with lr and weight decay
    (:class:`hardymer.optim.Adam`: torch.optim's update without its import of ``torch._dynamo``)."""
    name = str(getattr(cfg, "optimizer", "adamw")).lower()
    if name == "adamw":
        return Adam(method.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, decoupled=True)
    if name == "adam":
        return Adam(method.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ConfigError(f"train.optimizer must be adamw or adam, got {name!r}")


def fit(method: Method, ctx: FitContext, progress: bool = False, on_epoch: EpochCallback | None = None) -> FitResult:
    """Train ``method`` on ``ctx``; keep the best (selection split) state; return its metrics.

    ``on_epoch(epoch, stage, record)`` is called after every epoch (exceptions it raises, e.g.
    ``optuna.TrialPruned``, propagate). With ``train.evaluate_test`` false the test split is never
    read and ``test`` is ``{}``.
    """
    cfg = ctx.train
    task = ctx.ds.task
    metric = default_select_metric(task) if cfg.select_metric == "auto" else cfg.select_metric
    if cfg.select_on not in ("val", "test"):
        raise ValueError(f"select_on must be 'val' or 'test', got {cfg.select_on!r}")
    eval_test = bool(getattr(cfg, "evaluate_test", True))
    if cfg.select_on == "test" and not eval_test:
        raise ConfigError("train.select_on=test needs train.evaluate_test=true")
    if cfg.select_on == "test":
        log.warning("selecting the epoch on TEST: optimistic protocol, only for comparison with published numbers")
    method.to(ctx.device)
    if getattr(cfg, "fast_dropout", False):
        use_fast_dropout(method)
    t0 = time.perf_counter()
    live = LiveProgress(0, label=type(method).__name__.lower()) if progress else None
    if live is not None:
        live.start("preparing (teacher, critics, neighbours where the method has them)")
    try:
        method.prepare(ctx)
    except BaseException:
        if live is not None:
            live.stop()
        raise
    prep_seconds = time.perf_counter() - t0
    if prep_seconds >= 1.0:
        log.info("prepared %s in %s", type(method).__name__, format_seconds(prep_seconds))
    train_b = ctx.batcher("train", shuffle=True)
    val_b = ctx.batcher("val")
    test_b = ctx.batcher("test") if eval_test else None
    sel_b = val_b if cfg.select_on == "val" else test_b
    assert sel_b is not None  # select_on=test needs evaluate_test (checked above)
    conds = ctx.conditions.eval_conditions
    record_curve = bool(getattr(cfg, "record_test_curve", False)) and test_b is not None and cfg.select_on == "val"
    curve_best: float | None = None
    test_selected: dict | None = None
    test_selected_epoch: int | None = None
    s1_epochs, epochs = schedule(method, ctx, len(train_b))
    if getattr(cfg, "stage2_steps", None) is not None:  # methods see the effective total; stage 1 stays
        method.pin_stage1_epochs(s1_epochs)
        ctx = dataclasses.replace(ctx, train=_with_epochs(cfg, epochs))
        log.info(
            "stage 2: %d optimizer steps -> %d epochs after %d stage-1 epochs",
            cfg.stage2_steps,
            epochs - s1_epochs,
            s1_epochs,
        )
    opt = make_optimizer(method, cfg)
    best_state: dict | None = None
    best_val: float | None = None
    best_epoch = -1
    since_best = 0
    history: list[dict] = []
    stage_seconds = {"prepare": prep_seconds, "stage1": 0.0, "stage2": 0.0}
    current_stage = 0
    amp = autocast(cfg, ctx.device)
    shared = shared_stage1(method, ctx, s1_epochs, epochs)
    saved = shared.load() if shared is not None else None
    start = 0
    if shared is not None and saved is not None:  # stage 2 starts from the state the unshared path would have
        method.on_stage_start(1, ctx)
        current_stage = 1
        history = restore_stage1(saved, method, opt, train_b, ctx)
        start = s1_epochs
        log.info("stage 1 (%d epochs) restored from %s", s1_epochs, shared.path.name)
    if live is not None:
        live.total = epochs
        live.begin_epochs(start)
    callback = chain(live, on_epoch)
    try:
        for rec in history:
            if callback is not None:
                callback(rec["epoch"], rec["stage"], {**rec, "restored": True})
        for epoch in range(start, epochs):
            stage = method.stage(epoch, epochs)
            if stage != current_stage:
                method.on_stage_start(stage, ctx)
                current_stage = stage
                since_best = 0
            te = time.perf_counter()
            losses = train_epoch(method, train_b, ctx, opt, epoch)
            stage_seconds[f"stage{stage}"] += time.perf_counter() - te
            rec = {
                "epoch": epoch,
                "stage": stage,
                "loss": float(np.mean(losses)) if losses else math.nan,
                "steps": len(losses),
            }
            if stage == 2:
                with amp:
                    sel = evaluate(method, sel_b, conds, task)
                value = _select_value(sel, metric)
                rec[f"{cfg.select_on}_{metric}"] = value
                if is_better(metric, value, best_val):
                    best_val, best_epoch, since_best = value, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in method.state_dict().items()}
                else:
                    since_best += 1
                if record_curve and test_b is not None:  # recorded after selection used this epoch; never read by it
                    with amp:
                        cur = evaluate(method, test_b, conds, task)
                    summary = cur if len(conds) == 1 else cur["mean6" if "mean6" in cur else "mean"]
                    rec.update({f"test_{k}": float(v) for k, v in summary.items()})
                    if is_better(metric, float(summary[metric]), curve_best):
                        curve_best, test_selected, test_selected_epoch = float(summary[metric]), cur, epoch
            history.append(rec)
            log.debug("epoch %s", rec)
            if callback is not None:
                callback(epoch, stage, {**rec, "seconds": time.perf_counter() - te})
            if shared is not None and saved is None and epoch == s1_epochs - 1:
                save_stage1(shared, method, opt, train_b, ctx, history, stage_seconds["stage1"])
            if stage == 2 and cfg.patience and since_best >= cfg.patience:
                log.info("early stop after epoch %d (best: epoch %d)", epoch + 1, best_epoch + 1)
                break
    finally:
        if live is not None:
            live.stop()
    if best_state is None or best_val is None:  # set together
        raise RuntimeError("no stage-2 epoch was run: increase epochs")
    method.load_state_dict(best_state)
    with amp:
        val = evaluate(method, val_b, conds, task)
        test = evaluate(method, test_b, conds, task) if test_b is not None else {}
    check = _select_value(val if cfg.select_on == "val" else test, metric)
    if not math.isclose(check, best_val, rel_tol=1e-5, abs_tol=1e-5):
        raise RuntimeError(f"restored state gives {metric}={check}, selection saw {best_val}")
    s2 = [r for r in history if r["stage"] == 2]
    return FitResult(
        best_epoch=best_epoch,
        select_metric=metric,
        select_on=cfg.select_on,
        val=val,
        test=test,
        history=history,
        train_seconds=time.perf_counter() - t0,
        stage_seconds=stage_seconds,
        stage1_epochs=len(history) - len(s2),
        stage2_epochs=len(s2),
        stage2_steps_total=sum(r["steps"] for r in s2),
        curriculum_steps=sum(r["steps"] for r in s2 if r["epoch"] <= best_epoch),
        padding=train_b.padding_stats(),
        stage1_shared=saved is not None,
        test_selected=test_selected,
        test_selected_epoch=test_selected_epoch,
    )
