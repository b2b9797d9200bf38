"""Rewrite the figures of result folders without re-running anything.

- a folder with a ``results.json``: its bar charts (``bars_<metric>.png``) from the stored per-run
  metrics. The constant-prediction reference line comes from the runs (``constant_predictor``); runs
  that predate it get it from the dataset's test labels, loaded as the stored command names it
  (``--dataset``, ``--root``, ``--data-opt``; when a ``--data-opt`` names a file that is not at hand,
  e.g. replacement ``text_features``, the labels are read without the options, with a warning); if
  the dataset cannot be loaded, binary accuracies get the 50 % chance line instead. The tables and
  numbers are not touched.
- ``--runs DIR``: also ``hardness.png`` and ``label_agreement.png`` from the run folders under DIR
  (those holding a ``hardness.json``), into the (single) results folder.
- a folder with ``trials.csv`` and ``tune.json`` (a ``hardymer tune`` output): its ``history.png``.

Usage: ``python scripts/replot.py [FOLDER ...] [--runs DIR] [--root PATH] [--no-data-opt]``; without
folders, every results folder under docs/results and every tuning folder there that has a history.png.
``--no-data-opt`` reads the labels without the stored ``--data-opt`` options.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hardymer.data import create_dataset
from hardymer.errors import ConfigError, DataError
from hardymer.reporting.plots import HARDNESS_PNG, LABEL_AGREEMENT_PNG, plot_hardness, plot_label_agreement, write_plots
from hardymer.reporting.reference import CONSTANT_KEY, constant_predictor_metrics
from hardymer.tuning.report import write_history_png

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("replot")


def command_data_args(command: str | None) -> tuple[str | None, str | None, dict[str, str]]:
    """(dataset, root, data options) named by a stored ``hardymer bench`` command line."""
    name = root = None
    opts: dict[str, str] = {}
    words = shlex.split(command or "")
    for flag, value in zip(words, words[1:]):
        if flag == "--dataset":
            name = value
        elif flag == "--root":
            root = value
        elif flag == "--data-opt" and "=" in value:
            key, val = value.split("=", 1)
            opts[key] = val
    return name, root, opts


def _load_dataset(name: str, root: str | None, opts: dict[str, str]) -> Any:
    """``create_dataset`` with ``opts``, less those naming a file that is not at hand (with a warning)."""
    missing = {k: v for k, v in opts.items() if Path(v).suffix and not Path(v).exists() and not (ROOT / v).exists()}
    if missing:
        log.warning("%s: %s not at hand; reading the labels without these options", name, missing)
    return create_dataset(name, root=root, **{k: v for k, v in opts.items() if k not in missing})


def add_constant_predictor(js: dict, root: str | None = None, use_data_opts: bool = True) -> list[dict]:
    """The runs of a results.json, each with its ``constant_predictor`` metrics: stored, or computed
    from the test labels of the run's fold (runs unchanged, with a warning, when the data cannot be read)."""
    runs = js["runs"]
    if all(isinstance(r.get(CONSTANT_KEY), dict) for r in runs):
        return runs
    name, cmd_root, opts = command_data_args(js.get("command"))
    name = str(js.get("dataset") or name or "")
    root = root or cmd_root
    if root and not Path(root).exists() and (ROOT / root).exists():  # the stored command runs from the repository
        root = str(ROOT / root)
    try:
        ds = _load_dataset(name, root, opts if use_data_opts else {})
        by_fold = {
            f: constant_predictor_metrics(ds.task, ds.labels[ds.fold(f).test]) for f in {r["fold"] for r in runs}
        }
    except (ConfigError, DataError, OSError, KeyError, ValueError) as exc:
        log.warning("no constant-prediction reference for %s (root %s): %s", name, root, exc)
        return runs
    log.info(
        "constant prediction on the test split of %s (root %s): %s",
        name,
        root,
        {f: {k: round(v, 3) for k, v in m.items()} for f, m in by_fold.items()},
    )
    return [{**r, CONSTANT_KEY: r.get(CONSTANT_KEY) or by_fold[r["fold"]]} for r in runs]


def replot_results(folder: Path, root: str | None = None, use_data_opts: bool = True) -> list[Path]:
    """Rewrite the bar charts of a results folder from its results.json; return the paths written."""
    js = json.loads((folder / "results.json").read_text())
    return write_plots(add_constant_predictor(js, root, use_data_opts), folder, js["methods"])


def run_folders(top: Path) -> list[Path]:
    """Run folders under ``top``: those holding a ``hardness.json`` or a ``metrics.json``."""
    return sorted({p.parent for pat in ("hardness.json", "metrics.json") for p in top.rglob(pat)})


def replot_hardness(folder: Path, runs_dir: Path) -> list[Path]:
    """Write hardness.png and label_agreement.png of the runs under ``runs_dir`` into ``folder``."""
    dirs = run_folders(runs_dir)
    written = [plot_hardness(dirs, folder / HARDNESS_PNG), plot_label_agreement(dirs, folder / LABEL_AGREEMENT_PNG)]
    if None in written:
        raise DataError(f"{runs_dir}: no run folder with hardness.json / hardness_summary.json")
    return [p for p in written if p is not None]


def _trial(row: dict[str, str]) -> Any:
    value = float(row["value"]) if row.get("value") else None
    return SimpleNamespace(number=int(row["number"]), state=SimpleNamespace(name=row["state"]), value=value)


def replot_history(folder: Path) -> Path:
    """Rewrite history.png of a tuning folder from its trials.csv and tune.json."""
    info = json.loads((folder / "tune.json").read_text())
    with open(folder / "trials.csv", newline="") as fh:
        trials = [_trial(row) for row in csv.DictReader(fh)]
    return write_history_png(
        trials,
        folder / "history.png",
        direction=info["direction"],
        metric=info["metric"],
        method=info.get("method", ""),
        conditions=info.get("conditions", ""),
    )


def default_folders() -> list[Path]:
    results = ROOT / "docs" / "results"
    found = {p.parent for p in results.rglob("results.json")}
    found |= {p.parent for p in results.rglob("history.png") if (p.parent / "trials.csv").is_file()}
    return sorted(found)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folders", nargs="*", type=Path, help="result or tuning folders (default: all under docs/results)"
    )
    parser.add_argument("--runs", type=Path, help="run folders of the grid, for hardness.png and label_agreement.png")
    parser.add_argument("--root", help="dataset root (default: --root of the stored command)")
    parser.add_argument(
        "--no-data-opt", action="store_true", help="read the labels without the stored --data-opt options"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folders = args.folders or default_folders()
    if args.runs is not None and len(folders) != 1:
        raise SystemExit("error: --runs needs exactly one results folder")
    for folder in folders:
        written: list[Path] = []
        if (folder / "results.json").is_file():
            written += replot_results(folder, args.root, not args.no_data_opt)
        if (folder / "trials.csv").is_file() and (folder / "tune.json").is_file():
            written.append(replot_history(folder))
        if args.runs is not None:
            written += replot_hardness(folder, args.runs)
        if not written:
            log.warning("%s: nothing to plot (no results.json, no trials.csv + tune.json)", folder)
        for p in written:
            log.info("wrote %s", p)


if __name__ == "__main__":
    main()
