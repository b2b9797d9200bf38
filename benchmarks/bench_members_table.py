"""A results table trained run by run and model-batched, side by side in one window.

Runs two ``hardymer bench`` processes at the same time, one worker and one torch thread each, on
the same grid (default: backbone, the seven conditions, seeds 0-4): ``separate`` trains run by run
(``train.batch_members=1``), ``batched`` with ``train.batch_members=--members`` (7: the conditions
of each seed as one model-batched network after their shared stage 1; 35: the seeds too, their
batches padded to one shape). Each arm has its own output and cache
folder (nothing shared between them; a rerun resumes unless ``--fresh``). Prints and writes (``--json``)
per arm the CPU seconds of its process tree and its wall time, the ratio, and the paired
difference batched − separate of the test metrics per condition and over the six missing
conditions (same seeds): the two paths differ only in their dropout draws, so no difference is
expected.

    OMP_NUM_THREADS=1 python benchmarks/bench_members_table.py --dataset mosi-poria \\
        --root ../shared/data/mosi-poria --json benchmarks/results/2026-12-04/members-table.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("bench_members_table")

ARMS = ("separate", "batched")


def _command(args: argparse.Namespace, arm: str, members: int) -> list[str]:
    out = Path(args.out) / arm
    cmd = [
        sys.executable,
        "-m",
        "hardymer",
        "bench",
        "--dataset",
        args.dataset,
        "--methods",
        args.method,
        "--conditions",
        args.conditions,
        "--seeds",
        args.seeds,
        "--workers",
        "1",
        "--threads",
        "1",
        "--out",
        str(out),
        "--set",
        f"train.batch_members={members}",
        "--set",
        f"cache_dir={out / '.cache'}",
    ]
    if args.root:
        cmd += ["--root", args.root]
    if args.epochs:
        cmd += ["--epochs", str(args.epochs)]
    if args.device != "cpu":
        cmd += ["--device", args.device]
    for opt in args.method_opt or []:
        cmd += ["--method-opt", opt]
    return cmd


def run_arms(args: argparse.Namespace) -> dict[str, dict]:
    """Start both arms at once; per arm its wall seconds and the CPU seconds of its process tree."""
    procs = {}
    starts = {}
    for arm, members in (("separate", 1), ("batched", args.members)):
        if args.fresh:
            shutil.rmtree(Path(args.out) / arm, ignore_errors=True)
        (Path(args.out) / arm).mkdir(parents=True, exist_ok=True)
        logf = open(Path(args.out) / f"{arm}.log", "w")  # noqa: SIM115 - closed below
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        starts[arm] = time.perf_counter()
        procs[arm] = (
            subprocess.Popen(_command(args, arm, members), stdout=logf, stderr=subprocess.STDOUT, env=env),
            logf,
        )
        log.info("%s: started (%s)", arm, " ".join(_command(args, arm, members)))
    by_pid = {p.pid: arm for arm, (p, _) in procs.items()}
    out: dict[str, dict] = {}
    while by_pid:
        pid, status, usage = os.wait4(-1, 0)
        arm = by_pid.pop(pid, None)
        if arm is None:
            continue
        proc, logf = procs[arm]
        proc.returncode = os.waitstatus_to_exitcode(status)
        logf.close()
        out[arm] = {
            "wall_s": time.perf_counter() - starts[arm],
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "max_rss_mib": usage.ru_maxrss / 1024,
            "returncode": proc.returncode,
        }
        log.info(
            "%s: done, %.0f CPU s, %.0f s wall, rc %d", arm, out[arm]["cpu_s"], out[arm]["wall_s"], proc.returncode
        )
    return out


def paired(args: argparse.Namespace) -> dict:
    """Batched − separate, per condition and mean6, for each test metric, over the shared seeds."""
    from hardymer.evaluation.stats import paired_differences
    from hardymer.reporting.paired import per_seed_values

    values = {}
    for arm in ARMS:
        runs = json.loads((Path(args.out) / arm / "results.json").read_text())["runs"]
        values[arm] = {seed: conds for (_, seed), conds in per_seed_values(runs).items()}
    seeds = sorted(set(values["separate"]) & set(values["batched"]))
    conds = sorted(set.intersection(*(set(values[a][s]) for a in ARMS for s in seeds)))
    res: dict[str, dict] = {}
    for c in conds:
        metrics = sorted(values["separate"][seeds[0]][c])
        res[c] = {}
        for k in metrics:
            d = paired_differences(
                [values["batched"][s][c][k] for s in seeds], [values["separate"][s][c][k] for s in seeds]
            )
            res[c][k] = {"mean": d.mean, "low": d.ci_low, "high": d.ci_high, "n": d.n}
    return {"seeds": seeds, "batched_minus_separate": res}


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:+.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--root", default=None)
    ap.add_argument("--method", default="backbone")
    ap.add_argument("--conditions", default="all")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--method-opt", action="append", help="key=value, as hardymer bench --method-opt")
    ap.add_argument("--members", type=int, default=7, help="train.batch_members of the batched arm (35: seeds too)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (both arms on it; wall seconds are the cost there)")
    ap.add_argument("--out", default="runs/bench-members-table")
    ap.add_argument("--fresh", action="store_true", help="delete both arms' runs and caches first")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    arms = run_arms(args)
    if any(a["returncode"] != 0 for a in arms.values()):
        raise SystemExit(f"an arm failed; see {args.out}/<arm>.log")
    pairs = paired(args)
    figures = {
        "grid": {
            k: getattr(args, k)
            for k in ("dataset", "method", "conditions", "seeds", "epochs", "method_opt", "device", "members")
        },
        "arms": arms,
        "cpu_ratio_separate_over_batched": arms["separate"]["cpu_s"] / arms["batched"]["cpu_s"],
        "wall_ratio_separate_over_batched": arms["separate"]["wall_s"] / arms["batched"]["wall_s"],
        **pairs,
    }
    for arm, a in arms.items():
        print(f"{arm:9s} {a['cpu_s']:8.0f} CPU s {a['wall_s']:8.0f} s wall  peak RSS {a['max_rss_mib']:.0f} MiB")
    cpu_ratio, wall_ratio = figures["cpu_ratio_separate_over_batched"], figures["wall_ratio_separate_over_batched"]
    print(f"separate / batched: CPU {cpu_ratio:.2f}x, wall {wall_ratio:.2f}x")
    print(f"batched - separate, paired over seeds {pairs['seeds']} (mean [95 % interval]):")
    for c, mets in pairs["batched_minus_separate"].items():
        print(
            f"  {c:6s} " + "  ".join(f"{k} {v['mean']:+.3f} [{_f(v['low'])}, {_f(v['high'])}]" for k, v in mets.items())
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=1, default=float))
        print(f"figures in {args.json}")


if __name__ == "__main__":
    main()
