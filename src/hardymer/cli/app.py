"""hardymer: multimodal emotion and sentiment recognition with missing modalities.

Commands: train, evaluate, bench, compare, tune, predict, extract, data info / fetch, cache info / clean, list, info.
Start with `hardymer list` (methods, presets, datasets, conditions, recipes) and `hardymer info` (versions, devices).
"""

from __future__ import annotations

import typer

from hardymer.cli._common import HardymerTyper
from hardymer.cli.bench import bench
from hardymer.cli.cache import cache_clean, cache_info
from hardymer.cli.compare import compare
from hardymer.cli.data import data_fetch, data_info
from hardymer.cli.evaluate import evaluate
from hardymer.cli.extract import extract_cmd
from hardymer.cli.info import info
from hardymer.cli.list import list_
from hardymer.cli.predict import predict
from hardymer.cli.train import train
from hardymer.cli.tune import tune

app = HardymerTyper(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)
data_app = HardymerTyper(no_args_is_help=True, help="Inspect and download datasets.", pretty_exceptions_enable=False)
app.add_typer(data_app, name="data")
cache_app = HardymerTyper(
    no_args_is_help=True,
    help="See and clean the on-disk cache of teachers, stage-1 states and hardness tables.",
    pretty_exceptions_enable=False,
)
app.add_typer(cache_app, name="cache")


def _print_version(value: bool) -> None:
    if value:
        from hardymer import __version__

        typer.echo(f"hardymer {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "-v", "--verbose", help="tracebacks with errors; debug logging"),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Global options go before the command, e.g. hardymer -v train ..."""
    from hardymer._memory import return_freed_memory

    return_freed_memory()  # only with HARDYMER_MMAP_THRESHOLD set (fewer resident bytes, more CPU)


# one module per command; the command names are given here, the functions are plain typer commands
app.command("train")(train)
app.command("evaluate")(evaluate)
app.command("bench")(bench)
app.command("compare")(compare)
app.command("tune")(tune)
app.command("predict")(predict)
app.command("extract")(extract_cmd)
app.command("list")(list_)
app.command("info")(info)
data_app.command("info")(data_info)
data_app.command("fetch")(data_fetch)
cache_app.command("info")(cache_info)
cache_app.command("clean")(cache_clean)


def main() -> None:  # pragma: no cover
    app()
