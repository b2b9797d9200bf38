"""``hardymer tune``: equal-budget hyper-parameter search on validation (Optuna)."""

from __future__ import annotations

import typer
from rich.table import Table

from hardymer.cli._common import build_config, console, fail, parse_kv, parse_seeds, setup_logging, verbose_option
from hardymer.errors import HardymerError


def _fixed_keys(set_: list[str] | None, method_opt: list[str] | None, preset_opts: dict) -> set[str]:
    """Search-space keys the user pinned (``--set train.x=..``/``method.options.x=..``, ``--method-opt``, preset)."""
    keys = set()
    for it in set_ or []:
        k = it.split("=", 1)[0].strip()
        if k.startswith("train."):
            keys.add(k)
        elif k.startswith("method.options."):
            keys.add("method." + k[len("method.options.") :])
    keys |= {f"method.{k}" for k in parse_kv(method_opt, "--method-opt")}
    keys |= {f"method.{k}" for k in preset_opts}
    return keys


def tune(
    dataset: str = typer.Option("synthetic", help="dataset name (see `hardymer list datasets`)"),
    root: str | None = typer.Option(None, help="dataset folder or file"),
    method: str = typer.Option(
        ..., "--method", "--methods", help="method or preset name (presets use their base method's space)"
    ),
    protocol: str = typer.Option("fixed", help="fixed or unified"),
    conditions: str = typer.Option(
        "missing",
        "--conditions",
        "--condition",
        help="fixed protocol: conditions averaged ('missing', 'all' or a comma list)",
    ),
    trials: int = typer.Option(12, help="trial budget (finished trials of a resumed study count)"),
    seeds: str = typer.Option("0", "--seeds", "--seed", help="seeds averaged per trial (list or range)"),
    out: str = typer.Option(
        "runs/tune", help="output folder (study.db, best.yaml, trials.csv, history.png, tune.json)"
    ),
    per_condition: bool = typer.Option(False, help="fixed protocol: one study per condition (OUT/<cond>/)"),
    config: list[str] | None = typer.Option(None, help="YAML config file(s) merged over the defaults"),
    recipe: str | None = typer.Option(None, help="named recipe merged before --config (e.g. release)"),
    space: str | None = typer.Option(None, help="search-space YAML (default: the packaged search_spaces.yaml)"),
    timeout_min: float | None = typer.Option(None, help="stop starting trials after this many minutes"),
    workers: int = typer.Option(1, help=">1: the runs of a trial in a local process pool (no pruning)"),
    backend: str = typer.Option("local", help="local or ray (runs of a trial through the bench grid)"),
    ray_address: str | None = typer.Option(None, help="ray.init address"),
    sampler_seed: int = typer.Option(0, help="seed of the TPE sampler (recorded in tune.json)"),
    data_opt: list[str] | None = typer.Option(None, help="dataset option key=value"),
    method_opt: list[str] | None = typer.Option(None, help="method option key=value (held fixed)"),
    set_: list[str] | None = typer.Option(
        None, "--set", help="any config key; searched keys given here are held fixed"
    ),
    verbose: bool = verbose_option(),
) -> None:
    """Tune a method on validation with the same trial budget for every method; write best.yaml."""
    setup_logging(verbose)
    from hardymer.bench.plan import check_parallelism, parse_condition_list
    from hardymer.catalog.presets import resolve_method
    from hardymer.catalog.validation import check_method_name
    from hardymer.tuning.tuner import TuneSettings
    from hardymer.tuning.tuner import tune as run_tune

    try:
        check_method_name(method)
        check_parallelism(workers, 1, backend)
        base_method, preset_opts = resolve_method(method)
        cfg = build_config(
            config,
            protocol=protocol,
            method=base_method,
            data={"name": dataset, "root": root},
            train={},
            data_opt=data_opt,
            method_opt=method_opt,
            set_=set_,
            recipe=recipe,
        )
        conds = parse_condition_list(conditions, protocol)
        settings = TuneSettings(
            method=method,
            protocol=protocol,
            conditions=conds,
            trials=trials,
            seeds=parse_seeds(seeds, "--seeds"),
            out=out,
            per_condition=per_condition,
            space_file=space,
            timeout_min=timeout_min,
            workers=workers,
            backend=backend,
            ray_address=ray_address,
            sampler_seed=sampler_seed,
            fixed=_fixed_keys(set_, method_opt, preset_opts),
        )
        info = run_tune(cfg, settings)
    except (HardymerError, ValueError, KeyError, FileNotFoundError) as exc:
        fail(exc)
        return
    studies = info["studies"] if info.get("per_condition") else {",".join(conds): info}
    table = Table(
        title=f"tune {method} on {dataset} ({protocol}): validation {info['metric']}, "
        f"budget {trials} trials x seeds {settings.seeds}, TPE seed {sampler_seed}"
    )
    for col in ("conditions", "finished", "complete", "pruned", "failed", "best", "best trial"):
        table.add_column(col)
    for name, s in studies.items():
        st = s["states"]
        best = "-" if s["best_value"] is None else f"{s['best_value']:.4f}"
        table.add_row(
            name,
            str(s["trials_finished"]),
            str(st["COMPLETE"]),
            str(st["PRUNED"]),
            str(st["FAIL"]),
            best,
            str(s["best_trial"]),
        )
    console.print(table)
    console.print(f"outputs in {out}")
