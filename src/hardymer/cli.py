"""The ``hardymer`` command line: train, evaluate, data info / fetch, list."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import List, Optional

import typer
import yaml
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from hardymer.conditions import parse_conditions
from hardymer.errors import HardymerError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Inspect and download datasets.")
app.add_typer(data_app, name="data")
console = Console()
log = logging.getLogger("hardymer")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_path=False)], force=True)


def _parse_kv(items: Optional[List[str]], what: str) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise typer.BadParameter(f"{what} must look like key=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def parse_seeds(spec: str) -> list[int]:
    """``"0-4"`` -> [0..4]; ``"0,2,5"`` -> [0, 2, 5]."""
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part[1:]:
            a, b = part.split("-", 1)
            seeds += list(range(int(a), int(b) + 1))
        else:
            seeds.append(int(part))
    return seeds


def _build_config(config_files: Optional[List[str]], *, protocol: str, data: dict, train: dict,
                  method: Optional[str] = None, data_opt: Optional[List[str]] = None,
                  method_opt: Optional[List[str]] = None, set_: Optional[List[str]] = None):
    """Defaults <- YAML files <- flags (``None`` flags are left out) <- ``--data-opt``/``--method-opt`` <- ``--set``."""
    from omegaconf import OmegaConf

    from hardymer.config import load_config

    def given(d: dict) -> dict:
        return {k: v for k, v in d.items() if v is not None}

    over: dict = {"data": given(data), "train": given(train), "protocol": protocol}
    if method is not None:
        over["method"] = {"name": method}
    cfg = OmegaConf.merge(load_config(*(config_files or [])), over)
    if data_opt:
        cfg.data.options = OmegaConf.merge(cfg.data.options, _parse_kv(data_opt, "--data-opt"))
    if method_opt:
        cfg.method.options = OmegaConf.merge(cfg.method.options, _parse_kv(method_opt, "--method-opt"))
    if set_:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(set_)))
    return cfg


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(2)


@app.command()
def train(
    dataset: str = typer.Option("synthetic", help="dataset name (see `hardymer list`)"),
    root: Optional[str] = typer.Option(None, help="dataset folder or file"),
    method: str = typer.Option("zero-fill", help="method name"),
    condition: str = typer.Option("atv", help="available modalities: a,t,v,at,av,tv,atv, a comma list, 'all' or 'missing'"),
    seed: str = typer.Option("0", help="seed, list (0,1,2) or range (0-4)"),
    out: str = typer.Option("runs/train", help="output folder"),
    protocol: str = typer.Option("fixed", help="fixed (one model per condition) or unified"),
    config: Optional[List[str]] = typer.Option(None, help="YAML config file(s) merged over the defaults"),
    epochs: Optional[int] = typer.Option(None), batch_size: Optional[int] = typer.Option(None),
    lr: Optional[float] = typer.Option(None), fold: Optional[str] = typer.Option(None),
    device: Optional[str] = typer.Option(None), select_on: Optional[str] = typer.Option(None, help="val (default) or test (optimistic)"),
    data_opt: Optional[List[str]] = typer.Option(None, help="dataset option key=value"),
    method_opt: Optional[List[str]] = typer.Option(None, help="method option key=value"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="any config key, e.g. train.patience=5"),
    verbose: bool = typer.Option(False, "-v"),
) -> None:
    """Train one model per (condition, seed); write metrics.json, config.yaml, checkpoint.pt."""
    _setup_logging(verbose)
    from hardymer.evaluation.metrics import metric_names
    from hardymer.reporting.tables import aggregate, fmt
    from hardymer.training.run import load_run_dataset, run_experiment

    try:
        cfg = _build_config(config, protocol=protocol, method=method,
                            data={"name": dataset, "root": root, "fold": fold},
                            train={"epochs": epochs, "batch_size": batch_size, "lr": lr, "device": device,
                                   "select_on": select_on},
                            data_opt=data_opt, method_opt=method_opt, set_=set_)
        conditions = parse_conditions(condition) if protocol == "fixed" else ["all"]
        seeds = parse_seeds(seed)
        ds = load_run_dataset(cfg)
        runs = []
        single = len(conditions) == 1 and len(seeds) == 1
        for c in conditions:
            for s in seeds:
                run_cfg = cfg.copy()
                run_cfg.condition = c if c != "all" else "atv"
                run_cfg.seed = s
                run_cfg.out = out if single else str(Path(out) / c / f"seed{s}")
                runs.append(run_experiment(run_cfg, ds=ds, progress=single))
                t = runs[-1]["test"]
                brief = t if "mean" not in t else t["mean"]
                log.info("%s seed %d: %s", c, s, ", ".join(f"{k}={v:.2f}" for k, v in brief.items()))
    except (HardymerError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(exc)
        return
    agg = aggregate(runs)
    names = metric_names(ds.task)
    table = Table(title=f"{method} on {ds.name}: test, selected on {cfg.train.select_on}, seeds {seeds}")
    table.add_column("condition")
    for k in names:
        table.add_column(k, justify="right")
    for key, mets in agg.items():
        table.add_row(key[1], *[fmt(*mets[k][:2]) if mets[k][2] > 1 else f"{mets[k][0]:.2f}" for k in names])
    console.print(table)
    console.print(f"outputs in {out}")


@app.command()
def evaluate(
    checkpoint: str = typer.Option(..., help="checkpoint.pt written by `hardymer train`"),
    condition: str = typer.Option("atv", help="condition(s) to evaluate, comma list or 'all'"),
    split: str = typer.Option("test", help="train, val or test"),
    root: Optional[str] = typer.Option(None, help="override the dataset folder stored in the checkpoint"),
) -> None:
    """Evaluate a saved checkpoint on a split of its dataset under given condition(s)."""
    _setup_logging(False)
    from hardymer.evaluation.evaluate import evaluate_checkpoint

    try:
        res = evaluate_checkpoint(checkpoint, parse_conditions(condition), split=split, root=root)
    except (HardymerError, ValueError, KeyError) as exc:
        _fail(exc)
        return
    console.print_json(json.dumps(res))


@data_app.command("info")
def data_info(name: str, root: Optional[str] = typer.Option(None), data_opt: Optional[List[str]] = typer.Option(None)) -> None:
    """Counts per split, dims, label distribution and availability of a dataset."""
    _setup_logging(False)
    from hardymer.data import create_dataset

    try:
        ds = create_dataset(name, root=root, **_parse_kv(data_opt, "--data-opt"))
    except (HardymerError, ValueError, KeyError) as exc:
        _fail(exc)
        return
    s = ds.summary()
    console.print(f"[bold]{s['name']}[/bold] ({s['task']}): {s['utterances']} utterances in {s['groups']} groups")
    console.print("dims: " + ", ".join(f"{m}={d}" for m, d in s["dims"].items()))
    console.print("available: " + ", ".join(f"{m}={d}" for m, d in s["available"].items()))
    console.print("labels: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["labels"].items()))
    t = Table("fold", "train", "validation", "test")
    for f, parts in s["folds"].items():
        t.add_row(f, *[f"{parts[p]['utterances']} utt / {parts[p]['groups']} groups" for p in ("train", "val", "test")])
    console.print(t)


@data_app.command("fetch")
def data_fetch(name: str, dest: str = typer.Option(..., help="destination folder"),
               base_url: Optional[str] = typer.Option(None, help="mirror replacing the pinned download prefix")) -> None:
    """Download a public dataset's files (pinned commits, sha256 checked)."""
    _setup_logging(False)
    from hardymer.data.fetch import fetch_dataset

    try:
        path = fetch_dataset(name, Path(dest), base_url=base_url)
    except (HardymerError, ValueError, KeyError) as exc:
        _fail(exc)
        return
    console.print(f"fetched {name} into {path}")


