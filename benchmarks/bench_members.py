"""Does training M models as one model-batched network pay on this machine? (backbone, stage 2)

For each M in ``--members``, two arms, each in a fresh child process (1 torch thread):

* ``separate``: M ``backbone`` members trained one after the other, each on its own batches
  (its own shuffling seed, as seeds are; ``--same-order``: all on the same batches, as the
  conditions of one seed are), ``stage2_loss`` + backward + per-model gradient clipping + the
  package's AdamW step, as ``hardymer train`` steps;
* ``stacked``: the same M members as one :class:`_lib.member_stack.BackboneStack` (parameters
  stacked on a leading member dimension, one batched matmul per layer, attention over the
  members folded into the batch), the members' batches padded to a common shape, per-member
  clipping, one AdamW step over the stacked parameters (elementwise, so per member).

Before timing, the parent checks that the stack computes the members' losses and gradients
(dropout off) on real batches. Output per M: CPU seconds per member-step of each arm, their
ratio (``separate / stacked``: the speed-up batching buys) and each child's peak RSS.

    OMP_NUM_THREADS=1 python benchmarks/bench_members.py --dataset mosi-poria --root ../shared/data/mosi-poria \
        --members 1,2,5,10,35 --out members.json
    python benchmarks/bench_members.py --quick          # smoke run (synthetic, tiny)

On ``--device cuda`` (``gpu_check.sh``) the figures are wall seconds per member-step after
synchronising, and the JSON adds each child's peak CUDA memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lib.machine import machine_info  # noqa: E402
from _lib.member_stack import BackboneStack, check_equal, seeded_members, stack_batches  # noqa: E402

from hardymer.data import create_dataset  # noqa: E402
from hardymer.data.batching import GroupBatcher  # noqa: E402
from hardymer.models.backbone import Backbone  # noqa: E402
from hardymer.optim import Adam  # noqa: E402

log = logging.getLogger("bench_members")

#: backbone options of ``--size``
SIZES = {"default": {}, "release": {"hidden": 256, "depth": 4}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--root", default=None)
    ap.add_argument("--condition", default="a", help="condition of the stage-2 batches (default a)")
    ap.add_argument("--members", default="1,2,5,10,35", help="comma list of M")
    ap.add_argument("--size", choices=sorted(SIZES), default="default", help="backbone size (release: 256 / 4)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per member")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps per member first")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument(
        "--same-order",
        action="store_true",
        help="every member shuffles with seed 0 (same batches, no padding to a common shape): the "
        "conditions of one seed sharing a stage 1; default: member i shuffles with seed i (seeds)",
    )
    ap.add_argument(
        "--device",
        default="cpu",
        help="cpu (CPU seconds, peak RSS) or cuda (wall seconds after synchronising, peak CUDA memory)",
    )
    ap.add_argument("--quick", action="store_true", help="tiny synthetic data, M in 1,3, 3 steps")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--child", choices=["separate", "stacked"], default=None, help=argparse.SUPPRESS)
    ap.add_argument("--m", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.members, args.steps, args.warmup = "1,3", 3, 1
    try:
        args.member_list = [int(m) for m in str(args.members).split(",")]
    except ValueError:
        ap.error(f"--members must be a comma list of integers, got {args.members!r}")
    if args.device not in ("cpu", "cuda"):
        ap.error(f"--device must be cpu or cuda, got {args.device!r}")
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device is available")
    if any(m < 1 for m in args.member_list) or args.steps < 1 or args.warmup < 0:
        ap.error("--members must be >= 1, --steps >= 1 and --warmup >= 0")
    return args


def setup(args: argparse.Namespace, m: int) -> tuple[list[Backbone], list[GroupBatcher]]:
    """M seeded backbone members and one shuffling batcher per member over the training part."""
    opts = {"size": "tiny"} if args.quick and args.dataset == "synthetic" else {}
    members, ds, fold = seeded_members(
        create_dataset(args.dataset, root=args.root, **opts), m, args.device, **SIZES[args.size]
    )
    batchers = [
        GroupBatcher(
            ds,
            fold.train,
            batch_size=args.batch_size,
            shuffle=True,
            seed=0 if args.same_order else i,
            device=args.device,
        )
        for i in range(m)
    ]
    return members, batchers


def batch_stream(batcher: GroupBatcher, condition: str):
    """Endless stage-2 batches of ``batcher`` under ``condition``."""
    while True:
        for b in batcher:
            yield b.with_condition(condition)


def clock(device: str) -> float:
    """CPU seconds of this process on ``cpu``; wall seconds after synchronising on ``cuda``."""
    if device == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def run_child(args: argparse.Namespace) -> dict:
    """Time one arm for M members in this process: seconds per member-step (CPU seconds on
    ``cpu``, wall seconds on ``cuda``) and peak memory."""
    torch.set_num_threads(1)
    members, batchers = setup(args, args.m)
    streams = [batch_stream(b, args.condition) for b in batchers]
    n = args.warmup + args.steps
    if args.child == "separate":
        cpu = 0.0  # each member's timed steps only (its warm-up steps untimed)
        for mem, it in zip(members, streams, strict=True):
            mem.train()
            opt = Adam(mem.parameters(), lr=1e-3, weight_decay=1e-5, decoupled=True)
            for s in range(n):
                if s == args.warmup:
                    t_start = clock(args.device)
                batch = next(it)
                opt.zero_grad(set_to_none=True)
                mem.stage2_loss(batch).backward()
                torch.nn.utils.clip_grad_norm_(mem.parameters(), 1.0)
                opt.step()
            cpu += clock(args.device) - t_start
        per_step = cpu / (args.steps * args.m)
    else:
        stack = BackboneStack(members).train()
        del members
        opt = Adam(stack.parameters(), lr=1e-3, weight_decay=1e-5, decoupled=True)
        for s in range(n):
            if s == args.warmup:
                t_start = clock(args.device)
            batch = stack_batches([next(it) for it in streams])
            opt.zero_grad(set_to_none=True)
            stack.losses(batch).sum().backward()
            stack.clip_grad_norm_(1.0)
            opt.step()
        cpu = clock(args.device) - t_start
        per_step = cpu / (args.steps * args.m)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    out = {"arm": args.child, "M": args.m, "cpu_s_per_member_step": per_step, "cpu_s": cpu, "peak_rss_mib": rss}
    if args.device == "cuda":  # the figures are wall seconds there
        out["clock"] = "wall"
        out["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def spawn(args: argparse.Namespace, arm: str, m: int) -> dict:
    """Run one arm in a fresh child process and return its JSON line."""
    cmd = [sys.executable, __file__, "--child", arm, "--m", str(m), "--dataset", args.dataset]
    cmd += ["--condition", args.condition, "--size", args.size, "--steps", str(args.steps)]
    cmd += ["--warmup", str(args.warmup), "--batch-size", str(args.batch_size), "--device", args.device]
    if args.root:
        cmd += ["--root", args.root]
    if args.quick:
        cmd.append("--quick")
    if args.same_order:
        cmd.append("--same-order")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise SystemExit(f"bench_members: child {arm} M={m} failed:\n{res.stderr.strip()[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.child:
        print(json.dumps(run_child(args)))
        return
    torch.set_num_threads(1)
    members, batchers = setup(args, 3)
    diff = check_equal(members, [next(batch_stream(b, args.condition)) for b in batchers])
    log.info("stack == members (dropout off, 3 members, real batches): max |diff| %.2e", diff)
    rows = []
    unit = "wall" if args.device == "cuda" else "CPU"
    for m in args.member_list:
        sep, stk = spawn(args, "separate", m), spawn(args, "stacked", m)
        ratio = sep["cpu_s_per_member_step"] / stk["cpu_s_per_member_step"]
        rows.append({"M": m, "separate": sep, "stacked": stk, "speedup": ratio})
        log.info(
            "M=%3d  separate %.4f  stacked %.4f %s s per member-step  speed-up %.2fx  RSS %.0f / %.0f MiB",
            m,
            sep["cpu_s_per_member_step"],
            stk["cpu_s_per_member_step"],
            unit,
            ratio,
            sep["peak_rss_mib"],
            stk["peak_rss_mib"],
        )
    print(f"\n| M | separate {unit} s / member-step | stacked | speed-up | peak RSS separate (MiB) | stacked |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        s, k = r["separate"], r["stacked"]
        print(
            f"| {r['M']} | {s['cpu_s_per_member_step']:.4f} | {k['cpu_s_per_member_step']:.4f} | "
            f"{r['speedup']:.2f}x | {s['peak_rss_mib']:.0f} | {k['peak_rss_mib']:.0f} |"
        )
    if args.out:
        out = {
            "machine": machine_info(),
            "args": {k: v for k, v in vars(args).items() if k not in ("child", "m")},
            "equivalence_max_abs_diff": diff,
            "rows": rows,
            "loadavg": os.getloadavg(),
        }
        Path(args.out).write_text(json.dumps(out, indent=2))
        log.info("figures in %s", args.out)


if __name__ == "__main__":
    main()
