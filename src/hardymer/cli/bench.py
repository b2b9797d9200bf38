"""``hardymer bench``: a methods x conditions x seeds grid and its results table."""

from __future__ import annotations

import typer
from rich.console import Console

from hardymer.cli._common import (
    apply_missing_options,
    build_config,
    console,
    fail,
    invoked_command,
    log,
    mask_option,
    mask_seed_option,
    missing_rate_option,
    parse_kv,
    setup_logging,
    verbose_option,
)
from hardymer.errors import HardymerError


def bench(
    dataset: str = typer.Option("synthetic", help="dataset name (see `hardymer list datasets`)"),
    root: str | None = typer.Option(None, help="dataset folder or file"),
    methods: str = typer.Option(
        "zero-fill,backbone,momke,hardymer",
        "--methods",
        "--method",
        help="comma list of methods or presets (configs/methods.yaml)",
    ),
    protocol: str = typer.Option(
        "fixed", help="fixed (one model per condition), unified, or random (one model per missing rate)"
    ),
    missing_rates: str | None = missing_rate_option("one model per rate, every rate a column of the report"),
    mask: str | None = mask_option(),
    mask_seed: int | None = mask_seed_option(),
    conditions: str = typer.Option(
        "all",
        "--conditions",
        "--condition",
        help="conditions for the fixed protocol ('all', 'missing' or a comma list)",
    ),
    seeds: str = typer.Option("0-2", "--seeds", "--seed", help="seed, list (0,1,2) or range (0-4)"),
    folds: str = typer.Option("0", help="fold list (e.g. 0-4 for IEMOCAP) or names"),
    out: str = typer.Option("runs/bench", help="grid output folder"),
    report: str | None = typer.Option(None, help="folder for results.{md,csv,json} (default: --out)"),
    title: str | None = typer.Option(None, help="title of results.md"),
    reference: str = typer.Option(
        "backbone", help="reference method of the paired-difference tables (skipped when not in --methods)"
    ),
    config: list[str] | None = typer.Option(None, help="YAML config file(s) merged over the defaults"),
    recipe: str | None = typer.Option(
        None, help="named recipe (configs/recipes/NAME.yaml) per method, merged before --config"
    ),
    tuned: str | None = typer.Option(
        None,
        help="folder of `hardymer tune` outputs: DIR/<method>/best.yaml (or DIR/<method>/<cond>/best.yaml) per method",
    ),
    epochs: int | None = typer.Option(None, help="training epochs (default: from --config, else 20)"),
    batch_size: int | None = typer.Option(None, help="groups (dialogues / videos) per batch"),
    lr: float | None = typer.Option(None, help="learning rate"),
    device: str | None = typer.Option(None, help="auto, cpu, cuda or cuda:N"),
    select_on: str | None = typer.Option(None, help="val (default) or test (optimistic)"),
    batch_members: int | None = typer.Option(
        None,
        help="train up to N backbone/hardymer runs (conditions, then seeds) as one model-batched network "
        "(train.batch_members; 7 = the conditions of a seed; see the README on speed)",
    ),
    workers: int = typer.Option(1, help="parallel runs (local process pool), at least 1"),
    threads: int = typer.Option(1, help="torch threads per run"),
    backend: str = typer.Option("local", help="local or ray"),
    ray_address: str | None = typer.Option(None, help="ray.init address, e.g. auto or ray://host:10001"),
    data_opt: list[str] | None = typer.Option(None, help="dataset option key=value"),
    method_opt: list[str] | None = typer.Option(None, help="method option key=value (for the methods that have it)"),
    set_: list[str] | None = typer.Option(None, "--set", help="any config key, e.g. train.patience=5"),
    overwrite: bool = typer.Option(False, help="redo finished runs of another config instead of refusing"),
    verbose: bool = verbose_option(),
) -> None:
    """Run a methods × conditions × seeds (× folds) grid, resumably, and write the results table.

    Finished runs of the same config are skipped; a run folder holding a finished run of another
    config is refused (naming the differing keys) unless --overwrite is given.
    """
    setup_logging(verbose)
    from rich.progress import Progress

    from hardymer.bench.grid import is_done, run_grid
    from hardymer.bench.plan import BenchRequest, plan_bench
    from hardymer.reporting.diagnostics import write_diagnostics
    from hardymer.reporting.plots import write_plots
    from hardymer.reporting.results import write_results

    train = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "device": device,
        "select_on": select_on,
        "batch_members": batch_members,
    }
    try:

        def base_config(method_name: str | None = None):
            cfg = build_config(
                config,
                protocol=protocol,
                data={"name": dataset, "root": root},
                train=train,
                data_opt=data_opt,
                set_=set_,
                method=method_name,
                recipe=recipe,
            )
            if protocol == "random":
                apply_missing_options(cfg, None, mask, mask_seed)
            return cfg

        request = BenchRequest(
            methods=methods,
            protocol=protocol,
            conditions=conditions,
            missing_rates=missing_rates,
            mask=mask,
            mask_seed=mask_seed,
            seeds=seeds,
            folds=folds,
            out=out,
            recipe=recipe,
            tuned=tuned,
            train=train,
            method_options=parse_kv(method_opt, "--method-opt"),
            set_=tuple(set_ or ()),
            workers=workers,
            threads=threads,
            backend=backend,
            overwrite=overwrite,
        )
        plan = plan_bench(request, base_config)
        with Progress(console=Console(stderr=True)) as prog:
            task = prog.add_task("runs", total=len(plan.specs))
            prog.update(task, advance=sum(is_done(s) for s in plan.specs))
            runs = run_grid(
                plan.specs,
                workers=workers,
                threads=threads,
                backend=backend,
                ray_address=ray_address,
                on_done=lambda s, m: prog.update(task, advance=1),
            )
    except (HardymerError, ValueError, KeyError, RuntimeError) as exc:
        fail(exc)
        return
    dest = report or out
    md = write_results(
        runs,
        dest,
        runs[0]["dataset"],
        plan.methods,
        title=title,
        command=invoked_command(),
        reference=reference,
        notes=plan.notes,
    )
    for png in write_plots(runs, dest, plan.methods, plan.run_dirs, reference=reference):
        log.info("plot %s", png)
    diag = write_diagnostics(plan.run_dirs, dest, [s.method for s in plan.specs])
    if diag is not None:
        log.info("hardness diagnostics %s", diag)
    console.print(md.read_text())
    console.print(f"results in {md.parent}")
