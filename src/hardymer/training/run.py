"""One run end to end: load data, standardise on the fold's train part, fit, write outputs.

Outputs in ``out``: ``metrics.json``, ``config.yaml`` (resolved), ``checkpoint.pt``, ``history.json``,
``history.csv`` (per epoch, numbered from 1: stage, loss, optimizer steps and the selection metric),
``log.txt`` and whatever the method adds (hardness, neighbours). Every file is written atomically.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hardymer._env import environment, resolve_device
from hardymer._io import atomic_numpy_save, atomic_write_json, atomic_write_text
from hardymer.catalog.validation import validate_config
from hardymer.conditions import Condition
from hardymer.config import config_hash, run_condition, to_container, to_yaml
from hardymer.data import Standardizer, create_dataset
from hardymer.data.dataset import MultimodalDataset
from hardymer.data.protocol import MaskCondition, make_condition_sampler, stored_mask
from hardymer.errors import ConfigError
from hardymer.models import Method, MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.reporting.reference import constant_predictor_metrics
from hardymer.training.checkpoint import save_checkpoint
from hardymer.training.precision import slow_bf16_warning
from hardymer.training.progress import EpochLogger, chain, write_history_csv
from hardymer.training.seeding import seed_everything
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import EpochCallback, FitResult, fit

log = logging.getLogger(__name__)


def load_run_dataset(cfg: Any) -> MultimodalDataset:
    return create_dataset(cfg.data.name, root=cfg.data.root, **dict(cfg.data.options))


#: fewer utterances than this in a validation or test split draw a warning
MIN_SPLIT = 5


@contextmanager
def run_log(out: Path) -> Iterator[None]:
    """While active, the ``hardymer`` loggers' INFO records also go to ``out/log.txt`` (one line each)."""
    handler = logging.FileHandler(out / "log.txt", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("hardymer")
    prev = root.level
    root.addHandler(handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(prev)
        handler.close()


def check_split_sizes(ds: MultimodalDataset, fold: Any, parts: tuple[str, ...] = ("val", "test")) -> None:
    """Warn when a split is too small to measure anything: fewer utterances than classes, or fewer
    than :data:`MIN_SPLIT` (one utterance more or less moves accuracy by > 20 points)."""
    for part in parts:
        n = len(fold.part(part))
        if n == 0:
            continue
        small = n < MIN_SPLIT or (ds.task == "classification" and n < ds.output_dim)
        if small:
            what = f" for {ds.output_dim} classes" if ds.task == "classification" else ""
            log.warning(
                "%s fold %s: the %s split has %d utterance(s)%s; its metrics measure little",
                ds.name,
                fold.name,
                part,
                n,
                what,
            )


def run_experiment(
    cfg: Any,
    ds: MultimodalDataset | None = None,
    progress: bool = False,
    save_checkpoint_file: bool = True,
    on_epoch: EpochCallback | None = None,
    log_epochs: bool = False,
    log_file: bool = True,
) -> dict:
    """Train one (method, dataset, fold, condition, seed) run described by ``cfg``; return metrics.json.

    ``save_checkpoint_file=False`` skips ``checkpoint.pt`` (tuning trials); ``on_epoch`` is passed
    to :func:`~hardymer.training.trainer.fit`; ``log_epochs`` adds one INFO log line per epoch (stage,
    loss, selection metric, best so far, ETA; for output that is not a terminal); ``log_file`` writes
    the run's log lines to ``out/log.txt``. With ``train.evaluate_test`` false the test split is never
    touched. Interrupted (Ctrl-C), a run folder this call created and that holds no finished run is
    removed (the on-disk cache keeps what it finished) and the interrupt propagates.
    """
    out = Path(cfg.out)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with run_log(out) if log_file else nullcontext():
            return _run(cfg, ds, progress, save_checkpoint_file, on_epoch, log_epochs)
    except KeyboardInterrupt:
        if created and not (out / "metrics.json").exists():
            shutil.rmtree(out, ignore_errors=True)
            log.warning(
                "interrupted: removed the unfinished run folder %s (finished teachers, stage-1 states "
                "and hardness tables stay in the cache and are reused)",
                out,
            )
        else:
            log.warning("interrupted: %s keeps what it held before this run", out)
        raise


@dataclass
class RunSetup:
    """Everything a run needs between its config and its fit: data, fold, method, context."""

    cfg: Any
    ds: MultimodalDataset
    fold: Any
    condition: Any
    std: Standardizer | None
    eval_mask: MaskCondition | None
    method: Method
    ctx: FitContext
    t0: float


def _run(
    cfg: Any,
    ds: MultimodalDataset | None,
    progress: bool,
    save_checkpoint_file: bool,
    on_epoch: EpochCallback | None,
    log_epochs: bool,
) -> dict:
    setup = setup_run(cfg, ds)
    condition, seed = setup.condition, int(cfg.seed)
    log.info(
        "train %s on %s (fold %s, condition %s, seed %d)",
        cfg.method.name,
        setup.ds.name,
        setup.fold.name,
        condition,
        seed,
    )
    epoch_log = (
        EpochLogger(int(cfg.train.epochs or 0), label=f"{cfg.method.name} {condition} seed{seed}")
        if log_epochs
        else None
    )
    res = fit(setup.method, setup.ctx, progress=progress, on_epoch=chain(epoch_log, on_epoch))
    return finish_run(setup, res, save_checkpoint_file)


def setup_run(cfg: Any, ds: MultimodalDataset | None = None) -> RunSetup:
    """Validate ``cfg``, load and check the data (``ds``: already loaded), build the condition
    sampler, standardiser, method (seeded) and fit context of one run; nothing is trained."""
    t0 = time.perf_counter()
    validate_config(cfg)
    if cfg.train.num_threads:
        torch.set_num_threads(int(cfg.train.num_threads))
    # parsed once, carried through: a condition (fixed), "all" (unified) or a rate label (random)
    condition = Condition(cfg.condition) if cfg.protocol == "fixed" else run_condition(cfg)
    seed = int(cfg.seed)
    if ds is None:
        ds = load_run_dataset(cfg)
    if cfg.protocol == "fixed":
        ds.check_condition(condition)
    elif ds.absent_modalities:
        raise ConfigError(
            f"the {cfg.protocol} protocol trains and evaluates every condition, but dataset {ds.name!r} "
            f"has no {', '.join(ds.absent_modalities)} features; use --protocol fixed with conditions "
            "of the modalities it has"
        )
    fold = ds.fold(cfg.data.fold)
    ds.check_fold(fold, ("train", "val", "test") if cfg.train.evaluate_test else ("train", "val"))
    fold, dropped = ds.without_empty_training_rows(fold)
    if dropped:
        log.warning(
            "%s fold %s: %d training utterances have no modality at all; they are not trained on "
            "(kept in validation and test)",
            ds.name,
            fold.name,
            dropped,
        )
    eval_mask: MaskCondition | None = None
    if cfg.protocol == "random":  # the stored validation / test masks: the same for every method and seed
        parts = {"val": fold.val, **({"test": fold.test} if cfg.train.evaluate_test else {})}
        eval_mask = stored_mask(
            ds.name, fold.name, len(ds), parts, float(cfg.missing.rate), cfg.missing.mask, cfg.missing.mask_seed
        )
    sampler = make_condition_sampler(
        cfg.protocol, condition, seed, rate=cfg.missing.rate, mask=cfg.missing.mask, eval_condition=eval_mask
    )
    if eval_mask is None:
        ds.check_conditions(sampler.eval_conditions)
    check_split_sizes(ds, fold, ("val", "test") if cfg.train.evaluate_test else ("val",))
    std = Standardizer.fit(ds, fold.train) if cfg.data.standardize else None
    ds_in = std.transform(ds) if std is not None else ds
    seed_everything(seed)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    method = create_method(cfg.method.name, spec, **dict(cfg.method.options))
    out = Path(cfg.out)
    device = torch.device(resolve_device(cfg.train.device))
    if (slow := slow_bf16_warning(cfg.train, device)) is not None:
        log.warning("%s", slow)
    ctx = FitContext(
        ds=ds_in,
        fold=fold,
        conditions=sampler,
        train=cfg.train,
        seed=seed,
        device=device,
        out_dir=out,
        cache_dir=Path(cfg.cache_dir) if cfg.cache_dir else None,
        run_key={
            "dataset": ds.name,
            "data": to_container(cfg.data),
            "fold": fold.name,
            "condition": condition,
            "protocol": cfg.protocol,
            "seed": seed,
            **({"missing": to_container(cfg.missing)} if cfg.protocol == "random" else {}),
            "dims": ds.dims,
            "n": len(ds),
            **({"train_without_empty": dropped} if dropped else {}),
        },
        teacher_provider=load_or_fit_teacher,
    )
    return RunSetup(cfg, ds, fold, condition, std, eval_mask, method, ctx, t0)


def finish_run(setup: RunSetup, res: FitResult, save_checkpoint_file: bool = True) -> dict:
    """Write a fitted run's outputs (config, checkpoint, history, extras; ``metrics.json`` last,
    each atomically) and return its metrics."""
    cfg, ds, fold, condition, std, eval_mask = (
        setup.cfg,
        setup.ds,
        setup.fold,
        setup.condition,
        setup.std,
        setup.eval_mask,
    )
    method, ctx, t0, seed = setup.method, setup.ctx, setup.t0, int(setup.cfg.seed)
    out = Path(cfg.out)
    resolved = to_container(cfg)
    atomic_write_text(out / "config.yaml", to_yaml(cfg))
    if save_checkpoint_file:
        save_checkpoint(
            out / "checkpoint.pt",
            method,
            cfg.method.name,
            standardizer=std,
            config=resolved,
            dataset={
                "name": ds.name,
                "task": ds.task,
                "class_names": ds.class_names,
                "label_range": list(ds.label_range) if ds.label_range else None,
                "fold": fold.name,
                "dims": ds.dims,
            },
            extra={"best_epoch": res.best_epoch + 1},
        )
    metrics = {
        "method": cfg.method.name,
        "dataset": ds.name,
        "condition": condition,
        "seed": seed,
        "fold": fold.name,
        "protocol": cfg.protocol,
        "select_on": res.select_on,
        "select_metric": res.select_metric,
        "optimistic": res.select_on == "test",
        "best_epoch": res.best_epoch + 1,  # 1-based, as in history.csv and the log
        "epoch_numbering": "1-based",
        "val": res.val,
        "test": res.test,
        # the best constant prediction on the test split: the reference line of the plots
        "constant_predictor": constant_predictor_metrics(ds.task, ds.labels[fold.test]) if res.test else None,
        "train_seconds": res.train_seconds,
        "stage_seconds": res.stage_seconds,
        "stage1_epochs": res.stage1_epochs,
        "stage2_epochs": res.stage2_epochs,
        "stage2_steps_total": res.stage2_steps_total,  # optimizer steps (sequential views: one per view)
        "curriculum_steps": res.curriculum_steps,  # stage-2 optimizer steps up to the selected epoch
        "stage1_shared": res.stage1_shared,  # stage 1 restored from the shared stage-1 cache
        # trained as one model-batched network with the runs of these conditions (train.batch_members)
        **({"batched": res.batched} if res.batched is not None else {}),
        # the random protocol: rate, generator, mask seed, digest and realised missing rate per part
        **({"missing": eval_mask.summary()} if eval_mask is not None else {}),
        **(
            {  # train.record_test_curve: what selecting on test would have printed (never used here)
                "test_selected": res.test_selected,
                "test_selected_epoch": res.test_selected_epoch + 1,
            }
            if res.test_selected is not None and res.test_selected_epoch is not None
            else {}
        ),
        **method.run_summary(),
        "padding": res.padding,
        "wall_seconds": time.perf_counter() - t0,
        "config_hash": config_hash(cfg),
        "environment": environment(),
    }
    if eval_mask is not None:  # the evaluation masks themselves (dataset index and keep-mask per part)
        atomic_numpy_save(
            out / "eval_masks.npz",
            **{f"{p}_{k}": v[k] for p, v in eval_mask.parts.items() for k in ("idx", "mask")},
        )
    for name, obj in ctx.extras.items():
        atomic_write_json(out / name, obj)
    history = [{**r, "epoch": r["epoch"] + 1} for r in res.history]  # 1-based for people
    atomic_write_json(out / "history.json", history)
    write_history_csv(out / "history.csv", history)
    atomic_write_json(out / "metrics.json", metrics)  # written last: its presence marks a finished run
    return metrics


def run_member_group(
    cfgs: list[Any],
    ds: MultimodalDataset | None = None,
    save_checkpoint_file: bool = True,
    log_epochs: bool = False,
) -> list[dict]:
    """Train the runs ``cfgs`` (the conditions of one backbone seed, see
    :func:`~hardymer.training.members.batching_obstacle`) as one model-batched network and write
    each run's outputs to its own folder, laid out as :func:`run_experiment` lays them out
    (``metrics.json`` adds ``batched``). For ``hardymer`` runs the teachers the runs need are
    trained as one network first (:func:`~hardymer.training.teacher.prefit_teachers`) and the
    students one by one. When they cannot be batched, the reason is logged and each run is trained
    on its own. Returns the metrics, in order."""
    from hardymer.training.members import batching_obstacle, fit_members, rng_state, set_rng_state
    from hardymer.training.teacher import prefit_teachers

    if not cfgs:
        return []
    outs = [Path(c.out) for c in cfgs]
    for o in outs:
        o.mkdir(parents=True, exist_ok=True)
    if ds is None:
        ds = load_run_dataset(cfgs[0])
    with ExitStack() as stack:
        for o in outs:
            stack.enter_context(run_log(o))
        setups, states = [], []
        for c in cfgs:
            setups.append(setup_run(c, ds))
            states.append(rng_state(setups[-1].ctx.device))  # where this run's own fit would start
        if len(cfgs) > 1 and all(c.method.name == "hardymer" and c.protocol == "fixed" for c in cfgs):
            # hardymer: the teachers of one seed's conditions first, as one network, on the stream
            # state that seed's own teachers start from (each cached where its run looks for it)
            for seed in dict.fromkeys(int(c.seed) for c in cfgs):
                own = [i for i, c in enumerate(cfgs) if int(c.seed) == seed]
                set_rng_state(states[own[0]], setups[own[0]].ctx.device)
                n = prefit_teachers([setups[i].method for i in own], [setups[i].ctx for i in own])
                log.info("seed %d: %d teachers trained model-batched", seed, n)
        why = batching_obstacle([s.method for s in setups], [s.ctx for s in setups]) if len(cfgs) > 1 else "one run"
        if why is not None:
            log.info("training %d run(s) one by one: %s", len(cfgs), why)
            stack.close()  # each run writes its own log.txt
            return [
                run_experiment(c, ds, save_checkpoint_file=save_checkpoint_file, log_epochs=log_epochs) for c in cfgs
            ]
        first = setups[0]
        log.info(
            "train %s on %s (fold %s): %s as one model-batched network",
            first.cfg.method.name,
            first.ds.name,
            first.fold.name,
            ", ".join(f"{s.condition} seed{int(s.cfg.seed)}" for s in setups),
        )
        loggers = [
            EpochLogger(int(s.cfg.train.epochs or 0), label=f"{s.cfg.method.name} {s.condition} seed{int(s.cfg.seed)}")
            for s in setups
        ]

        def on_epoch(i: int, epoch: int, stage: int, record: dict) -> None:
            if log_epochs:
                loggers[i](epoch, stage, record)

        results = fit_members([s.method for s in setups], [s.ctx for s in setups], on_epoch=on_epoch, rng_states=states)
        return [finish_run(s, r, save_checkpoint_file) for s, r in zip(setups, results, strict=True)]
