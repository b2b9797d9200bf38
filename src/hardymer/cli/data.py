"""``hardymer data info|fetch``: inspect and download datasets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hardymer.cli._common import (
    console,
    fail,
    parse_kv,
    setup_logging,
    verbose_option,
)
from hardymer.errors import HardymerError


def data_info(
    name: str = typer.Argument(..., help="dataset name (see `hardymer list datasets`)"),
    root: str | None = typer.Option(None, help="dataset folder or file"),
    data_opt: list[str] | None = typer.Option(None, help="dataset option key=value"),
    verbose: bool = verbose_option(),
) -> None:
    """Counts per split, dims, label distribution and availability of a dataset."""
    setup_logging(verbose)
    from hardymer.data import create_dataset

    try:
        ds = create_dataset(name, root=root, **parse_kv(data_opt, "--data-opt"))
    except (HardymerError, ValueError, KeyError) as exc:
        fail(exc)
        return
    s = ds.summary()
    console.print(f"[bold]{s['name']}[/bold] ({s['task']}): {s['utterances']} utterances in {s['groups']} groups")
    console.print("dims: " + ", ".join(f"{m}={d}" for m, d in s["dims"].items()))
    console.print("available: " + ", ".join(f"{m}={d}" for m, d in s["available"].items()))
    if s.get("absent"):
        from hardymer.conditions import MODALITY_NAMES

        console.print(
            "absent (no features for any utterance; conditions need none of them): "
            + ", ".join(MODALITY_NAMES[m] for m in s["absent"])
        )
    console.print(
        "labels: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["labels"].items())
    )
    t = Table("fold", "train", "validation", "test")
    for f, parts in s["folds"].items():
        t.add_row(f, *[f"{parts[p]['utterances']} utt / {parts[p]['groups']} groups" for p in ("train", "val", "test")])
    console.print(t)
    if ds.utt_meta:
        console.print("per-utterance metadata: " + ", ".join(sorted(ds.utt_meta)))


def data_fetch(
    name: str = typer.Argument(..., help="dataset name (see `hardymer list datasets`)"),
    dest: str = typer.Option(..., help="destination folder"),
    base_url: str | None = typer.Option(None, help="mirror replacing the pinned download prefix"),
    verbose: bool = verbose_option(),
) -> None:
    """Download a public dataset's files (pinned commits, sha256 checked)."""
    setup_logging(verbose)
    from hardymer.data.fetch import fetch_dataset

    try:
        path = fetch_dataset(name, Path(dest), base_url=base_url)
    except (HardymerError, ValueError, KeyError) as exc:
        fail(exc)
        return
    console.print(f"fetched {name} into {path}")
