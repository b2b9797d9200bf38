"""``hardymer compare``: bench results folders side by side, with paired differences."""

from __future__ import annotations

from typing import Any

import typer
from rich import box
from rich.table import Table

from hardymer.cli._common import console, setup_logging, verbose_option


def compare(
    dirs: list[str] = typer.Argument(..., help="folders holding a results.json (bench --out or --report folders)"),
    metric: str | None = typer.Option(
        None, help="metric to show (default: acc2 for regression, wa for classification)"
    ),
    reference: str | None = typer.Option(
        None,
        help="METHOD or METHOD@FOLDER the differences are taken against "
        "(default: backbone of the first folder, when it has one)",
    ),
    label: str | None = typer.Option(None, help="comma list of row labels, one per folder (default: folder names)"),
    out: str | None = typer.Option(None, help="also write the comparison to FILE.md, FILE.csv or FILE.json"),
    allow_mixed: bool = typer.Option(
        False, help="compare folders of different datasets, folds, protocols or selection"
    ),
    verbose: bool = verbose_option(),
) -> None:
    """Compare bench results folders: one metric per condition and mean6, rows method@folder, and
    per-seed paired differences (shared seeds only) against a reference row."""
    setup_logging(verbose)
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
    cmp = compare_results(
        [load_bench_results(d, lb) for d, lb in zip(dirs, labels)],
        metric=metric,
        reference=reference,
        allow_mixed=allow_mixed,
    )
    dg = metric_digits(cmp.metric)
    values = {r.name: [value_cell(r.cells[c], dg) if c in r.cells else "–" for c in cmp.columns] for r in cmp.rows}
    diffs = {
        name: [diff_cell(cols[c], dg) if c in cols else "–" for c in cmp.columns] for name, cols in cmp.paired.items()
    }
    label_w = max(len(n) for n in values)

    def fits(cells: dict) -> bool:
        width = max((len(x) for row in cells.values() for x in row), default=0)
        return console.width >= label_w + 4 + len(cmp.columns) * (width + 3)

    full_values, full_diffs = fits(values), fits(diffs)
    if not full_values:  # a narrow terminal: means only, so that the table stays readable
        values = {r.name: [f"{r.cells[c][0]:.{dg}f}" if c in r.cells else "–" for c in cmp.columns] for r in cmp.rows}
    if not full_diffs:
        diffs = {
            name: [
                (f"{cols[c]['mean']:+.{dg}f}" + ("*" if cols[c]["excludes_zero"] else "")) if c in cols else "–"
                for c in cmp.columns
            ]
            for name, cols in cmp.paired.items()
        }
    compact: dict[str, Any] = {"box": box.SIMPLE_HEAD, "pad_edge": False, "collapse_padding": True}
    lower = " (lower is better)" if cmp.lower_is_better else ""
    t = Table(
        title=f"{cmp.metric}{lower}, test: mean{' ± std' if full_values else ''} over seeds",
        **({} if full_values else compact),
    )
    t.add_column("row", overflow="fold")
    for c in cmp.columns:
        t.add_column(c, justify="right", no_wrap=True)
    for name, cells in values.items():
        t.add_row(name, *cells)
    console.print(t)
    if cmp.paired:
        interval = ", 95 % t interval" if full_diffs else ""
        d = Table(
            title=f"Δ {cmp.metric} vs {cmp.reference} (paired per seed{interval}, * = the interval excludes 0)",
            **({} if full_diffs else compact),
        )
        d.add_column(f"row − {cmp.reference}" if full_diffs else "row", overflow="fold")
        for c in cmp.columns:
            d.add_column(c, justify="right", no_wrap=True)
        for name, cells in diffs.items():
            d.add_row(name, *cells)
        console.print(d)
        console.print(comparison_note(cmp), markup=False)
    if not (full_values and (full_diffs or not cmp.paired)):
        console.print(
            "note: the terminal is too narrow for every std and interval: widen it, or write them with --out FILE.md",
            markup=False,
        )
    for n in cmp.notes:
        console.print(f"note: {n}", markup=False)
    if out is not None:
        console.print(f"comparison written to {write_comparison(cmp, out)}", markup=False)
