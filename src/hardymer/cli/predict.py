"""``hardymer predict``: a saved model on new data with any subset of modalities."""

from __future__ import annotations

import typer

from hardymer.cli._common import (
    console,
    fail,
    setup_logging,
    verbose_option,
)
from hardymer.errors import HardymerError


def predict(
    checkpoint: str = typer.Option(..., help="checkpoint.pt written by `hardymer train`, or its run folder"),
    input: str = typer.Option(
        ..., "--input", help=".npz: audio/text/video (any subset), optional mask_*, groups, order, speakers, utt_ids"
    ),
    out: str | None = typer.Option(None, help="CSV to write (default: print)"),
    strict: bool = typer.Option(
        False, help="refuse modality sets a fixed-protocol model was not trained on (default: warn)"
    ),
    verbose: bool = verbose_option(),
) -> None:
    """Predict on new data with whatever modalities it has."""
    setup_logging(verbose)
    from hardymer.inference import predict_file

    try:
        text = predict_file(checkpoint, input, out, strict=strict)
    except (HardymerError, ValueError, KeyError) as exc:
        fail(exc)
        return
    if out is None:
        typer.echo(text, nl=False)  # raw CSV: rich would wrap lines wider than the terminal
    else:
        console.print(f"predictions written to {out}")
