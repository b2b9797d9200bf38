"""Setup of the speed benchmark (``benchmarks/bench_speed.py``): options, data, fit context, student.

Benchmark code, not part of the package. The steps run in the order ``bench_speed.run`` calls them;
the student's weights are drawn after ``seed_everything(seed)``, as in a training run.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
import yaml
from omegaconf import OmegaConf

from hardymer.conditions import canonical_condition
from hardymer.config import TrainConfig
from hardymer.data import Standardizer, create_dataset
from hardymer.data.dataset import MultimodalDataset, Split
from hardymer.data.protocol import FixedCondition
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.training.seeding import seed_everything
from hardymer.training.teacher import load_or_fit_teacher

#: sizes of ``--quick``: epochs, comparison epochs and the small model's options
QUICK = {"epochs": 4, "ab_epochs": 1, "critic_epochs": 3, "hidden": 32, "decoder_hidden": 128}


@dataclass
class SpeedOptions:
    """The benchmark's resolved options: condition, dataset/method options, epochs."""

    condition: str
    data_opts: dict
    method_opts: dict
    epochs: int
    ab_epochs: int


@dataclass
class SpeedData:
    """The dataset, its fold and the copy standardised with the fold's training statistics."""

    ds: MultimodalDataset
    fold: Split
    ds_in: MultimodalDataset
    load_seconds: float


def kv(items: list[str] | None, what: str) -> dict:
    """``key=value`` strings as a dict (values parsed as YAML); exits with one line on a bad item."""
    out = {}
    for it in items or []:
        if "=" not in it:
            raise SystemExit(f"{what} must look like key=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def set_threads(threads: int | None) -> None:
    """Torch and faiss threads (unchanged when ``threads`` is not given)."""
    if threads:
        import faiss

        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)


def resolve_options(args: argparse.Namespace) -> SpeedOptions:
    """Condition, options and epochs from the command line, with the ``--quick`` sizes applied."""
    data_opts = kv(args.data_opt, "--data-opt")
    method_opts = kv(args.method_opt, "--method-opt")
    epochs = args.epochs if args.epochs is not None else (QUICK["epochs"] if args.quick else 20)
    ab_epochs = args.ab_epochs if args.ab_epochs is not None else (QUICK["ab_epochs"] if args.quick else 5)
    if args.quick:
        if args.dataset == "synthetic" and "n_groups" not in data_opts:
            data_opts["size"] = "tiny"
        for k in ("critic_epochs", "hidden", "decoder_hidden"):
            method_opts.setdefault(k, QUICK[k])
    return SpeedOptions(canonical_condition(args.condition), data_opts, method_opts, epochs, ab_epochs)


def load_data(args: argparse.Namespace, opts: SpeedOptions) -> SpeedData:
    """The dataset, the chosen fold (default: the first) and its standardised copy, timed."""
    t0 = time.perf_counter()
    ds = create_dataset(args.dataset, root=args.root, **opts.data_opts)
    fold = ds.fold(args.fold) if args.fold is not None else ds.folds[0]
    ds_in = Standardizer.fit(ds, fold.train).transform(ds)
    return SpeedData(ds, fold, ds_in, time.perf_counter() - t0)


def make_context(args: argparse.Namespace, opts: SpeedOptions, data: SpeedData) -> FitContext:
    """The fit context of the run: fixed condition, CPU, no cache, the training layer's teacher provider."""
    train_cfg = OmegaConf.structured(
        TrainConfig(
            epochs=opts.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            patience=0,
            select_on="val",
            device="cpu",
            num_threads=args.threads,
        )
    )
    ds, fold, condition = data.ds, data.fold, opts.condition
    run_key = {
        "dataset": ds.name,
        "data": opts.data_opts,
        "fold": fold.name,
        "condition": condition,
        "protocol": "fixed",
        "seed": args.seed,
        "dims": ds.dims,
        "n": len(ds),
    }
    return FitContext(
        ds=data.ds_in,
        fold=fold,
        conditions=FixedCondition(condition),
        train=train_cfg,
        seed=args.seed,
        device=torch.device("cpu"),
        run_key=run_key,
        teacher_provider=load_or_fit_teacher,
    )


def make_student(args: argparse.Namespace, opts: SpeedOptions, ds: MultimodalDataset) -> Any:
    """A fresh ``hardymer`` student, its weights drawn after seeding with ``args.seed``."""
    seed_everything(args.seed)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    return create_method("hardymer", spec, **opts.method_opts)


def run_config(
    args: argparse.Namespace, opts: SpeedOptions, data: SpeedData, ctx: FitContext, student: Any, n_batches: int
) -> dict:
    """The ``config`` block of the results JSON."""
    ds, fold = data.ds, data.fold
    return {
        "dataset": ds.name,
        "root": args.root,
        "data_options": opts.data_opts,
        "fold": fold.name,
        "task": ds.task,
        "n_train": len(fold.train),
        "n_val": len(fold.val),
        "n_test": len(fold.test),
        "dims": dict(ds.dims),
        "train_batches_per_epoch": n_batches,
        "condition": opts.condition,
        "seed": args.seed,
        "epochs": opts.epochs,
        "teacher_epochs": student.config.teacher_epochs or opts.epochs,
        "ab_epochs": opts.ab_epochs,
        "train": OmegaConf.to_container(ctx.train),
        "quick": args.quick,
        "method": "hardymer",
        "method_options": dataclasses.asdict(student.config),
        "release_style": {"mapping": args.release_mapping, "merge": args.release_merge},
        "data_load_seconds": data.load_seconds,
    }
