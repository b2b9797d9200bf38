"""``train.fast_dropout``: CPU seconds of torch's dropout vs random-bits masks, in one process.

1. micro: ``F.dropout`` vs ``hardymer.models.dropout.bits_dropout`` on tensors of the stacked
   stage-2 shapes (forward, and forward + backward), repetitions interleaved;
2. epoch: one stage-2 epoch of ``hardymer`` (K + 1 stacked views; ``hardness=fixed``, so no
   teacher is trained) with ``nn.Dropout`` vs ``BitsDropout``, both from the same initial
   weights and batches, one untimed warm-up epoch per arm, then epochs interleaved
   (alternating which arm runs first).

    python benchmarks/bench_dropout.py --dataset mosi-poria --root ../shared/data/mosi-poria \\
        --method-opt hidden=256 --method-opt depth=4 --reps 4

CPU seconds (``time.process_time``) with one torch thread; the JSON goes to ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from hardymer.config import TrainConfig
from hardymer.data import Standardizer, create_dataset
from hardymer.data.protocol import FixedCondition
from hardymer.models import MethodSpec, create_method
from hardymer.models.context import FitContext
from hardymer.models.dropout import bits_dropout, use_fast_dropout
from hardymer.training.teacher import load_or_fit_teacher
from hardymer.training.trainer import make_optimizer, train_epoch


def _opt(kv: list[str]) -> dict:
    out = {}
    for s in kv:
        k, v = s.split("=", 1)
        out[k] = int(v) if v.lstrip("-").isdigit() else float(v) if v.replace(".", "", 1).isdigit() else v
    return out


def micro(shapes: list[tuple[int, ...]], p: float, reps: int, calls: int = 10) -> dict:
    """Milliseconds per call, forward and forward + backward, torch vs bits (interleaved)."""
    out = {}
    for shape in shapes:
        x = torch.randn(shape, requires_grad=True)
        arms = {
            "torch_fwd": lambda x=x: F.dropout(x, p, True),
            "bits_fwd": lambda x=x: bits_dropout(x, p, True),
            "torch_fwd_bwd": lambda x=x: F.dropout(x, p, True).sum().backward(),
            "bits_fwd_bwd": lambda x=x: bits_dropout(x, p, True).sum().backward(),
        }
        tot = dict.fromkeys(arms, 0.0)
        for r in range(reps):
            for k, fn in list(arms.items()) if r % 2 == 0 else list(arms.items())[::-1]:
                t = time.process_time()
                for _ in range(calls):
                    fn()
                tot[k] += time.process_time() - t
        out["x".join(map(str, shape))] = {k: 1e3 * v / (reps * calls) for k, v in tot.items()}
    return out


def epoch(args: argparse.Namespace) -> dict:
    """CPU seconds of one stage-2 epoch per arm (torch dropout / bits), interleaved."""
    ds = create_dataset(args.dataset, root=args.root, **_opt(args.data_opt))
    fold = ds.folds[0]
    dsi = Standardizer.fit(ds, fold.train).transform(ds)
    spec = MethodSpec(dims=ds.dims, output_dim=ds.output_dim, task=ds.task)
    tc = OmegaConf.structured(TrainConfig(precision=args.precision))
    ctx = FitContext(
        ds=dsi,
        fold=fold,
        conditions=FixedCondition(args.condition),
        train=tc,
        seed=0,
        device=torch.device("cpu"),
        teacher_provider=load_or_fit_teacher,
    )
    torch.manual_seed(0)
    base = create_method("hardymer", spec, **{**_opt(args.method_opt), "hardness": "fixed"})
    base.prepare(ctx)
    s2 = base.stage1_epochs(tc.epochs)
    arms: dict = {}
    for name in ("torch", "bits"):
        m = copy.deepcopy(base)
        if name == "bits":
            use_fast_dropout(m)
        arms[name] = (m, make_optimizer(m, tc))
    for m, opt in arms.values():  # warm-up epoch per arm (allocator, oneDNN primitives), not timed
        train_epoch(m, ctx.batcher("train", shuffle=True), ctx, opt, s2)
    secs: dict = {k: [] for k in arms}
    for r in range(args.reps):
        for name in ("torch", "bits") if r % 2 == 0 else ("bits", "torch"):
            m, opt = arms[name]
            batches = ctx.batcher("train", shuffle=True)
            torch.manual_seed(r)
            c0 = time.process_time()
            train_epoch(m, batches, ctx, opt, s2)
            secs[name].append(time.process_time() - c0)
    mean = {k: sum(v) / len(v) for k, v in secs.items()}
    return {
        "seconds": secs,
        "mean": mean,
        "ratio_torch_over_bits": mean["torch"] / mean["bits"],
        "batches": len(ctx.batcher("train", shuffle=False)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--root", default=None)
    p.add_argument("--data-opt", action="append", default=[])
    p.add_argument("--method-opt", action="append", default=[])
    p.add_argument("--condition", default="a")
    p.add_argument("--precision", default="fp32")
    p.add_argument("--reps", type=int, default=4)
    p.add_argument("--no-epoch", action="store_true", help="micro-benchmark only")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    hidden = int(_opt(args.method_opt).get("hidden", 128))
    rows = 4 * 16  # K + 1 = 4 stacked views of 16 groups
    res: dict = {"micro": micro([(rows, 45, hidden), (rows, 45, 2 * hidden), (rows, 45, 3 * hidden)], 0.3, args.reps)}
    if not args.no_epoch:
        res["epoch"] = epoch(args)
    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
