#!/usr/bin/env python
"""Speed of one HARDY-MER condition: teacher, student, and a release-style stage 2 for comparison.

For one (dataset, fold, condition, seed) this measures, in one process:

1. the teacher (a ``Backbone`` trained with ``hardymer.training.trainer.fit`` exactly as
   ``Hardymer._train_teacher`` does): seconds per stage-1 and stage-2 epoch;
2. the student (method ``hardymer``): seconds of its preparation (teacher training, critic
   training, hardness + retrieval), seconds per stage-1 and stage-2 epoch, total seconds for the
   condition; the student reuses the teacher of (1) instead of training a second one;
3. a release-style stage-2 epoch (:func:`_lib.release_loop.release_style_stage2_epoch`, our arithmetic
   in the release's loop shape: hardness recomputed per batch with batch-level min–max
   normalisation, faiss queries per batch, K+1 separate forward/backward/step passes) against our
   stacked-view epoch, on two copies of the same stage-1-initialised student over the same batches,
   epochs interleaved;
4. the ratio release-style / ours per stage-2 epoch and the validation metric of both copies after
   the same number of stage-2 epochs;
5. peak resident memory (``ru_maxrss``) of the process.

No on-disk cache is used: every part is computed. Examples (figures in benchmarks/README.md)::

    python benchmarks/bench_speed.py --dataset mosi-poria --root ../shared/data/mosi-poria --threads 1
    python benchmarks/bench_speed.py --dataset synthetic --data-opt size=mosei --data-opt task=regression --threads 1
    python benchmarks/bench_speed.py --quick --threads 1 --out /tmp/bench.json

On a shared machine use ``--threads 1`` (or ``OMP_WAIT_POLICY=PASSIVE``): with the default active
OpenMP wait policy, two torch threads on two busy cores spin against other processes and epochs
become up to ~40x slower at random moments.
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import sys
import time
from typing import Any

import numpy as np
import torch

# benchmarks/ is on sys.path when run as a script
from _lib.machine import loadavg, machine_info, peak_rss_mb
from _lib.release_loop import PARTS, release_style_stage2_epoch
from _lib.speed_parts import Timers, headline, instrument_prepare, ours_stage2_epoch, per_stage, train_teacher
from _lib.speed_setup import load_data, make_context, make_student, resolve_options, run_config, set_threads

from hardymer.evaluation.metrics import default_select_metric, is_better
from hardymer.models.backbone import Backbone
from hardymer.models.context import FitContext
from hardymer.training.trainer import FitResult, evaluate, fit

log = logging.getLogger("bench_speed")

ARMS = ("ours", "release_style")


# ---------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dataset", default="synthetic", help="dataset name (synthetic, mosi-poria, ...)")
    p.add_argument("--root", default=None, help="dataset folder or file")
    p.add_argument("--data-opt", action="append", default=None, metavar="KEY=VALUE", help="dataset option")
    p.add_argument("--fold", default=None, help="fold name (default: the dataset's first fold)")
    p.add_argument("--condition", default="a", help="available modalities (default: a)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="epochs of teacher and student (default 20; quick 4)")
    p.add_argument(
        "--ab-epochs",
        type=int,
        default=None,
        help="stage-2 epochs of the ours vs release-style comparison (default 5; quick 1)",
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--method-opt",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="hardymer option, e.g. hidden=256 depth=4 (the release's size)",
    )
    p.add_argument(
        "--release-mapping",
        default="release",
        choices=("release", "centered", "rank"),
        help="hardness mapping of the release-style loop (release: sigmoid(beta*s))",
    )
    p.add_argument(
        "--release-merge",
        default="concat",
        choices=("concat", "fused"),
        help="neighbour merge of the release-style loop (release: concat)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch and faiss threads (default: torch's). On a shared machine use 1, or set "
        "OMP_WAIT_POLICY=PASSIVE: spinning OpenMP threads make multi-thread timings erratic",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small smoke run: tiny synthetic data (if synthetic), 4 epochs, small model",
    )
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _teacher_phase(
    student: Any, ctx: FitContext, config: dict, load: dict, rss: dict
) -> tuple[Backbone, dict, float, float]:
    """1. The teacher, trained as ``Hardymer._train_teacher`` does: the model, its figures, wall and CPU seconds."""
    log.info("training the teacher (%d epochs)", config["teacher_epochs"])
    load["before_teacher"] = loadavg()
    teacher, res_t, teacher_seconds, teacher_cpu = train_teacher(student, ctx)
    rss["teacher"] = peak_rss_mb()
    teacher_out = {
        **per_stage(res_t),
        "train_seconds": teacher_seconds,
        "train_cpu_seconds": teacher_cpu,
        "best_epoch": res_t.best_epoch,
        "val": headline(res_t.val, config["task"]),
    }
    log.info("teacher: %s", teacher_out)
    return teacher, teacher_out, teacher_seconds, teacher_cpu


def _fit_student(
    student: Any, teacher: Backbone, ctx: FitContext, epochs: int, load: dict, rss: dict
) -> tuple[FitResult, float, Timers, dict]:
    """2. The student's fit with the teacher of (1), its preparation timed; also the stage-1-trained
    student's weights (snapshot when stage 2 begins) for the comparison."""
    timers = Timers()
    snapshot: dict = {}
    on_stage_start = student.on_stage_start

    def snap(stage: int, c: FitContext) -> None:  # the stage-1-trained student, for the comparison
        if stage == 2 and not snapshot:
            snapshot.update({k: v.detach().clone() for k, v in student.state_dict().items()})
        on_stage_start(stage, c)

    student.__dict__["on_stage_start"] = snap
    log.info("training the student: prepare (critics, hardness, retrieval), then %d epochs", epochs)
    load["before_student"] = loadavg()
    c0 = time.process_time()
    with instrument_prepare(student, teacher, timers):
        res_s = fit(student, ctx)
    student_cpu = time.process_time() - c0
    student.__dict__.pop("on_stage_start", None)
    rss["student"] = peak_rss_mb()
    return res_s, student_cpu, timers, snapshot


