"""``hardymer evaluate``: a saved checkpoint on a split of its dataset under given condition(s)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from hardymer.cli._common import (
    console,
    fail,
    mask_option,
    mask_seed_option,
    missing_rate_option,
    parse_condition_option,
    setup_logging,
    verbose_option,
)
from hardymer.errors import ConfigError, HardymerError


def evaluate(
    checkpoint: str = typer.Option(..., help="checkpoint.pt written by `hardymer train`, or its run folder"),
    condition: str = typer.Option("atv", help="condition(s) to evaluate, comma list or 'all'"),
    protocol: str = typer.Option(
        "fixed",
        help="fixed: evaluate under --condition; random: under the stored masks of --missing-rate "
        "(the masks random-protocol runs are evaluated on)",
    ),
    missing_rate: str | None = missing_rate_option("default: the checkpoint's own"),
    mask: str | None = mask_option("the checkpoint's, else independent"),
    mask_seed: int | None = mask_seed_option("the checkpoint's, else 0"),
    split: str = typer.Option("test", help="train, val or test"),
    root: str | None = typer.Option(
        None, help="dataset folder (default: the one stored in the checkpoint, found from any folder)"
    ),
    out: str | None = typer.Option(None, help="also write the metrics to FILE.json or FILE.csv"),
    as_json: bool = typer.Option(False, "--json", help="print the metrics as JSON (for scripts) instead of a table"),
    strict: bool = typer.Option(
        False, help="refuse conditions a fixed-protocol model was not trained on (default: warn)"
    ),
    verbose: bool = verbose_option(),
) -> None:
    """Evaluate a saved checkpoint on a split of its dataset under given condition(s)."""
    setup_logging(verbose)
    from hardymer.bench.plan import parse_rate_list
    from hardymer.catalog.validation import check_missing
    from hardymer.inference.evaluate import evaluate_checkpoint
    from hardymer.reporting.compare import check_out_file
    from hardymer.reporting.evaluation import EVALUATION_SUFFIXES, evaluation_rows, format_metric, write_evaluation

    try:
        if out is not None:
            check_out_file(out, EVALUATION_SUFFIXES)
        if protocol not in ("fixed", "random"):
            raise ConfigError(f"--protocol {protocol}: use fixed (named conditions) or random (missing rates)")
        if protocol == "fixed":
            if missing_rate is not None or mask is not None or mask_seed is not None:
                raise ConfigError("--missing-rate / --mask / --mask-seed: only with --protocol random")
            res = evaluate_checkpoint(
                checkpoint, parse_condition_option(condition), split=split, root=root, strict=strict
            )
        else:
            check_missing({"mask": mask or "independent", "mask_seed": 0 if mask_seed is None else mask_seed})
            rates = parse_rate_list(missing_rate, "--missing-rate") if missing_rate is not None else []
            res = evaluate_checkpoint(
                checkpoint, [], split=split, root=root, rates=rates, mask=mask, mask_seed=mask_seed, strict=strict
            )
        if out is not None:
            write_evaluation(res, out, {"checkpoint": checkpoint, "split": split})
    except (HardymerError, ValueError, KeyError) as exc:
        fail(exc)
        return
    if as_json:
        console.print_json(json.dumps(res))
        return
    metrics, rows = evaluation_rows(res)
    table = Table(title=f"{checkpoint}: {split} split")
    table.add_column("condition")
    for k in metrics:
        table.add_column(k, justify="right")
    for cond, mets in rows:
        table.add_row(cond, *[format_metric(k, mets[k]) if k in mets else "–" for k in metrics])
    console.print(table)
    if out is not None:
        console.print(f"metrics written to {out}", markup=False)
