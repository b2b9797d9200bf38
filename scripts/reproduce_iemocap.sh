#!/usr/bin/env bash
# IEMOCAP-4 (or -6) with real audio + text features (docs/iemocap.md), every method, default configs,
# fixed protocol, conditions a, t, at (no video exists), 5-fold leave-one-session-out, seeds 0-2.
#   1. scripts/prepare_iemocap.py writes NPZ when it is absent (audio8 statistics + MiniLM transcripts
#      from SHARED; nothing enters the repository).
#   2. scripts/iemocap_probe.py: the logistic-regression floor -> REPORT/probe.{md,json}.
#   3. `hardymer bench` over METHODS x CONDITIONS x FOLDS x SEEDS -> RUNS/iemocap<CLASSES>, report in
#      REPORT (results.{md,csv,json}: mean ± std over seeds and folds, paired differences, plots).
#      Every run records its per-epoch test curve (train.record_test_curve: never used for selection).
#   4. REPORT/per_fold.md: WA and UA per fold (mean over seeds), and their mean and std over folds.
#   5. REPORT/selection_inflation.md: validation-selected vs test-selected WA from the same runs
#      (scripts/selection_inflation.py).
#   6. REPORT/paired_vs_hardymer.md (when hardymer is among METHODS): each method - hardymer, UA,
#      paired over (fold, seed) (`hardymer compare --reference hardymer`).
# Resumable: finished runs are skipped (rerun the same command after an interruption). Run it from the
# repository root. Usage:
#   bash scripts/reproduce_iemocap.sh [--quick] [CLASSES] [WORKERS]
# Env: METHODS (comma list; default every method of `hardymer list methods`), CONDITIONS (a,t,at),
#   FOLDS (0-4), SEEDS (0-2), SHARED (../shared), NPZ (data/iemocap<CLASSES>.npz), RUNS (runs),
#   REPORT (docs/results/iemocap<CLASSES>), DEVICE (auto), HARDYMER (the command, default hardymer),
#   PYTHON (default python).
# --quick: zero-fill and backbone, folds 0-1, seed 0, 2 epochs, report in RUNS/iemocap<CLASSES>-quick-report.
#   A check that the pipeline works, not a result.
set -euo pipefail
QUICK=0
if [[ "${1:-}" == "--quick" ]]; then QUICK=1; shift; fi
CLASSES=${1:-4}
WORKERS=${2:-2}
HARDYMER=${HARDYMER:-hardymer}
PYTHON=${PYTHON:-python}
SHARED=${SHARED:-../shared}
NPZ=${NPZ:-data/iemocap$CLASSES.npz}
RUNS=${RUNS:-runs}
CONDITIONS=${CONDITIONS:-a,t,at}
DEVICE=${DEVICE:-auto}
HERE="$(dirname "$0")"
if [[ $QUICK == 1 ]]; then
  METHODS=${METHODS:-zero-fill,backbone}; FOLDS=${FOLDS:-0-1}; SEEDS=${SEEDS:-0}
  REPORT=${REPORT:-$RUNS/iemocap$CLASSES-quick-report}
  OUT="$RUNS/quick-iemocap$CLASSES"
  EXTRA=(--epochs 2)
else
  METHODS=${METHODS:-zero-fill,backbone,gru-context,momke,mmin,if-mmin,cif-mmin,gcnet,hardymer}
  FOLDS=${FOLDS:-0-4}; SEEDS=${SEEDS:-0-2}
  REPORT=${REPORT:-docs/results/iemocap$CLASSES}
  OUT="$RUNS/iemocap$CLASSES"
  EXTRA=()
fi
if [[ $CLASSES != 4 && $CLASSES != 6 ]]; then echo "error: CLASSES must be 4 or 6, got $CLASSES" >&2; exit 2; fi

# 1. the dataset (a rerun reuses the file; delete it to rebuild)
if [[ ! -f "$NPZ" ]]; then
  "$PYTHON" "$HERE/prepare_iemocap.py" --classes "$CLASSES" --shared "$SHARED" --out "$NPZ"
fi

# 2. the linear floor (seconds)
mkdir -p "$REPORT"
"$PYTHON" "$HERE/iemocap_probe.py" "$NPZ" -q --json "$REPORT/probe.json" > "$REPORT/probe.md"

# 3. the grid
$HARDYMER bench --dataset npz --root "$NPZ" --methods "$METHODS" --protocol fixed --conditions "$CONDITIONS" \
  --folds "$FOLDS" --seeds "$SEEDS" --device "$DEVICE" --workers "$WORKERS" --out "$OUT" --report "$REPORT" \
  --title "IEMOCAP-$CLASSES (audio8 + MiniLM text, no video), default configs, leave-one-session-out" \
  --set train.record_test_curve=true "${EXTRA[@]}"

# 4. WA / UA per fold
"$PYTHON" - "$REPORT" <<'EOF'
"""REPORT/per_fold.md from REPORT/results.json: test WA and UA per fold (mean over seeds), mean and std over folds."""
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from hardymer._io import atomic_write_text

report = Path(sys.argv[1])
res = json.loads((report / "results.json").read_text())
cells: dict = defaultdict(lambda: defaultdict(list))  # (method, condition) -> fold -> [run]
for r in res["runs"]:
    cells[(r.get("bench_method", r["method"]), r["condition"])][r["fold"]].append(r["test"])
folds = sorted({f for c in cells.values() for f in c})
out = [
    f"# {res['dataset']}: test WA / UA per fold",
    "",
    "Each fold cell is the mean over its seeds; `mean ± std` is over the fold means (selection on validation).",
    "",
]
for metric in ("wa", "ua"):
    out += [f"## {metric.upper()}", "", "| method | condition | " + " | ".join(folds) + " | mean ± std |"]
    out.append("|---|---|" + "---:|" * (len(folds) + 1))
    for (m, c), per in cells.items():
        means = [float(np.mean([t[metric] for t in per[f]])) if per.get(f) else float("nan") for f in folds]
        row = " | ".join(f"{v:.2f}" for v in means)
        out.append(f"| {m} | {c} | {row} | {np.nanmean(means):.2f} ± {np.nanstd(means, ddof=1):.2f} |")
    out.append("")
atomic_write_text(report / "per_fold.md", "\n".join(out))
print(f"per-fold table in {report / 'per_fold.md'}")
EOF

# 5. validation-selected vs test-selected, from the same runs
"$PYTHON" "$HERE/selection_inflation.py" "$OUT" --metric wa --out "$REPORT" \
  --title "IEMOCAP-$CLASSES, default configs, fixed protocol, leave-one-session-out"

# 6. each method - hardymer, UA, paired over (fold, seed) -> REPORT/paired_vs_hardymer.md
if [[ ",$METHODS," == *",hardymer,"* ]]; then
  $HARDYMER compare "$REPORT" --metric ua --reference hardymer --out "$REPORT/paired_vs_hardymer.md" > /dev/null
fi
