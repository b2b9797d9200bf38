#!/usr/bin/env bash
# CMU-MOSI (Poria features) under the random missing-rate protocol: one model per rate
# r in {0, 0.1, ..., 0.7} (each (utterance, modality) entry missing with rate r in training, drawn
# per step; validation and test under one stored mask per rate, the same for every method and
# seed), default configs, seeds 0-4, every method. Every run records its per-epoch test curve
# (train.record_test_curve, never used for selection).
#   1. one `hardymer bench` per method (so finished methods are usable while later ones run);
#   2. one `hardymer bench` over all of METHODS: every run is found finished, the report is written
#      (REPORT/results.{md,csv,json}: per-rate table, auc, paired differences; curve_*.png);
#   3. REPORT/selection_inflation.md: validation- vs test-selected MAE from the same runs.
# Resumable: finished runs are skipped (rerun the same command after an interruption). Usage:
#   bash scripts/reproduce_mosi_random.sh [ROOT] [WORKERS]
# Env: METHODS (comma list; default every method), RATES (sweep), MASK (independent | cpm),
#   SEEDS (0-4), RUNS (runs), REPORT (docs/results/mosi-random), HARDYMER (the command), PYTHON (python).
set -euo pipefail
ROOT=${1:-../shared/data/mosi-poria}
WORKERS=${2:-2}
HARDYMER=${HARDYMER:-hardymer}
PYTHON=${PYTHON:-python}
METHODS=${METHODS:-zero-fill,backbone,hardymer,mmin,gru-context,momke,if-mmin,cif-mmin,gcnet}
RATES=${RATES:-sweep}
MASK=${MASK:-independent}
SEEDS=${SEEDS:-0-4}
RUNS=${RUNS:-runs}
REPORT=${REPORT:-docs/results/mosi-random}
OUT="$RUNS/mosi-random-$MASK"
TITLE="CMU-MOSI (Poria features), random missing-rate protocol ($MASK masks), default configs"
COMMON=(--dataset mosi-poria --root "$ROOT" --protocol random --missing-rates "$RATES" --mask "$MASK"
  --seeds "$SEEDS" --workers "$WORKERS" --out "$OUT" --set train.record_test_curve=true)
IFS=',' read -ra EACH <<< "$METHODS"
for m in "${EACH[@]}"; do
  $HARDYMER bench "${COMMON[@]}" --methods "$m" --report "$OUT/report-$m" --title "$TITLE" > /dev/null
done
$HARDYMER bench "${COMMON[@]}" --methods "$METHODS" --report "$REPORT" --title "$TITLE" > /dev/null
"$PYTHON" "$(dirname "$0")/selection_inflation.py" "$OUT" --metric mae --out "$REPORT" \
  --title "CMU-MOSI (Poria features), random missing-rate protocol, default configs, seeds $SEEDS"
echo "results in $REPORT"
