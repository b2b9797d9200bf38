"""``hardymer list``: the catalogue of methods, presets, datasets, conditions and recipes."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from hardymer.cli._common import (
    console,
    setup_logging,
    verbose_option,
)


def list_(
    section: str | None = typer.Argument(
        None, help="methods, presets, datasets, conditions or recipes (default: an overview)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON (the whole catalogue, or the section)"),
    verbose: bool = verbose_option(),
) -> None:
    """Methods (with options, defaults and presets), datasets (with options), conditions and recipes."""
    setup_logging(verbose)
    import json

    from hardymer.catalog.listing import catalog

    cat = catalog(section)
    if as_json:
        typer.echo(json.dumps(cat, indent=2))
        return
    if section is None:
        _overview(cat)
        return
    _SECTION_PRINTERS[section](cat[section])


def _opts(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items()) or "–"


def _overview(cat: dict) -> None:
    t = Table(
        title="hardymer list — details: hardymer list methods|presets|datasets|conditions|recipes [--json]",
        show_header=False,
    )
    t.add_column("section", style="bold")
    t.add_column("entries")
    t.add_row("methods", ", ".join(m["name"] for m in cat["methods"]))
    t.add_row("presets", ", ".join(p["name"] for p in cat["presets"] if p["name"] != p["method"] or p["options"]))
    t.add_row("datasets", ", ".join(d["name"] for d in cat["datasets"]))
    t.add_row("conditions", ", ".join(c["name"] for c in cat["conditions"]))
    t.add_row("recipes", ", ".join(r["name"] for r in cat["recipes"]))
    console.print(t)


def _options_table(header: str, options: dict) -> Table:
    """Two columns: option name and its default."""
    t = Table()
    t.add_column(header)
    t.add_column("default", justify="right")
    for k, v in options.items():
        t.add_row(k, str(v))
    return t


def _print_methods(rows: list) -> None:
    for m in rows:
        console.print(f"[bold]{m['name']}[/bold] — {escape(m['paper'])} (protocols: {', '.join(m['protocols'])})")
        console.print(_options_table("option (--method-opt)", m["options"]))
        if m["presets"]:
            console.print(f"  presets: {', '.join(m['presets'])}", markup=False)


def _print_presets(rows: list) -> None:
    t = Table("preset (--method)", "method", "options it sets")
    for p in rows:
        t.add_row(p["name"], p["method"], _opts(p["options"]))
    console.print(t)


def _print_datasets(rows: list) -> None:
    for d in rows:
        console.print(f"[bold]{d['name']}[/bold]" + (" (any further key is passed on)" if d["open_ended"] else ""))
        console.print(_options_table("option (--data-opt)", d["options"]))


def _print_conditions(rows: list) -> None:
    t = Table("condition", "available", "missing")
    for c in rows:
        if "means" in c:
            t.add_row(c["name"], ", ".join(c["means"]), "")
        else:
            t.add_row(c["name"], ", ".join(c["available"]), ", ".join(c["missing"]) or "–")
    console.print(t)


def _print_recipes(rows: list) -> None:
    for r in rows:
        console.print(f"[bold]{r['name']}[/bold] (--recipe {r['name']}): {escape(r['description'])}")
        t = Table("applies to", "settings")
        t.add_row("train", _opts(r["train"]))
        for m, o in r["methods"].items():
            t.add_row(m, _opts(o))
        console.print(t)


_SECTION_PRINTERS = {
    "methods": _print_methods,
    "presets": _print_presets,
    "datasets": _print_datasets,
    "conditions": _print_conditions,
    "recipes": _print_recipes,
}
