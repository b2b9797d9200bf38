"""``hardymer cache info|clean``: what the on-disk cache holds (teachers, stage-1 states, hardness
tables), what reuses it, and removing it by kind or age."""

from __future__ import annotations

import json
import time

import typer
from rich.table import Table

from hardymer.cli._common import console, setup_logging, verbose_option

CACHE_DIR_HELP = "the cache folder (a run's cache_dir; default runs/.cache)"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _age(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.1f} d" if days >= 1 else f"{seconds / 3600:.1f} h"


def cache_info(
    cache_dir: str = typer.Option("runs/.cache", "--cache-dir", help=CACHE_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    verbose: bool = verbose_option(),
) -> None:
    """Files, size and age per kind of cached artefact, and what reuses each kind."""
    setup_logging(verbose)
    from hardymer._cache import CACHE_KINDS, cache_summary

    summary = cache_summary(cache_dir)
    if as_json:
        console.print_json(json.dumps({"cache_dir": cache_dir, "kinds": summary}))
        return
    now = time.time()
    t = Table(title=f"cache {cache_dir}")
    for col in ("kind", "files", "size", "newest", "oldest", "reused by"):
        t.add_column(col, justify="right" if col in ("files", "size") else "left")
    for kind, what in {**CACHE_KINDS, "partial": "nothing: writes left unfinished by an interrupted process"}.items():
        s = summary.get(kind)
        if s is None:
            continue
        t.add_row(kind, str(s["files"]), _size(s["bytes"]), _age(now - s["newest"]), _age(now - s["oldest"]), what)
    console.print(t)
    total = sum(s["bytes"] for s in summary.values())
    console.print(
        f"{sum(s['files'] for s in summary.values())} files, {_size(total)}; "
        "`hardymer cache clean` removes them (a later run recomputes what it needs)",
        markup=False,
    )


def cache_clean(
    cache_dir: str = typer.Option("runs/.cache", "--cache-dir", help=CACHE_DIR_HELP),
    kind: list[str] | None = typer.Option(
        None, "--kind", help="only this kind (repeatable): teacher, stage1, hardness or partial"
    ),
    older_than: float | None = typer.Option(
        None, "--older-than", metavar="DAYS", help="only files not modified for this many days"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="list what would be removed, remove nothing"),
    verbose: bool = verbose_option(),
) -> None:
    """Remove cached artefacts (all, or by kind and age); other files in the folder are never touched."""
    setup_logging(verbose)
    from hardymer._cache import clean_cache
    from hardymer.errors import ConfigError

    try:
        gone = clean_cache(cache_dir, kinds=kind or None, older_than_days=older_than, dry_run=dry_run)
    except ValueError as exc:
        raise ConfigError(f"{'--kind' if 'kind' in str(exc) else '--older-than'}: {exc}") from None
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb} {len(gone)} files, {_size(sum(e.bytes for e in gone))} from {cache_dir}", markup=False)
