#!/usr/bin/env python
"""Peak memory and CPU seconds of one HARDY-MER stage-2 epoch with the K+1 views in chunks.

``hardymer`` option ``view_chunk=c`` runs the K+1 stacked views of a batch in passes of ``c`` views
and accumulates their gradients into the same single optimizer step (0 = all views in one pass,
the default). Each arm runs in a fresh child process (same data, seed and batches); the child
resets its peak-RSS counter (``/proc/self/clear_refs``) after preparation, so the figure is the
peak *during* the epoch: features, model and optimizer state plus the activations of one pass.
``hardness=fixed`` gives the method's views and network without training a teacher.

Example (figures in benchmarks/README.md)::

    OMP_NUM_THREADS=1 python benchmarks/bench_view_chunk.py --data-opt size=mosei --chunks 0,2,1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def _vm(key: str) -> float:
    """``VmHWM`` / ``VmRSS`` of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def child(args: argparse.Namespace) -> dict:
    import torch

    from hardymer.catalog.recipes import recipe_overrides
    from hardymer.config import load_config
    from hardymer.data import Standardizer, create_dataset
    from hardymer.data.protocol import FixedCondition
    from hardymer.models import MethodSpec, create_method
    from hardymer.models.context import FitContext
    from hardymer.training.teacher import load_or_fit_teacher
    from hardymer.training.trainer import make_optimizer, train_epoch

    torch.set_num_threads(1)
    ds = create_dataset(args.dataset, root=args.root, **dict(kv.split("=", 1) for kv in args.data_opt))
    over = recipe_overrides(args.recipe, "hardymer") if args.recipe else {"train": {}, "method": {"options": {}}}
    opts = {**over["method"]["options"], "hardness": "fixed", "view_chunk": args.chunk}
    cfg = load_config({"data": {"name": args.dataset}, "train": {**over["train"], "batch_size": args.batch_size}})
    fold = ds.folds[0]
    dsi = Standardizer.fit(ds, fold.train).transform(ds)
    ctx = FitContext(
        ds=dsi,
        fold=fold,
        conditions=FixedCondition(args.condition),
        train=cfg.train,
        seed=0,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )
    torch.manual_seed(0)
    m = create_method("hardymer", MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task), **opts)
    m.prepare(ctx)
    opt = make_optimizer(m, cfg.train)
    batches = list(ctx.batcher("train", shuffle=True))[: args.batches]
    s2 = m.stage1_epochs(cfg.train.epochs)
    before = _vm("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    c0 = time.process_time()
    losses = train_epoch(m, batches, ctx, opt, s2)
    cpu = time.process_time() - c0
    return {
        "chunk": args.chunk,
        "rss_before_mb": before,
        "peak_during_mb": _vm("VmHWM"),
        "cpu_s": cpu,
        "batches": len(batches),
        "K": m.config.K,
        "mean_loss": sum(losses) / len(losses),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--root", default=None)
    p.add_argument("--data-opt", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--recipe", default="release")
    p.add_argument("--condition", default="a")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--batches", type=int, default=20, help="batches of the timed epoch")
    p.add_argument("--chunks", default="0,1", help="view_chunk values, one child process each")
    p.add_argument("--chunk", type=int, default=None, help=argparse.SUPPRESS)  # child mode
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.chunk is not None:
        sys.stdout.write(json.dumps(child(args)) + "\n")
        return 0
    rows = []
    for c in [int(x) for x in args.chunks.split(",")]:
        cmd = [
            sys.executable,
            __file__,
            "--chunk",
            str(c),
            "--dataset",
            args.dataset,
            "--recipe",
            args.recipe,
            "--condition",
            args.condition,
            "--batch-size",
            str(args.batch_size),
            "--batches",
            str(args.batches),
        ]
        cmd += (["--root", args.root] if args.root else []) + [a for kv in args.data_opt for a in ("--data-opt", kv)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    lines = [
        f"{args.dataset} {' '.join(args.data_opt)}, recipe {args.recipe}, condition {args.condition}, "
        f"batch {args.batch_size} groups, {rows[0]['batches']} batches, K = {rows[0]['K']}",
        "| view_chunk | RSS before (MB) | peak during the epoch (MB) | above before (MB) | CPU s | mean loss |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['chunk'] or 'all'} | {r['rss_before_mb']:.0f} | {r['peak_during_mb']:.0f} | "
            f"{r['peak_during_mb'] - r['rss_before_mb']:.0f} | {r['cpu_s']:.1f} | {r['mean_loss']:.4f} |"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
