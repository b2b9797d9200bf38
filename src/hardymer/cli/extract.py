"""``hardymer extract``: features from raw media into the npz format."""

from __future__ import annotations

import typer
from rich.table import Table

from hardymer.cli._common import (
    console,
    fail,
    setup_logging,
    verbose_option,
)
from hardymer.errors import HardymerError


def extract_cmd(
    manifest: str = typer.Option(
        ..., help="CSV: id, group, order, label, split, audio, text, video (see docs/extract.md)"
    ),
    out: str = typer.Option(..., help="features file to write (.npz, the project's npz format)"),
    audio_backend: str = typer.Option(
        "auto",
        help="opensmile | hf:<model folder or name>[?layer=L] | none (auto: opensmile when the manifest has audio)",
    ),
    text_backend: str = typer.Option(
        "auto",
        help="minilm | sentence-transformers:<name or folder> | "
        "hf:<model folder or name>[?layers=4] | none "
        "(auto: minilm)",
    ),
    video_backend: str = typer.Option("auto", help="fer | none (auto: fer when the manifest has video)"),
    workers: int = typer.Option(1, help="parallel worker threads"),
    cache: str | None = typer.Option(None, help="content-hash cache folder: re-runs skip finished items"),
    report: str | None = typer.Option(
        None, help="extraction report CSV (id, modality, reason); default <out stem>.report.csv"
    ),
    video_fps: float = typer.Option(2.0, help="frames sampled per second of video"),
    max_frames: int = typer.Option(64, help="at most this many frames per video, spread evenly"),
    device: str = typer.Option("cpu", help="torch device of the text model"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
    verbose: bool = verbose_option(),
) -> None:
    """Features from raw media (audio, transcripts, video) into the npz format, with an extraction report."""
    setup_logging(verbose)
    from hardymer.extract import extract as run_extract

    try:
        res = run_extract(
            manifest,
            out,
            audio_backend=audio_backend,
            text_backend=text_backend,
            video_backend=video_backend,
            workers=workers,
            cache_dir=cache,
            report=report,
            video_fps=video_fps,
            max_frames=max_frames,
            device=device,
            progress=progress,
        )
    except (HardymerError, ImportError, ValueError, OSError) as exc:
        fail(exc)
        return
    t = Table(title=f"{res.n} utterances -> {res.out}")
    for c in ("modality", "backend", "dim", "available", "mask 0", "cached", "computed", "seconds"):
        t.add_column(c)
    for mod, st in res.stats.items():
        t.add_row(
            mod,
            st.backend,
            str(st.dim),
            str(st.available),
            str(st.failed),
            str(st.cached),
            str(st.computed),
            f"{st.seconds:.1f}",
        )
    console.print(t)
    console.print(f"report: {res.report} ({len(res.problems)} problem rows)")
