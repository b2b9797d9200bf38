#!/usr/bin/env bash
# Paired accuracy check of train.precision=bf16 against fp32 on mosi-poria (same seeds, same
# config otherwise; shared stage 1 on in both arms). Writes per-run metrics and a table of paired
# differences (bf16 - fp32, mean and 95% t interval over seeds) to $OUT_DIR.
#
#   nice benchmarks/bf16_check.sh [ROOT]          # defaults below; override with the variables
#   METHODS="backbone hardymer momke zero-fill" SEEDS="0 1 2 3 4" CONDITIONS="a t v at av tv" benchmarks/bf16_check.sh
set -euo pipefail
ROOT=${1:-../shared/data/mosi-poria}
METHODS=${METHODS:-"backbone hardymer"}
SEEDS=${SEEDS:-"0 1 2"}
CONDITIONS=${CONDITIONS:-"a t"}
EPOCHS=${EPOCHS:-}             # empty: the default config's schedule
OUT_DIR=${OUT_DIR:-runs/bf16-check}
DEVICE=${DEVICE:-cpu}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$OUT_DIR"
python - "$ROOT" "$METHODS" "$SEEDS" "$CONDITIONS" "$EPOCHS" "$OUT_DIR" "$DEVICE" <<'PY'
import json, logging, sys, time
from pathlib import Path

import torch

from hardymer._io import atomic_write_json
from hardymer.config import load_config
from hardymer.data import create_dataset
from hardymer.evaluation.stats import format_interval, paired_differences
from hardymer.training.run import run_experiment

root, methods, seeds, conds, epochs, out, device = sys.argv[1:8]
methods, conds = methods.split(), conds.split()
seeds = [int(s) for s in seeds.split()]
out = Path(out)
logging.basicConfig(level=logging.WARNING)
torch.set_num_threads(1)
ds = create_dataset("mosi-poria", root=root)
runs = []
for method in methods:
    for c in conds:
        for seed in seeds:
            for prec in ("fp32", "bf16"):
                train = {"precision": prec, "device": device, "num_threads": 1}
                if epochs:
                    train["epochs"] = int(epochs)
                run_out = out / method / c / f"seed{seed}-{prec}"
                if (run_out / "metrics.json").is_file():  # resumable
                    m = json.loads((run_out / "metrics.json").read_text())
                    cpu = m.get("cpu_seconds")
                else:
                    cfg = load_config({"data": {"name": "mosi-poria", "root": root}, "method": {"name": method},
                                       "condition": c, "seed": seed, "out": str(run_out),
                                       "cache_dir": str(out / ".cache"), "train": train})
                    c0 = time.process_time()
                    m = run_experiment(cfg, ds=ds, save_checkpoint_file=False)
                    cpu = time.process_time() - c0
                    m["cpu_seconds"] = cpu
                    atomic_write_json(run_out / "metrics.json", m)
                runs.append({"method": method, "condition": c, "seed": seed, "precision": prec, "cpu_s": cpu,
                             "test": m["test"], "val": m["val"]})
                print(f"{method} {c} seed {seed} {prec}: test mae {m['test']['mae']:.4f} acc2 {m['test']['acc2']:.2f}"
                      f" ({cpu:.0f} CPU s)", flush=True)
(out / "runs.json").write_text(json.dumps(runs, indent=1))
lines = ["| method | condition | metric | fp32 mean | bf16 mean | bf16 - fp32 (95% CI) | fp32 seed sd | n |",
         "|---|---|---|---:|---:|---:|---:|---:|"]
import numpy as np
for method in methods:
    for c in conds:
        for metric in ("mae", "acc2", "f1", "corr"):
            a = [r["test"][metric] for r in runs if (r["method"], r["condition"], r["precision"]) == (method, c, "bf16")]
            b = [r["test"][metric] for r in runs if (r["method"], r["condition"], r["precision"]) == (method, c, "fp32")]
            d = paired_differences(a, b)
            ci = format_interval(d, 4, mark="")
            sd = float(np.std(b, ddof=1)) if len(b) > 1 else float("nan")
            lines.append(f"| {method} | {c} | {metric} | {np.mean(b):.4f} | {np.mean(a):.4f} | {ci} | {sd:.4f} | {d.n} |")
table = "\n".join(lines)
(out / "bf16_check.md").write_text(table + "\n")
print(table)
PY
