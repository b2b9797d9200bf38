#!/usr/bin/env bash
# Validation-selected vs test-selected on CMU-MOSI (Poria features), fixed protocol, default configs,
# seeds 0-4, all seven conditions: every run records its per-epoch test curve
# (train.record_test_curve, never used for selection), then scripts/selection_inflation.py writes
# REPORT/selection_inflation.md (MAE: the selection metric) beside the bench report.
# Resumable: finished runs are skipped. Usage:
#   bash scripts/reproduce_mosi_inflation.sh [ROOT] [WORKERS]
# Env: METHODS (comma list; default every method), SEEDS (0-4), RUNS (runs),
#   REPORT (docs/results/mosi-inflation), HARDYMER (the command), PYTHON (python).
set -euo pipefail
ROOT=${1:-../shared/data/mosi-poria}
WORKERS=${2:-2}
HARDYMER=${HARDYMER:-hardymer}
PYTHON=${PYTHON:-python}
METHODS=${METHODS:-zero-fill,gru-context,backbone,momke,mmin,if-mmin,cif-mmin,gcnet,hardymer}
SEEDS=${SEEDS:-0-4}
RUNS=${RUNS:-runs}
REPORT=${REPORT:-docs/results/mosi-inflation}
OUT="$RUNS/mosi-inflation"
$HARDYMER bench --dataset mosi-poria --root "$ROOT" --methods "$METHODS" --protocol fixed --conditions all \
  --seeds "$SEEDS" --workers "$WORKERS" --out "$OUT" --report "$REPORT" --set train.record_test_curve=true \
  --title "CMU-MOSI (Poria features), default configs, fixed protocol, test curve recorded"
"$PYTHON" "$(dirname "$0")/selection_inflation.py" "$OUT" --metric mae --out "$REPORT" \
  --title "CMU-MOSI (Poria features), default configs, fixed protocol, seeds $SEEDS"