@app.command()
def bench(
    dataset: str = typer.Option("synthetic", help="dataset name"),
    root: Optional[str] = typer.Option(None, help="dataset folder or file"),
    methods: str = typer.Option("zero-fill,backbone,momke,hardymer", help="comma list of methods or presets (configs/methods.yaml)"),
    protocol: str = typer.Option("fixed", help="fixed or unified"),
    conditions: str = typer.Option("all", help="conditions for the fixed protocol ('all', 'missing' or a comma list)"),
    seeds: str = typer.Option("0-2", help="seed list or range"),
    folds: str = typer.Option("0", help="fold list (e.g. 0-4 for IEMOCAP) or names"),
    out: str = typer.Option("runs/bench", help="grid output folder"),
    report: Optional[str] = typer.Option(None, help="folder for results.{md,csv,json} (default: --out)"),
    title: Optional[str] = typer.Option(None, help="title of results.md"),
    config: Optional[List[str]] = typer.Option(None, help="YAML config file(s)"),
    epochs: Optional[int] = typer.Option(None), select_on: Optional[str] = typer.Option(None, help="val or test (optimistic)"),
    workers: int = typer.Option(1, help="parallel runs (local process pool)"),
    threads: int = typer.Option(1, help="torch threads per run"),
    backend: str = typer.Option("local", help="local or ray"),
    ray_address: Optional[str] = typer.Option(None, help="ray.init address, e.g. auto or ray://host:10001"),
    data_opt: Optional[List[str]] = typer.Option(None), set_: Optional[List[str]] = typer.Option(None, "--set"),
    verbose: bool = typer.Option(False, "-v"),
) -> None:
    """Run a methods × conditions × seeds (× folds) grid, resumably, and write the results table."""
    _setup_logging(verbose)
    import sys

    from rich.progress import Progress

    from hardymer.bench.grid import plan_grid, run_grid
    from hardymer.reporting.results import write_results

    try:
        cfg = _build_config(config, protocol=protocol, data={"name": dataset, "root": root},
                            train={"epochs": epochs, "select_on": select_on}, data_opt=data_opt, set_=set_)
        method_list = [m.strip() for m in methods.split(",") if m.strip()]
        conds = parse_conditions(conditions) if protocol == "fixed" else ["all"]
        fold_list = [str(f) for f in parse_seeds(folds)] if folds.replace("-", "").replace(",", "").isdigit() else folds.split(",")
        specs = plan_grid(cfg, method_list, conds, parse_seeds(seeds), fold_list, out)
        with Progress(console=Console(stderr=True)) as prog:
            task = prog.add_task("runs", total=len(specs))
            from hardymer.bench.grid import is_done

            prog.update(task, advance=sum(is_done(s) for s in specs))
            runs = run_grid(specs, workers=workers, threads=threads, backend=backend, ray_address=ray_address,
                            on_done=lambda s, m: prog.update(task, advance=1))
    except (HardymerError, ValueError, KeyError, RuntimeError) as exc:
        _fail(exc)
        return
    import shlex

    command = "hardymer " + shlex.join(sys.argv[1:]) if sys.argv and "hardymer" in sys.argv[0] else None
    md = write_results(runs, report or out, runs[0]["dataset"], method_list, title=title, command=command)
    from hardymer.reporting.plots import write_plots

    for png in write_plots(runs, report or out, method_list, [Path(s.out) for s in specs]):
        log.info("plot %s", png)
    console.print(md.read_text())
    console.print(f"results in {md.parent}")


