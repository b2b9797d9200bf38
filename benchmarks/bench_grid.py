#!/usr/bin/env python
"""CPU seconds of the fixed condition grid (teacher + student, one seed): today's path vs the new one.

Arms, run in the same process (1 torch thread, ``time.process_time``), each with a fresh cache:

* ``today``: ``train.share_stage1=false``, ``train.precision=fp32`` (every condition trains its
  teacher's and its student's stage 1 itself);
* ``new``: ``share_stage1=true`` and ``precision=bf16`` (stage 1 trained once per model and reused);
* ``new-bucket`` (``--arms``): ``new`` with length-bucketed training batches (``train.bucket``);
* ``new-fast`` (``--arms``): ``new-bucket`` with ``train.fast_dropout`` (cheaper dropout masks);
* ``new-fast-batched`` (``--arms``): ``new-fast`` with ``train.batch_members=7``: the conditions as
  one group (``run_member_group``: hardymer's teachers, then its students, model-batched); its
  CPU seconds are the group's, shared equally among its conditions;
* ``new-fast-fp32`` and ``new-fast-fp32-batched`` (``--arms``): the same two in fp32, for CPUs
  without native bf16 (AVX2 only), where bf16 matrix multiplies are emulated and slower than fp32.

``--epochs-scale s1,s2`` shortens every schedule (student and teacher epochs times ``s``) so a
reduced run can be measured on a busy machine; with two or more scales the cost of each run is
fitted as fixed + slope x scale (critics and retrieval do not grow with epochs) and extrapolated
to scale 1 (see :func:`extrapolate`). Conditions are extrapolated to the seven of the grid:
``today`` as 7 x the mean per condition; ``new`` as the first condition (which trains the shared
stage 1) + 6 x the mean of the others.

``--stage2-epoch`` adds CPU seconds of one stage-2 epoch fp32 vs bf16 at the recipe's size
(``hardymer`` with ``hardness=fixed``: same views and network as the method, no teacher needed).
``--tta`` adds time-to-accuracy: CPU seconds until the validation-selected student reaches
``--tta-mae`` (regression) or ``--tta-wa`` (classification), default config vs the recipe.

Example (the figures in benchmarks/README.md)::

    nice python benchmarks/bench_grid.py --dataset mosi-poria --root ../shared/data/mosi-poria \\
        --recipe release --conditions a,t --epochs-scale 0.04,0.08 --stage2-epoch --json grid.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hardymer.catalog.recipes import recipe_overrides
from hardymer.conditions import canonical_condition
from hardymer.config import TrainConfig, load_config
from hardymer.data import Standardizer, create_dataset
from hardymer.data.protocol import FixedCondition
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.training.run import run_experiment
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import make_optimizer, train_epoch

log = logging.getLogger("bench_grid")

GRID = ["a", "t", "v", "at", "av", "tv", "atv"]
ARMS = {
    "today": {"share_stage1": False, "precision": "fp32"},
    "new": {"share_stage1": True, "precision": "bf16"},
    # also length-bucketed batches (less padding; changes batch composition, hence not bit-equal)
    "new-bucket": {"share_stage1": True, "precision": "bf16", "bucket": True},
    # and dropout masks from random bits (another random stream, same p and expectation)
    "new-fast": {"share_stage1": True, "precision": "bf16", "bucket": True, "fast_dropout": True},
    # new-fast in fp32 (for CPUs without native bf16, where bf16 is emulated and slower)
    "new-fast-fp32": {"share_stage1": True, "precision": "fp32", "bucket": True, "fast_dropout": True},
    "new-fast-fp32-batched": {
        "share_stage1": True,
        "precision": "fp32",
        "bucket": True,
        "fast_dropout": True,
        "batch_members": 7,
    },
    # and the conditions trained together (hardymer: the six teachers as one model-batched network)
    "new-fast-batched": {
        "share_stage1": True,
        "precision": "bf16",
        "bucket": True,
        "fast_dropout": True,
        "batch_members": 7,
    },
}


def _scaled(n: int, scale: float) -> int:
    """``n`` epochs scaled, at least 2 (one per stage) and even (both stages keep equal halves)."""
    return max(2, 2 * round(n * scale / 2))


def run_config(
    args: argparse.Namespace,
    method: str,
    condition: str,
    out: Path,
    cache: Path | None,
    train: dict,
    recipe: str | None,
    scale: float | None = None,
) -> Any:
    """The resolved config of one run (recipe, scaled schedule, arm settings)."""
    over: dict = {"train": {}, "method": {"options": {}}}
    if recipe:
        over = recipe_overrides(recipe, method)
    tr = dict(over["train"])
    opts = dict(over["method"]["options"])
    scale = args.epochs_scale[0] if scale is None else scale
    tr["epochs"] = _scaled(int(tr.get("epochs", 30)), scale)
    if opts.get("teacher_epochs"):
        opts["teacher_epochs"] = _scaled(int(opts["teacher_epochs"]), scale)
    tr.update(train, device=args.device, num_threads=1)
    return load_config(
        {
            "data": {"name": args.dataset, "root": args.root, "options": dict(args.data_opt)},
            "method": {"name": method, "options": opts},
            "condition": condition,
            "seed": args.seed,
            "cache_dir": str(cache) if cache else None,
            "out": str(out),
            "train": tr,
        }
    )


def time_grid(args: argparse.Namespace, ds: Any, work: Path, scale: float) -> dict:
    """CPU seconds per arm and condition at epoch ``scale``, and the metrics of every run."""
    res: dict = {}
    for arm in args.arms:
        train = ARMS[arm]
        cache = work / f"cache-{arm}-{scale}"
        rows = []
        if int(train.get("batch_members", 1)) > 1:
            rows = _time_group(args, ds, work, scale, arm, cache)
            res[arm] = rows
            continue
        for c in args.conditions:
            cfg = run_config(args, args.method, c, work / f"{arm}-{scale}" / c, cache, train, args.recipe, scale)
            c0, w0 = time.process_time(), time.perf_counter()
            m = run_experiment(cfg, ds=ds, save_checkpoint_file=False)
            cpu = time.process_time() - c0
            rows.append(
                {
                    "condition": c,
                    "cpu_s": cpu,
                    "wall_s": time.perf_counter() - w0,
                    "stage1_shared": m["stage1_shared"],
                    "test": m["test"],
                    "val": m["val"],
                    "epochs": cfg.train.epochs,
                    "teacher_epochs": dict(cfg.method.options).get("teacher_epochs", 0),
                }
            )
            log.info("x%s %s %s: %.1f CPU s (stage 1 shared: %s)", scale, arm, c, cpu, m["stage1_shared"])
        res[arm] = rows
    return res


def _time_group(args: argparse.Namespace, ds: Any, work: Path, scale: float, arm: str, cache: Path) -> list[dict]:
    """The conditions of a batched arm as one group: CPU seconds shared equally among them."""
    from hardymer.training.run import run_member_group

    train = ARMS[arm]
    cfgs = [
        run_config(args, args.method, c, work / f"{arm}-{scale}" / c, cache, train, args.recipe, scale)
        for c in args.conditions
    ]
    c0, w0 = time.process_time(), time.perf_counter()
    metrics = run_member_group(cfgs, ds=ds, save_checkpoint_file=False)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    log.info("x%s %s (%d conditions as one group): %.1f CPU s", scale, arm, len(cfgs), cpu)
    return [
        {
            "condition": c,
            "cpu_s": cpu / len(cfgs),
            "wall_s": wall / len(cfgs),
            "group_cpu_s": cpu,
            "stage1_shared": m["stage1_shared"],
            "test": m["test"],
            "val": m["val"],
            "epochs": cfg.train.epochs,
            "teacher_epochs": dict(cfg.method.options).get("teacher_epochs", 0),
        }
        for c, cfg, m in zip(args.conditions, cfgs, metrics, strict=True)
    ]


def extrapolate(by_scale: dict[float, list[dict]], arm: str, n_grid: int = len(GRID)) -> tuple[float, str]:
    """CPU seconds of the full grid at the full schedule and how it was obtained.

    Per condition, with two or more scales: the least-squares line cpu = fixed + slope * scale
    evaluated at 1 (the fixed part, critics and retrieval, does not grow with epochs); with one
    scale: cpu / scale (overstates the fixed part). Then across conditions: ``today`` 7 x the
    mean; ``new`` the first condition + 6 x the mean of the others (they reuse its stage 1).
    """
    scales = sorted(by_scale)
    n_cond = len(by_scale[scales[0]])
    per_cond = []
    for i in range(n_cond):
        y = [by_scale[s][i]["cpu_s"] for s in scales]
        if len(scales) > 1:
            slope, fixed = np.polyfit(scales, y, 1)
            per_cond.append(float(fixed + slope))
        else:
            per_cond.append(y[0] / scales[0])
    how = "linear fit over scales" if len(scales) > 1 else "proportional (one scale)"
    if ARMS[arm]["share_stage1"] and n_cond > 1:
        return per_cond[0] + (n_grid - 1) * float(np.mean(per_cond[1:])), how
    return n_grid * float(np.mean(per_cond)), how


def stage2_epoch(args: argparse.Namespace, ds: Any, reps: int = 2) -> dict:
    """CPU seconds of one stage-2 epoch, fp32 vs bf16 interleaved, at the recipe's size."""
    over = recipe_overrides(args.recipe, "hardymer") if args.recipe else {"train": {}, "method": {"options": {}}}
    opts = {**over["method"]["options"], "hardness": "fixed"}
    fold = ds.folds[0] if args.fold is None else ds.fold(args.fold)
    dsi = Standardizer.fit(ds, fold.train).transform(ds)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    out: dict = {"fp32": [], "bf16": []}
    for _ in range(reps):
        for prec in ("fp32", "bf16"):
            cfg = run_config(
                args, "hardymer", args.conditions[0], Path("unused"), None, {"precision": prec}, args.recipe
            )
            ctx = FitContext(
                ds=dsi,
                fold=fold,
                conditions=FixedCondition(args.conditions[0]),
                train=cfg.train,
                seed=args.seed,
                device=torch.device(args.device),
                teacher_provider=load_or_fit_teacher,
            )
            torch.manual_seed(args.seed)
            m = create_method("hardymer", spec, **opts).to(ctx.device)
            m.prepare(ctx)
            opt = make_optimizer(m, cfg.train)
            batches = ctx.batcher("train", shuffle=True)
            s2 = m.stage1_epochs(cfg.train.epochs)  # the first stage-2 epoch
            c0, w0 = time.process_time(), time.perf_counter()
            train_epoch(m, batches, ctx, opt, s2)
            if ctx.device.type == "cuda":
                torch.cuda.synchronize()
            # CPU seconds on CPU; wall seconds on an accelerator
            out[prec].append(time.process_time() - c0 if ctx.device.type == "cpu" else time.perf_counter() - w0)
    return out


