"""The ``hardymer`` command line: train, evaluate, bench, tune, predict, extract, data info / fetch, list."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Inspect and download datasets.")
app.add_typer(data_app, name="data")

# command modules register themselves on ``app`` / ``data_app``
from hardymer.cli import bench, data, predict, train, tune  # noqa: E402,F401
from hardymer.cli._common import parse_seeds  # noqa: E402

__all__ = ["app", "data_app", "main", "parse_seeds"]


def main() -> None:  # pragma: no cover
    app()
