"""hardymer: multimodal emotion and sentiment recognition with missing modalities.

Commands: train, evaluate, bench, compare, tune, predict, extract, data info / fetch, list, info.
Start with `hardymer list` (methods, presets, datasets, conditions, recipes) and `hardymer info` (versions, devices).
"""

from __future__ import annotations

import typer

from hardymer.cli._common import HardymerTyper

app = HardymerTyper(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)
data_app = HardymerTyper(no_args_is_help=True, help="Inspect and download datasets.", pretty_exceptions_enable=False)
app.add_typer(data_app, name="data")


def _print_version(value: bool) -> None:
    if value:
        from hardymer import __version__

        typer.echo(f"hardymer {__version__}")
        raise typer.Exit()


@app.callback()
def _main(verbose: bool = typer.Option(False, "-v", "--verbose", help="tracebacks with errors; debug logging"),
          version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Global options go before the command, e.g. hardymer -v train ..."""
    from hardymer._memory import return_freed_memory

    return_freed_memory()  # only with HARDYMER_MMAP_THRESHOLD set (fewer resident bytes, more CPU)

# command modules register themselves on ``app`` / ``data_app``
from hardymer.cli import bench, compare, data, info, predict, train, tune  # noqa: E402,F401
from hardymer.cli._common import parse_seeds  # noqa: E402

__all__ = ["app", "data_app", "main", "parse_seeds"]


def main() -> None:  # pragma: no cover
    app()