def time_to_accuracy(args: argparse.Namespace, ds: Any, work: Path) -> dict:
    """CPU seconds until the selected student reaches the target, default config vs the recipe."""
    res: dict = {}
    for name, recipe in (("default", None), (args.recipe or "default", args.recipe)):
        if name in res:
            continue
        marks: list[tuple[float, dict]] = []
        cfg = run_config(
            args, args.method, args.conditions[0], work / f"tta-{name}", work / f"cache-tta-{name}", {}, recipe
        )
        if recipe is None:  # the default config keeps its own schedule (scaled by --tta-scale only)
            cfg.train.epochs = max(2, round(TrainConfig().epochs * args.tta_scale))
        c0 = time.process_time()
        m = run_experiment(
            cfg,
            ds=ds,
            save_checkpoint_file=False,
            on_epoch=lambda e, s, rec, marks=marks, c0=c0: marks.append((time.process_time() - c0, dict(rec))),
        )
        metric = m["select_metric"]
        target = args.tta_mae if metric == "mae" else args.tta_wa
        better = (lambda v, t=target: v <= t) if metric == "mae" else (lambda v, t=target: v >= t)
        reached = next((t for t, rec in marks if f"val_{metric}" in rec and better(rec[f"val_{metric}"])), None)
        res[name] = {
            "metric": metric,
            "target": target,
            "cpu_s_to_target": reached,
            "cpu_s_total": time.process_time() - c0,
            "best_val": m["val"].get(metric),
            "epochs": cfg.train.epochs,
        }
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--root", default=None)
    p.add_argument("--data-opt", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--fold", default=None)
    p.add_argument("--method", default="hardymer")
    p.add_argument("--recipe", default="release")
    p.add_argument("--conditions", default=",".join(GRID), help="comma-separated (default: the 7 of the grid)")
    p.add_argument(
        "--epochs-scale",
        default="1.0",
        help="scale every schedule; comma-separated scales fit fixed + per-epoch cost (extrapolated to 1)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--stage2-epoch", action="store_true", help="also time one stage-2 epoch fp32 vs bf16")
    p.add_argument("--tta", action="store_true", help="also time-to-accuracy, default config vs the recipe")
    p.add_argument("--tta-mae", type=float, default=1.0)
    p.add_argument("--tta-wa", type=float, default=50.0)
    p.add_argument("--tta-scale", type=float, default=1.0, help="scale of the default config's schedule in --tta")
    p.add_argument("--skip-grid", action="store_true")
    p.add_argument("--json", default=None, help="write all figures here")
    p.add_argument("--arms", default="today,new", help=f"comma list of {', '.join(ARMS)}")
    args = p.parse_args(argv)
    args.arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if unknown := [a for a in args.arms if a not in ARMS]:
        p.error(f"--arms: unknown arm(s) {', '.join(unknown)}; choose from {', '.join(ARMS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    args.conditions = [canonical_condition(c) for c in args.conditions.split(",")]
    args.epochs_scale = [float(x) for x in str(args.epochs_scale).split(",")]
    args.data_opt = [kv.split("=", 1) for kv in args.data_opt]
    ds = create_dataset(args.dataset, root=args.root, **dict(args.data_opt))
    out: dict = {"args": {k: v for k, v in vars(args).items()}, "torch": torch.__version__}
    with tempfile.TemporaryDirectory(prefix="bench-grid-") as tmp:
        work = Path(tmp)
        if not args.skip_grid:
            out["grid"] = {s: time_grid(args, ds, work, s) for s in args.epochs_scale}
        if args.stage2_epoch:
            out["stage2_epoch"] = stage2_epoch(args, ds)
        if args.tta:
            out["tta"] = time_to_accuracy(args, ds, work)
    lines = []
    if "grid" in out:
        lines += [
            (
                f"grid: {args.method}, recipe {args.recipe}, conditions {','.join(args.conditions)}, "
                f"device {args.device}; CPU s per run (teacher + student)"
            ),
            "| epochs scale | arm | " + " | ".join(args.conditions) + " | sum |",
            "|---:|---|" + "---:|" * (len(args.conditions) + 1),
        ]
        for scale, arms in out["grid"].items():
            for arm, rows in arms.items():
                lines.append(
                    f"| {scale} | {arm} | "
                    + " | ".join(f"{r['cpu_s']:.1f}" for r in rows)
                    + f" | {sum(r['cpu_s'] for r in rows):.1f} |"
                )
                if args.device != "cpu":  # on an accelerator the cost is wall time, not process CPU time
                    lines.append(
                        f"| {scale} | {arm} (wall s) | "
                        + " | ".join(f"{r['wall_s']:.1f}" for r in rows)
                        + f" | {sum(r['wall_s'] for r in rows):.1f} |"
                    )
        for arm in args.arms:
            ext, how = extrapolate({s: a[arm] for s, a in out["grid"].items()}, arm)
            out.setdefault("extrapolated", {})[arm] = ext
            lines.append(f"extrapolated, 7 conditions at the full schedule ({how}): {arm} {ext:.0f} CPU s")
        metric = "mae" if ds.task == "regression" else "wa"
        for scale, arms in out["grid"].items():
            lines.append(
                f"x{scale} test {metric} per condition ({' / '.join(args.arms)}): "
                + ", ".join(
                    f"{rows[0]['condition']} " + "/".join(f"{r['test'][metric]:.3f}" for r in rows)
                    for rows in zip(*(arms[a] for a in args.arms))
                )
            )
    if "stage2_epoch" in out:
        s = out["stage2_epoch"]
        unit = "CPU" if args.device == "cpu" else "wall"
        lines.append(
            f"stage-2 epoch {unit} s: fp32 "
            + ", ".join(f"{x:.2f}" for x in s["fp32"] if x is not None)
            + " | bf16 "
            + ", ".join(f"{x:.2f}" for x in s["bf16"] if x is not None)
        )
    if "tta" in out:
        for name, r in out["tta"].items():
            got = "not reached" if r["cpu_s_to_target"] is None else f"{r['cpu_s_to_target']:.1f} CPU s"
            lines.append(
                f"time to val {r['metric']} {r['target']}: {name}: {got} "
                f"(best {r['best_val']}, {r['epochs']} epochs, {r['cpu_s_total']:.1f} CPU s in all)"
            )
    text = "\n".join(lines)
    sys.stdout.write(text + "\n")
    if args.json:
        out["table"] = text
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
