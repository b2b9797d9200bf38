"""``hardymer info``: versions, compute devices and threads."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from hardymer.cli._common import console, setup_logging, verbose_option


def info(
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"), verbose: bool = verbose_option()
) -> None:
    """Show library versions, the compute devices torch sees and the thread count."""
    setup_logging(verbose)
    from hardymer import __version__
    from hardymer._env import devices, environment

    env = {"hardymer": __version__, **environment()}
    devs = devices()
    if as_json:
        console.print_json(json.dumps({"environment": env, "devices": devs}))
        return
    t = Table(title="environment", show_header=False)
    for k, v in env.items():
        t.add_row(k, str(v))
    console.print(t)
    d = Table(title="devices (--device auto picks cuda when listed, else cpu)")
    for col in ("device", "name", "threads / memory"):
        d.add_column(col)
    for dev in devs:
        extra = f"{dev['threads']} threads" if "threads" in dev else f"{dev.get('memory_gib')} GiB"
        d.add_row(dev["device"], str(dev["name"]), extra)
    console.print(d)
