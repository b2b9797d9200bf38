"""``hardymer train``: one model per (condition, seed), with its run folder."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from hardymer.cli._common import (
    apply_missing_options,
    build_config,
    config_file_values,
    console,
    fail,
    invoked_command,
    log,
    log_overrides,
    mask_option,
    mask_seed_option,
    missing_rate_option,
    parse_condition_option,
    parse_seeds,
    rate_conditions,
    setup_logging,
    verbose_option,
)
from hardymer.config import batches_method
from hardymer.errors import HardymerError

#: config keys a train flag sets: key -> flag
TRAIN_FLAGS = {
    "data.name": "--dataset",
    "data.root": "--root",
    "data.fold": "--fold",
    "method.name": "--method",
    "condition": "--condition",
    "seed": "--seed",
    "protocol": "--protocol",
    "missing.rate": "--missing-rate",
    "missing.mask": "--mask",
    "missing.mask_seed": "--mask-seed",
    "out": "--out",
    "train.epochs": "--epochs",
    "train.batch_size": "--batch-size",
    "train.lr": "--lr",
    "train.device": "--device",
    "train.select_on": "--select-on",
    "train.batch_members": "--batch-members",
}
DEFAULT_OUT = "runs/train"


def _member_groups(run_cfgs: list, log_to: str) -> list[list]:
    """The runs as groups trained together (``train.batch_members`` > 1: up to that many runs of
    several conditions and seeds, filled seed by seed, see :func:`hardymer.config.batches_method`)
    or alone, in order."""
    first = run_cfgs[0]
    size = int(first.train.batch_members)
    if size <= 1 or not batches_method(str(first.method.name)) or len(run_cfgs) == 1:
        return [[c] for c in run_cfgs]
    if log_to == "tensorboard":
        log.info("train.batch_members: TensorBoard logging trains run by run")
        return [[c] for c in run_cfgs]
    from hardymer.bench.grid import fill_seed_by_seed

    return fill_seed_by_seed(run_cfgs, size, lambda c: int(c.seed))


def train(
    dataset: str | None = typer.Option(
        None, help="dataset name (see `hardymer list`; default: from --config, else synthetic)"
    ),
    root: str | None = typer.Option(None, help="dataset folder or file"),
    method: str | None = typer.Option(
        None,
        "--method",
        "--methods",
        help="method or preset name, e.g. hardymer-no-dh (default: from --config, else zero-fill)",
    ),
    condition: str | None = typer.Option(
        None,
        "--condition",
        "--conditions",
        help="available modalities: "
        "a,t,v,at,av,tv,atv, a comma list, 'all' or 'missing' (default: from "
        "--config, else atv)",
    ),
    seed: str | None = typer.Option(
        None, "--seed", "--seeds", help="seed, list (0,1,2) or range (0-4) (default: from --config, else 0)"
    ),
    out: str | None = typer.Option(None, help=f"output folder (default: from --config, else {DEFAULT_OUT})"),
    protocol: str | None = typer.Option(
        None,
        help="fixed (one model per condition), unified, or random (one model per missing rate) "
        "(default: from --config, else fixed)",
    ),
    missing_rate: str | None = missing_rate_option("one model per rate (default: from --config, else 0)"),
    mask: str | None = mask_option(),
    mask_seed: int | None = mask_seed_option(),
    config: list[str] | None = typer.Option(
        None, help="YAML config file(s) merged over the defaults; flags given on the command line override their values"
    ),
    recipe: str | None = typer.Option(
        None, help="named recipe (configs/recipes/NAME.yaml, e.g. release), merged before --config"
    ),
    epochs: int | None = typer.Option(None, help="training epochs (default: from --config, else the built-in default)"),
    batch_size: int | None = typer.Option(None, help="groups (dialogues / videos) per batch"),
    lr: float | None = typer.Option(None, help="learning rate"),
    fold: str | None = typer.Option(None, help="fold number or name (datasets with several folds)"),
    device: str | None = typer.Option(None, help="auto, cpu, cuda or cuda:N"),
    select_on: str | None = typer.Option(None, help="val (default) or test (optimistic)"),
    batch_members: int | None = typer.Option(
        None,
        help="with several conditions/seeds: train up to N backbone/hardymer runs as one model-batched "
        "network (train.batch_members)",
    ),
    data_opt: list[str] | None = typer.Option(None, help="dataset option key=value"),
    method_opt: list[str] | None = typer.Option(None, help="method option key=value"),
    set_: list[str] | None = typer.Option(None, "--set", help="any config key, e.g. train.patience=5"),
    overwrite: bool = typer.Option(False, help="replace a finished run of another config in --out"),
    log_to: str = typer.Option(
        "none", "--log", help="none, or tensorboard: per-epoch scalars in <run>/tensorboard (extra `tensorboard`)"
    ),
    verbose: bool = verbose_option(),
) -> None:
    """Train one model per (condition, seed); write metrics.json, config.yaml, checkpoint.pt, history.csv.

    Every key of the --config file(s) is used (a run's config.yaml retrains that run); a flag given
    on the command line overrides it. Several runs (conditions or seeds) also get results.md/csv/json
    in --out, as `bench` writes them. A run folder that holds a finished run of a different config is
    refused (naming the differing keys) unless --overwrite is given.
    """
    setup_logging(verbose)
    from hardymer.bench.plan import plan_train
    from hardymer.catalog.presets import resolve_method
    from hardymer.catalog.validation import check_method_name, check_out_dir
    from hardymer.evaluation.metrics import metric_names
    from hardymer.reporting.tables import aggregate, fmt
    from hardymer.training.run import load_run_dataset, run_experiment, run_member_group

    try:
        from hardymer.training.tensorboard import TensorBoardLogger, check_log_backend

        check_log_backend(log_to)
        label = method
        preset_opts: dict = {}
        if method is not None:
            check_method_name(method)
            method, preset_opts = resolve_method(method)
        cfg = build_config(
            config,
            protocol=protocol,
            method=method,
            data={"name": dataset, "root": root, "fold": fold},
            train={
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "device": device,
                "select_on": select_on,
                "batch_members": batch_members,
            },
            data_opt=data_opt,
            method_opt=method_opt,
            set_=set_,
            recipe=recipe,
            out=out,
        )
        for k, v in preset_opts.items():
            if k not in cfg.method.options:  # explicit --method-opt wins over the preset
                cfg.method.options[k] = v
        apply_missing_options(cfg, missing_rate, mask, mask_seed)
        file_values = config_file_values(config)
        values = {
            "data.name": dataset,
            "data.root": root,
            "data.fold": fold,
            "method.name": label,
            "condition": condition,
            "seed": seed,
            "protocol": protocol,
            "missing.rate": missing_rate,
            "missing.mask": mask,
            "missing.mask_seed": mask_seed,
            "out": out,
            "train.epochs": epochs,
            "train.batch_size": batch_size,
            "train.lr": lr,
            "train.device": device,
            "train.select_on": select_on,
            "train.batch_members": batch_members,
        }
        log_overrides(file_values, {k: (TRAIN_FLAGS[k], v) for k, v in values.items()}, config)
        if out is None:
            out = str(file_values.get("out") or DEFAULT_OUT)
            check_out_dir(out, "--out" if "out" not in file_values else f"out (--config {', '.join(config or [])})")
        conditions: list[str] = ["all"]  # the unified protocol: one model for every condition
        if cfg.protocol == "random":  # one model per missing rate, labelled r0.30
            conditions = rate_conditions(missing_rate if missing_rate is not None else str(cfg.missing.rate))
        if cfg.protocol == "fixed":
            conditions = list(
                parse_condition_option(
                    condition if condition is not None else str(cfg.condition),
                    "--condition" if condition is not None else "condition",
                )
            )
        seeds = parse_seeds(seed if seed is not None else str(cfg.seed))
        run_cfgs = plan_train(cfg, conditions, seeds, out, overwrite=overwrite)
        ds = load_run_dataset(cfg)
        runs = []
        single = len(run_cfgs) == 1
        live = single and sys.stderr.isatty()  # a terminal gets a bar; logs get one line per epoch
        for group in _member_groups(run_cfgs, log_to):
            if len(group) > 1:  # train.batch_members: the conditions of one seed as one network
                done = run_member_group(group, ds=ds, log_epochs=True)
            else:
                board = TensorBoardLogger(Path(group[0].out) / "tensorboard") if log_to == "tensorboard" else None
                try:
                    done = [run_experiment(group[0], ds=ds, progress=live, log_epochs=not live, on_epoch=board)]
                finally:
                    if board is not None:
                        board.close()
            for run_cfg, metrics in zip(group, done, strict=True):
                runs.append(metrics)
                runs[-1]["bench_method"] = label or str(cfg.method.name)
                t = runs[-1]["test"]
                brief = t if "mean" not in t else t["mean"]
                log.info(
                    "%s seed %d: %s",
                    runs[-1]["condition"],
                    run_cfg.seed,
                    ", ".join(f"{k}={v:.2f}" for k, v in brief.items()),
                )
    except (HardymerError, ValueError, KeyError, FileNotFoundError) as exc:
        fail(exc)
        return
    agg = aggregate(runs)
    names = metric_names(ds.task)
    table = Table(title=f"{cfg.method.name} on {ds.name}: test, selected on {cfg.train.select_on}, seeds {seeds}")
    table.add_column("condition")
    for k in names:
        table.add_column(k, justify="right")
    for key, mets in agg.items():
        table.add_row(key[1], *[fmt(*mets[k][:2]) if mets[k][2] > 1 else f"{mets[k][0]:.2f}" for k in names])
    console.print(table)
    if not single:
        from hardymer.reporting.results import write_results

        md = write_results(runs, out, ds.name, [runs[0]["bench_method"]], command=invoked_command())
        console.print(f"results in {md.parent} (results.md, results.csv, results.json)", markup=False)
    console.print(f"outputs in {out}")