def _student_figures(
    res_s: FitResult, timers: Timers, teacher_seconds: float, teacher_cpu: float, student_cpu: float, task: str
) -> dict:
    """The ``student`` block of the results: preparation by part, seconds per epoch, totals, metrics."""
    prep_total = float(res_s.stage_seconds["prepare"])
    critic_s = timers.seconds.get("train_pair_critics", 0.0)
    prepare = {
        "teacher_training": teacher_seconds,
        "critic_training": critic_s,
        "hardness_and_retrieval": prep_total - critic_s,
        "total": teacher_seconds + prep_total,
    }
    prepare_detail = {
        "direct_hardness": timers.seconds.get("direct_hardness", 0.0),
        "indirect_hardness": timers.seconds.get("critic_indirect_hardness", 0.0)
        + timers.seconds.get("entropy_indirect_hardness", 0.0),
        "index_build": timers.seconds.get("build_indexes", 0.0),
        "retrieval": timers.seconds.get("retrieve_neighbours", 0.0),
        "install_views": timers.seconds.get("install_views", 0.0),
    }
    prepare_detail["other"] = prepare["hardness_and_retrieval"] - sum(prepare_detail.values())
    return {
        "prepare_seconds": prepare,
        "prepare_detail_seconds": prepare_detail,
        **per_stage(res_s),
        "fit_seconds": res_s.train_seconds,
        "fit_cpu_seconds": student_cpu,
        "total_cpu_seconds_per_condition": teacher_cpu + student_cpu,
        "total_seconds_per_condition": teacher_seconds + res_s.train_seconds,
        "best_epoch": res_s.best_epoch,
        "val": headline(res_s.val, task),
        "test": headline(res_s.test, task),
    }


def _comparison_arms(student: Any, snapshot: dict) -> dict[str, Any]:
    """Two copies of the stage-1-trained student (no teacher attached): ``ours`` and ``release_style``."""
    base = copy.deepcopy(student)
    object.__setattr__(base, "_teacher", None)
    base.load_state_dict(snapshot)
    return {arm: copy.deepcopy(base) for arm in ARMS}


