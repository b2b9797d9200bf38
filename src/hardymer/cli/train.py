"""``hardymer train``: one model per (condition, seed), with its run folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from hardymer.cli._common import (
    build_config,
    console,
    fail,
    log,
    parse_condition_option,
    parse_seeds,
    setup_logging,
)
from hardymer.errors import HardymerError


def train(
    dataset: Optional[str] = typer.Option(None, help="dataset name (see `hardymer list`; default: from --config, else synthetic)"),
    root: Optional[str] = typer.Option(None, help="dataset folder or file"),
    method: Optional[str] = typer.Option(None, help="method or preset name, e.g. hardymer-no-dh (default: from --config, else zero-fill)"),
    condition: str = typer.Option("atv", "--condition", "--conditions", help="available modalities: a,t,v,at,av,tv,atv, a comma list, 'all' or 'missing'"),
    seed: str = typer.Option("0", "--seed", "--seeds", help="seed, list (0,1,2) or range (0-4)"),
    out: str = typer.Option("runs/train", help="output folder"),
    protocol: str = typer.Option("fixed", help="fixed (one model per condition) or unified"),
    config: Optional[List[str]] = typer.Option(None, help="YAML config file(s) merged over the defaults"),
    recipe: Optional[str] = typer.Option(None, help="named recipe (configs/recipes/NAME.yaml, e.g. release), merged before --config"),
    epochs: Optional[int] = typer.Option(None), batch_size: Optional[int] = typer.Option(None),
    lr: Optional[float] = typer.Option(None), fold: Optional[str] = typer.Option(None),
    device: Optional[str] = typer.Option(None), select_on: Optional[str] = typer.Option(None, help="val (default) or test (optimistic)"),
    data_opt: Optional[List[str]] = typer.Option(None, help="dataset option key=value"),
    method_opt: Optional[List[str]] = typer.Option(None, help="method option key=value"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="any config key, e.g. train.patience=5"),
    overwrite: bool = typer.Option(False, help="replace a finished run of another config in --out"),
    log_to: str = typer.Option("none", "--log", help="none, or tensorboard: per-epoch scalars in <run>/tensorboard (extra `tensorboard`)"),
    verbose: bool = typer.Option(False, "-v"),
) -> None:
    """Train one model per (condition, seed); write metrics.json, config.yaml, checkpoint.pt, history.csv.

    Several runs (conditions or seeds) also get results.md/csv/json in --out, as `bench` writes them.
    A run folder that holds a finished run of a different config is refused (naming the differing
    keys) unless --overwrite is given.
    """
    setup_logging(verbose)
    from hardymer.evaluation.metrics import metric_names
    from hardymer.reporting.tables import aggregate, fmt
    from hardymer.catalog.presets import resolve_method
    from hardymer.training.resultdir import check_run_dir
    from hardymer.training.run import load_run_dataset, run_experiment

    try:
        from hardymer.training.tensorboard import TensorBoardLogger, check_log_backend

        check_log_backend(log_to)
        label = method
        preset_opts: dict = {}
        if method is not None:
            method, preset_opts = resolve_method(method)
        cfg = build_config(config, protocol=protocol, method=method,
                            data={"name": dataset, "root": root, "fold": fold},
                            train={"epochs": epochs, "batch_size": batch_size, "lr": lr, "device": device,
                                   "select_on": select_on},
                            data_opt=data_opt, method_opt=method_opt, set_=set_, recipe=recipe, out=out)
        for k, v in preset_opts.items():
            if k not in cfg.method.options:  # explicit --method-opt wins over the preset
                cfg.method.options[k] = v
        conditions = parse_condition_option(condition) if protocol == "fixed" else ["all"]
        seeds = parse_seeds(seed)
        ds = load_run_dataset(cfg)
        runs = []
        single = len(conditions) == 1 and len(seeds) == 1
        live = single and sys.stderr.isatty()  # a terminal gets a bar; logs get one line per epoch
        for c in conditions:
            for s in seeds:
                run_cfg = cfg.copy()
                run_cfg.condition = c if c != "all" else "atv"
                run_cfg.seed = s
                run_cfg.out = out if single else str(Path(out) / c / f"seed{s}")
                check_run_dir(run_cfg.out, run_cfg, overwrite=overwrite)
                board = TensorBoardLogger(Path(run_cfg.out) / "tensorboard") if log_to == "tensorboard" else None
                try:
                    runs.append(run_experiment(run_cfg, ds=ds, progress=live, log_epochs=not live, on_epoch=board))
                finally:
                    if board is not None:
                        board.close()
                runs[-1]["bench_method"] = label or str(cfg.method.name)
                t = runs[-1]["test"]
                brief = t if "mean" not in t else t["mean"]
                log.info("%s seed %d: %s", c, s, ", ".join(f"{k}={v:.2f}" for k, v in brief.items()))
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
        import shlex

        from hardymer.reporting.results import write_results

        command = "hardymer " + shlex.join(sys.argv[1:]) if sys.argv and "hardymer" in sys.argv[0] else None
        md = write_results(runs, out, ds.name, [runs[0]["bench_method"]], command=command)
        console.print(f"results in {md.parent} (results.md, results.csv, results.json)", markup=False)
    console.print(f"outputs in {out}")