@app.command()
def predict(
    checkpoint: str = typer.Option(..., help="checkpoint.pt written by `hardymer train`"),
    input: str = typer.Option(..., "--input", help=".npz with audio/text/video (any subset), optional mask_*, groups, utt_ids"),
    out: Optional[str] = typer.Option(None, help="CSV to write (default: print)"),
) -> None:
    """Predict on new data with whatever modalities it has."""
    _setup_logging(False)
    from hardymer.inference import predict_file

    try:
        text = predict_file(checkpoint, input, out)
    except (HardymerError, ValueError, KeyError) as exc:
        _fail(exc)
        return
    if out is None:
        typer.echo(text, nl=False)  # raw CSV: rich would wrap lines wider than the terminal
    else:
        console.print(f"predictions written to {out}")


@app.command("extract")
def extract_cmd(
    manifest: str = typer.Option(..., help="CSV: id, group, order, label, split, audio, text, video (see docs/extract.md)"),
    out: str = typer.Option(..., help="features file to write (.npz, the project's npz format)"),
    audio_backend: str = typer.Option("auto", help="opensmile | none (auto: opensmile when the manifest has audio)"),
    text_backend: str = typer.Option("auto", help="minilm | sentence-transformers:<name or folder> | none (auto: minilm)"),
    video_backend: str = typer.Option("auto", help="fer | none (auto: fer when the manifest has video)"),
    workers: int = typer.Option(1, help="parallel worker threads"),
    cache: Optional[str] = typer.Option(None, help="content-hash cache folder: re-runs skip finished items"),
    report: Optional[str] = typer.Option(None, help="extraction report CSV (id, modality, reason); default <out stem>.report.csv"),
    video_fps: float = typer.Option(2.0, help="frames sampled per second of video"),
    max_frames: int = typer.Option(64, help="at most this many frames per video, spread evenly"),
    device: str = typer.Option("cpu", help="torch device of the text model"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    verbose: bool = typer.Option(False, "-v"),
) -> None:
    """Features from raw media (audio, transcripts, video) into the npz format, with an extraction report."""
    _setup_logging(verbose)
    from hardymer.extract import extract as run_extract

    try:
        res = run_extract(manifest, out, audio_backend=audio_backend, text_backend=text_backend,
                          video_backend=video_backend, workers=workers, cache_dir=cache, report=report,
                          video_fps=video_fps, max_frames=max_frames, device=device, progress=progress)
    except (HardymerError, ImportError, ValueError, OSError) as exc:
        _fail(exc)
        return
    t = Table(title=f"{res.n} utterances -> {res.out}")
    for c in ("modality", "backend", "dim", "available", "mask 0", "cached", "computed", "seconds"):
        t.add_column(c)
    for mod, st in res.stats.items():
        t.add_row(mod, st.backend, str(st.dim), str(st.available), str(st.failed), str(st.cached), str(st.computed),
                  f"{st.seconds:.1f}")
    console.print(t)
    console.print(f"report: {res.report} ({len(res.problems)} problem rows)")


@app.command("list")
def list_() -> None:
    """Registered datasets and methods."""
    from hardymer.data import list_datasets
    from hardymer.models import list_methods

    console.print("datasets: " + ", ".join(list_datasets()))
    console.print("methods:  " + ", ".join(list_methods()))


def main() -> None:  # pragma: no cover
    app()