def _run_comparison(
    args: argparse.Namespace,
    arms: dict[str, Any],
    teacher: Backbone,
    critics: Any,
    indexes: Any,
    ctx: FitContext,
    condition: str,
    first_epoch: int,
    ab_epochs: int,
    load: dict,
) -> tuple[dict, dict]:
    """3. ``ab_epochs`` stage-2 epochs of each arm over the same batches, interleaved (alternating which
    arm runs first); per arm the seconds, losses and validation metrics, and the release-style parts."""
    train_cfg = ctx.train
    task = ctx.ds.task
    opts = {
        a: torch.optim.AdamW(m.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
        for a, m in arms.items()
    }
    batchers = {a: ctx.batcher("train", shuffle=True) for a in arms}  # same seed -> same batches each epoch
    val_b = ctx.batcher("val")
    rec: dict[str, dict] = {
        a: {"epoch_seconds": [], "epoch_cpu_seconds": [], "train_loss": [], "val": []} for a in arms
    }
    load["before_comparison"] = loadavg()
    parts: dict[str, float] = {}
    torch.manual_seed(args.seed + 1)
    for e in range(ab_epochs):
        order = list(arms) if e % 2 == 0 else list(arms)[::-1]  # alternate which arm runs first
        for arm in order:
            model, opt = arms[arm], opts[arm]
            c0 = time.process_time()
            if arm == "ours":
                sec, loss = ours_stage2_epoch(model, ctx, opt, first_epoch + e, batchers[arm])
            else:
                sec, loss = release_style_stage2_epoch(
                    model,
                    teacher,
                    critics,
                    indexes,
                    ctx,
                    opt,
                    condition,
                    batches=batchers[arm],
                    mapping=args.release_mapping,
                    merge=args.release_merge,
                    timings=parts,
                )
            rec[arm]["epoch_cpu_seconds"].append(time.process_time() - c0)
            rec[arm]["epoch_seconds"].append(sec)
            rec[arm]["train_loss"].append(loss)
            rec[arm]["val"].append(evaluate(model, val_b, [condition], task))
        log.info(
            "comparison epoch %d: ours %.2fs, release-style %.2fs",
            e,
            rec["ours"]["epoch_seconds"][-1],
            rec["release_style"]["epoch_seconds"][-1],
        )
    return rec, parts


def _summarise_comparison(
    rec: dict, parts: dict, ab_epochs: int, task: str, n_batches: int, K: int, fit_stage2_s_per_epoch: float
) -> dict:
    """4. The ``stage2_comparison`` block: seconds per epoch of each arm, their ratios, validation metrics."""
    sel_metric = default_select_metric(task)
    comp: dict[str, Any] = {"epochs": ab_epochs, "optimizer": "fresh AdamW per arm, same lr/weight decay"}
    for arm, r in rec.items():
        best = None
        for v in r["val"]:
            if is_better(sel_metric, v[sel_metric], None if best is None else best[sel_metric]):
                best = v
        comp[arm] = {
            "s_per_epoch": float(np.mean(r["epoch_seconds"])),
            "s_per_epoch_median": float(np.median(r["epoch_seconds"])),
            "cpu_s_per_epoch": float(np.mean(r["epoch_cpu_seconds"])),
            "epoch_seconds": r["epoch_seconds"],
            "epoch_cpu_seconds": r["epoch_cpu_seconds"],
            "train_loss": r["train_loss"],
            "val_final": headline(r["val"][-1], task),
            "val_best": headline(best, task),
            "select_metric": sel_metric,
        }
    n_rel = len(rec["release_style"]["epoch_seconds"])
    comp["release_style"]["parts_s_per_epoch"] = {k: parts.get(k, 0.0) / max(n_rel, 1) for k in PARTS}
    comp["release_style"]["optimizer_steps_per_epoch"] = n_batches * (K + 1)
    comp["ours"]["optimizer_steps_per_epoch"] = n_batches
    comp["ratio_release_over_ours"] = comp["release_style"]["s_per_epoch"] / comp["ours"]["s_per_epoch"]
    comp["ratio_release_over_ours_median"] = (
        comp["release_style"]["s_per_epoch_median"] / comp["ours"]["s_per_epoch_median"]
    )
    comp["ratio_release_over_ours_cpu"] = comp["release_style"]["cpu_s_per_epoch"] / comp["ours"]["cpu_s_per_epoch"]
    comp["ratio_release_over_fit_stage2"] = comp["release_style"]["s_per_epoch"] / fit_stage2_s_per_epoch
    return comp


def run(args: argparse.Namespace) -> dict:
    """The whole benchmark (see the module docstring); returns the results written by ``--out``."""
    t_bench = time.perf_counter()
    set_threads(args.threads)
    opts = resolve_options(args)
    rss: dict[str, float] = {"start": peak_rss_mb()}
    load: dict[str, list[float]] = {"start": loadavg()}
    data = load_data(args, opts)  # data, fold, standardisation with the fold's training statistics
    rss["data"] = peak_rss_mb()
    ctx = make_context(args, opts, data)
    student = make_student(args, opts, data.ds)
    task = data.ds.task
    n_batches = len(ctx.batcher("train"))
    config = run_config(args, opts, data, ctx, student, n_batches)
    machine = machine_info()
    log.debug("machine: %s", machine)
    log.debug("config: %s", config)

    teacher, teacher_out, teacher_seconds, teacher_cpu = _teacher_phase(student, ctx, config, load, rss)
    res_s, student_cpu, timers, snapshot = _fit_student(student, teacher, ctx, opts.epochs, load, rss)
    critics = timers.last.get("train_pair_critics")
    indexes = timers.last.get("build_indexes")
    if indexes is None:  # neighbours != faiss: the release-style loop still needs indexes
        from hardymer.retrieval.index import build_indexes

        indexes = build_indexes(data.ds_in, data.fold.train)
    student_out = _student_figures(res_s, timers, teacher_seconds, teacher_cpu, student_cpu, task)
    log.info("student: %s", student_out)

    arms = _comparison_arms(student, snapshot)
    rec, parts = _run_comparison(
        args,
        arms,
        teacher,
        critics,
        indexes,
        ctx,
        opts.condition,
        student.stage1_epochs(opts.epochs),
        opts.ab_epochs,
        load,
    )
    rss["comparison"] = peak_rss_mb()
    load["end"] = loadavg()
    comp = _summarise_comparison(
        rec, parts, opts.ab_epochs, task, n_batches, student.config.K, student_out["stage2_s_per_epoch"]
    )
    return {
        "machine": machine,
        "config": config,
        "teacher": teacher_out,
        "student": student_out,
        "stage2_comparison": comp,
        "memory": {"peak_rss_mb": peak_rss_mb(), "peak_rss_mb_after": rss},
        "loadavg": load,
        "benchmark_seconds": time.perf_counter() - t_bench,
    }


# ---------------------------------------------------------------------------------------- output
def _f(x: float, nd: int = 2) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def print_report(res: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console() if sys.stdout.isatty() else Console(width=150)
    m, c = res["machine"], res["config"]
    con.print(
        f"[bold]machine[/bold]: {m['cpu_model']}, cpu_count {m['cpu_count']} (usable {m['cpus_usable']}), "
        f"torch {m['torch']} threads {m['torch_threads']} (interop {m['torch_interop_threads']}), "
        f"faiss {m['faiss']} threads {m['faiss_omp_threads']}, cuda {m['cuda']}, env {m.get('env', {})}, "
        f"{m['date']}"
    )
    mo = c["method_options"]
    con.print(
        f"[bold]config[/bold]: {c['dataset']} {c['data_options']} fold {c['fold']} ({c['task']}; "
        f"train/val/test {c['n_train']}/{c['n_val']}/{c['n_test']} utt., {c['train_batches_per_epoch']} "
        f"batches/epoch of {c['train']['batch_size']} groups), condition {c['condition']}, seed {c['seed']}, "
        f"epochs {c['epochs']} (teacher {c['teacher_epochs']}), comparison epochs {c['ab_epochs']}; "
        f"hardymer hidden {mo['hidden']} depth {mo['depth']} K {mo['K']} mapping {mo['mapping']} "
        f"merge {mo['merge']} critic_epochs {mo['critic_epochs']}; release-style "
        f"mapping {c['release_style']['mapping']} merge {c['release_style']['merge']}"
    )

    t, s = res["teacher"], res["student"]
    tab = Table(title="seconds per epoch (trainer.fit; training loop only, validation excluded)")
    for col in ("model", "stage-1 epochs", "s/epoch stage 1", "stage-2 epochs", "s/epoch stage 2", "fit total s"):
        tab.add_column(col, justify="right")
    tab.add_row(
        "teacher",
        str(t["stage1_epochs"]),
        _f(t["stage1_s_per_epoch"], 3),
        str(t["stage2_epochs"]),
        _f(t["stage2_s_per_epoch"], 3),
        _f(t["train_seconds"]),
    )
    tab.add_row(
        "student (ours)",
        str(s["stage1_epochs"]),
        _f(s["stage1_s_per_epoch"], 3),
        str(s["stage2_epochs"]),
        _f(s["stage2_s_per_epoch"], 3),
        _f(s["fit_seconds"]),
    )
    con.print(tab)

    tab = Table(title="student preparation and total per condition (seconds)")
    tab.add_column("part")
    tab.add_column("seconds", justify="right")
    for k, v in s["prepare_seconds"].items():
        tab.add_row(f"prepare: {k}", _f(v))
    for k, v in s["prepare_detail_seconds"].items():
        tab.add_row(f"  hardness+retrieval: {k}", _f(v, 3))
    tab.add_row("total per condition (teacher + student fit)", _f(s["total_seconds_per_condition"]))
    tab.add_row("  CPU seconds (process time, all threads)", _f(s["total_cpu_seconds_per_condition"]))
    con.print(tab)

    cp = res["stage2_comparison"]
    tab = Table(title=f"stage 2 from the same stage-1 student, same batches, {cp['epochs']} epoch(s) each")
    cols = ["arm", "s/epoch (mean)", "s/epoch (median)", "CPU s/epoch", "optimizer steps/epoch", "final train loss"]
    keys = list(cp["ours"]["val_final"])
    cols += [f"val {k} (final)" for k in keys] + [f"val {k} (best {cp['ours']['select_metric']})" for k in keys]
    for col in cols:
        tab.add_column(col, justify="right")
    for arm in ("ours", "release_style"):
        a = cp[arm]
        tab.add_row(
            arm,
            _f(a["s_per_epoch"], 3),
            _f(a["s_per_epoch_median"], 3),
            _f(a["cpu_s_per_epoch"], 3),
            str(a["optimizer_steps_per_epoch"]),
            _f(a["train_loss"][-1], 4),
            *[_f(a["val_final"][k]) for k in keys],
            *[_f(a["val_best"][k]) for k in keys],
        )
    con.print(tab)
    p = cp["release_style"]["parts_s_per_epoch"]
    con.print("release-style s/epoch by part: " + ", ".join(f"{k} {_f(v, 3)}" for k, v in p.items()))
    con.print(
        f"[bold]ratio release-style / ours per stage-2 epoch: {cp['ratio_release_over_ours']:.2f}[/bold] "
        f"(median epochs {cp['ratio_release_over_ours_median']:.2f}, CPU time "
        f"{cp['ratio_release_over_ours_cpu']:.2f}; release-style vs the student's fit stage-2 epochs "
        f"{cp['ratio_release_over_fit_stage2']:.2f})"
    )
    mem = res["memory"]
    con.print(
        f"peak RSS {mem['peak_rss_mb']:.0f} MiB (after: "
        + ", ".join(f"{k} {v:.0f}" for k, v in mem["peak_rss_mb_after"].items())
        + ")"
    )
    con.print("load average (1/5/15 min) at: " + "; ".join(f"{k} {v}" for k, v in res["loadavg"].items()))
    con.print(f"benchmark wall {res['benchmark_seconds']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if not args.verbose:
        log.setLevel(logging.INFO)  # progress of the phases on stderr; library logs stay at WARNING
    res = run(args)
    print_report(res)
    if args.out:
        from hardymer._io import atomic_write_json

        atomic_write_json(args.out, res)
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
