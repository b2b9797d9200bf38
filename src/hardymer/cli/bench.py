"""``hardymer bench``: a methods x conditions x seeds grid and its results table."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from hardymer.cli._common import (
    build_config,
    console,
    fail,
    log,
    parse_condition_option,
    parse_seeds,
    setup_logging,
)
from hardymer.errors import ConfigError, HardymerError


def bench(
    dataset: str = typer.Option("synthetic", help="dataset name"),
    root: Optional[str] = typer.Option(None, help="dataset folder or file"),
    methods: str = typer.Option("zero-fill,backbone,momke,hardymer", help="comma list of methods or presets (configs/methods.yaml)"),
    protocol: str = typer.Option("fixed", help="fixed or unified"),
    conditions: str = typer.Option("all", "--conditions", "--condition", help="conditions for the fixed protocol ('all', 'missing' or a comma list)"),
    seeds: str = typer.Option("0-2", "--seeds", "--seed", help="seed list or range"),
    folds: str = typer.Option("0", help="fold list (e.g. 0-4 for IEMOCAP) or names"),
    out: str = typer.Option("runs/bench", help="grid output folder"),
    report: Optional[str] = typer.Option(None, help="folder for results.{md,csv,json} (default: --out)"),
    title: Optional[str] = typer.Option(None, help="title of results.md"),
    reference: str = typer.Option("backbone", help="reference method of the paired-difference tables (skipped when not in --methods)"),
    config: Optional[List[str]] = typer.Option(None, help="YAML config file(s)"),
    recipe: Optional[str] = typer.Option(None, help="named recipe (configs/recipes/NAME.yaml) per method, merged before --config"),
    tuned: Optional[str] = typer.Option(None, help="folder of `hardymer tune` outputs: DIR/<method>/best.yaml (or DIR/<method>/<cond>/best.yaml) per method"),
    epochs: Optional[int] = typer.Option(None), select_on: Optional[str] = typer.Option(None, help="val or test (optimistic)"),
    workers: int = typer.Option(1, help="parallel runs (local process pool)"),
    threads: int = typer.Option(1, help="torch threads per run"),
    backend: str = typer.Option("local", help="local or ray"),
    ray_address: Optional[str] = typer.Option(None, help="ray.init address, e.g. auto or ray://host:10001"),
    data_opt: Optional[List[str]] = typer.Option(None), set_: Optional[List[str]] = typer.Option(None, "--set"),
    overwrite: bool = typer.Option(False, help="redo finished runs of another config instead of refusing"),
    verbose: bool = typer.Option(False, "-v"),
) -> None:
    """Run a methods × conditions × seeds (× folds) grid, resumably, and write the results table.

    Finished runs of the same config are skipped; a run folder holding a finished run of another
    config is refused (naming the differing keys) unless --overwrite is given.
    """
    setup_logging(verbose)
    import sys

    from rich.progress import Progress

    from hardymer.bench.grid import plan_grid, run_grid
    from hardymer.reporting.results import write_results

    try:
        def base_config(method_name: Optional[str] = None):
            return build_config(config, protocol=protocol, data={"name": dataset, "root": root},
                                train={"epochs": epochs, "select_on": select_on}, data_opt=data_opt, set_=set_,
                                method=method_name, recipe=recipe)

        cfg = base_config()
        method_list = [m.strip() for m in methods.split(",") if m.strip()]
        if not method_list:
            raise ConfigError(f"--methods {methods!r}: no method or preset named")
        conds = parse_condition_option(conditions, "--conditions") if protocol == "fixed" else ["all"]
        fold_list = ([str(f) for f in parse_seeds(folds, "--folds")] if folds.replace("-", "").replace(",", "").isdigit()
                     else [f.strip() for f in folds.split(",") if f.strip()])
        if not fold_list:
            raise ConfigError(f"--folds {folds!r}: no fold named")
        seed_list = parse_seeds(seeds, "--seeds")
        notes: list[str] = []
        if tuned is not None or recipe is not None:
            from hardymer.catalog.presets import resolve_method
            from hardymer.bench.tuned import apply_tuned, tuned_config_path, tuned_note

            specs = []
            for m in method_list:
                m_cfg = base_config(resolve_method(m)[0]) if recipe is not None else cfg
                for c in conds:
                    c_cfg = apply_tuned(m_cfg, tuned_config_path(tuned, m, c)) if tuned is not None else m_cfg
                    if tuned is not None and (set_ or epochs is not None):  # explicit flags win over tuned values
                        from omegaconf import OmegaConf

                        if epochs is not None:
                            c_cfg.train.epochs = epochs
                        if set_:
                            c_cfg = OmegaConf.merge(c_cfg, OmegaConf.from_dotlist(list(set_)))
                    specs += plan_grid(c_cfg, [m], [c], seed_list, fold_list, out)
            if tuned is not None:
                notes.append(tuned_note(tuned, method_list))
            if recipe is not None:
                notes.append(f"recipe `{recipe}` (configs/recipes/{recipe}.yaml)")
        else:
            specs = plan_grid(cfg, method_list, conds, seed_list, fold_list, out)
        from hardymer.training.resultdir import check_run_dir

        for s in specs:  # before any work: never overwrite a finished run of another config
            check_run_dir(s.out, s.config, overwrite=overwrite)
        with Progress(console=Console(stderr=True)) as prog:
            task = prog.add_task("runs", total=len(specs))
            from hardymer.bench.grid import is_done

            prog.update(task, advance=sum(is_done(s) for s in specs))
            runs = run_grid(specs, workers=workers, threads=threads, backend=backend, ray_address=ray_address,
                            on_done=lambda s, m: prog.update(task, advance=1))
    except (HardymerError, ValueError, KeyError, RuntimeError) as exc:
        fail(exc)
        return
    import shlex

    command = "hardymer " + shlex.join(sys.argv[1:]) if sys.argv and "hardymer" in sys.argv[0] else None
    md = write_results(runs, report or out, runs[0]["dataset"], method_list, title=title, command=command,
                       reference=reference, notes=notes)
    from hardymer.reporting.plots import write_plots

    for png in write_plots(runs, report or out, method_list, [Path(s.out) for s in specs]):
        log.info("plot %s", png)
    from hardymer.reporting.diagnostics import write_diagnostics

    diag = write_diagnostics([Path(s.out) for s in specs], report or out, [s.method for s in specs])
    if diag is not None:
        log.info("hardness diagnostics %s", diag)
    console.print(md.read_text())
    console.print(f"results in {md.parent}")
