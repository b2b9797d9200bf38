"""``hardymer compare``: bench results folders side by side, with paired differences."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from hardymer.cli import app
from hardymer.cli._common import console, setup_logging


@app.command()
def compare(
    dirs: List[str] = typer.Argument(..., help="folders holding a results.json (bench --out or --report folders)"),
    metric: Optional[str] = typer.Option(None, help="metric to show (default: acc2 for regression, wa for classification)"),
    reference: Optional[str] = typer.Option(None, help="METHOD or METHOD@FOLDER the differences are taken against "
                                                       "(default: backbone of the first folder, when it has one)"),
    label: Optional[str] = typer.Option(None, help="comma list of row labels, one per folder (default: folder names)"),
    out: Optional[str] = typer.Option(None, help="also write the comparison to FILE.md, FILE.csv or FILE.json"),
    allow_mixed: bool = typer.Option(False, help="compare folders of different datasets, folds, protocols or selection"),
) -> None:
    """Compare bench results folders: one metric per condition and mean6, rows method@folder, and
    per-seed paired differences (shared seeds only) against a reference row."""
    setup_logging(False)
    from hardymer.errors import ConfigError
    from hardymer.reporting.compare import (
        check_out_file,
        compare_results,
        comparison_note,
        diff_cell,
        load_bench_results,
        metric_digits,
        value_cell,
        write_comparison,
    )

    labels = [x.strip() for x in label.split(",")] if label is not None else [None] * len(dirs)
    if len(labels) != len(dirs):
        raise ConfigError(f"--label {label}: {len(labels)} labels for {len(dirs)} folders")
    if out is not None:
        check_out_file(out)
    cmp = compare_results([load_bench_results(d, lb) for d, lb in zip(dirs, labels)], metric=metric,
                          reference=reference, allow_mixed=allow_mixed)
    dg = metric_digits(cmp.metric)
    lower = " (lower is better)" if cmp.lower_is_better else ""
    t = Table(title=f"{cmp.metric}{lower}, test: mean ± std over seeds")
    t.add_column("row")
    for c in cmp.columns:
        t.add_column(c, justify="right")
    for r in cmp.rows:
        t.add_row(r.name, *[value_cell(r.cells[c], dg) if c in r.cells else "–" for c in cmp.columns])
    console.print(t)
    if cmp.paired:
        d = Table(title=f"Δ {cmp.metric} vs {cmp.reference} (paired per seed, 95 % t interval, * excludes 0)")
        d.add_column(f"row − {cmp.reference}")
        for c in cmp.columns:
            d.add_column(c, justify="right")
        for name, cols in cmp.paired.items():
            d.add_row(name, *[diff_cell(cols[c], dg) if c in cols else "–" for c in cmp.columns])
        console.print(d)
        console.print(comparison_note(cmp), markup=False)
    for n in cmp.notes:
        console.print(f"note: {n}", markup=False)
    if out is not None:
        console.print(f"comparison written to {write_comparison(cmp, out)}", markup=False)
