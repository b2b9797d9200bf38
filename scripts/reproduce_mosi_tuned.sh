#!/usr/bin/env bash
# Equal-budget tuning on CMU-MOSI (Poria features), then the tuned configs on test.
#   1. `hardymer tune` every method in METHODS with the same budget: fixed protocol, one study per
#      condition (all 7), TRIALS trials each, objective = validation MAE averaged over TUNE_SEEDS.
#      The test split is never read while tuning.
#   2. `hardymer bench --tuned`: each method's tuned config per condition on seeds 0-4 (test reported).
#   3. the release recipe (`--recipe release`) for RELEASE_METHODS on seeds 0-2.
#   4. the default configs on seeds 0-4 (reuses runs/mosi from scripts/reproduce_mosi.sh).
#   5. UNIFIED_METHODS (default gru-context) tuned under the unified protocol (one study, objective =
#      validation MAE averaged over the six missing conditions, UNIFIED_TRIALS trials, default
#      2 x TRIALS), then its default (REPORT/default-unified) and best config (REPORT/tuned-unified)
#      on seeds 0-4.
#   6. a comparison table (default / tuned / release / tuned-unified) in REPORT/summary.md.
# Resumable: finished trials and runs are skipped. Usage:
#   bash scripts/reproduce_mosi_tuned.sh [--quick] [ROOT] [WORKERS]
# Env: METHODS (comma list, default zero-fill,gru-context,backbone,momke,hardymer), TRIALS (12),
#   TUNE_SEEDS (0), RELEASE_METHODS (backbone,hardymer), RUNS (runs), REPORT (docs/results/mosi-tuned),
#   HARDYMER (the command, default hardymer), DEFAULT_METHODS (default: METHODS), DEFAULT_RESULTS
#   (results.json files, comma list, read for default-config methods not run here; a unified-protocol
#   file joins the unified default block).
# --quick: built-in synthetic data (tiny, regression), 2 trials, 1 seed, 2 epochs; REPORT defaults
#   to RUNS/quick-report. A check that the pipeline works, not a result.
set -euo pipefail
QUICK=0
if [[ "${1:-}" == "--quick" ]]; then QUICK=1; shift; fi
ROOT=${1:-../shared/data/mosi-poria}
WORKERS=${2:-2}
HARDYMER=${HARDYMER:-hardymer}
METHODS=${METHODS:-zero-fill,gru-context,backbone,momke,hardymer}
RELEASE_METHODS=${RELEASE_METHODS:-backbone,hardymer}
DEFAULT_METHODS=${DEFAULT_METHODS:-$METHODS}
DEFAULT_RESULTS=${DEFAULT_RESULTS:-}
RUNS=${RUNS:-runs}
UNIFIED_METHODS=${UNIFIED_METHODS-gru-context}
if [[ $QUICK == 1 ]]; then
  TRIALS=${TRIALS:-2}; UNIFIED_TRIALS=${UNIFIED_TRIALS:-2}; TUNE_SEEDS=${TUNE_SEEDS:-0}; SEEDS=0; RELEASE_SEEDS=0
  REPORT=${REPORT:-$RUNS/quick-report}
  DATA=(--dataset synthetic --data-opt size=tiny --data-opt task=regression)
  TUNE_EXTRA=(--set train.epochs=2)   # held fixed, not searched
  BENCH_EXTRA=(--epochs 2)
  TAG=quick-
  RELEASE_METHODS=${RELEASE_METHODS_QUICK:-backbone}  # hardymer's release teacher is 200 epochs
else
  TRIALS=${TRIALS:-12}; UNIFIED_TRIALS=${UNIFIED_TRIALS:-$((2 * TRIALS))}; TUNE_SEEDS=${TUNE_SEEDS:-0}; SEEDS=0-4; RELEASE_SEEDS=0-2
  REPORT=${REPORT:-docs/results/mosi-tuned}
  DATA=(--dataset mosi-poria --root "$ROOT")
  TUNE_EXTRA=()
  BENCH_EXTRA=()
  TAG=
fi
TUNED="$RUNS/${TAG}mosi-tune"
IFS=, read -r -a METHOD_LIST <<< "$METHODS"
CONDS=(a t v at av tv atv)

# 1. tuning (per-condition studies; with WORKERS > 1 the conditions of a method run in parallel)
for m in "${METHOD_LIST[@]}"; do
  if [[ $WORKERS -gt 1 ]]; then
    printf '%s\n' "${CONDS[@]}" | xargs -P "$WORKERS" -I{} $HARDYMER tune "${DATA[@]}" --method "$m" \
      --protocol fixed --per-condition --conditions {} --trials "$TRIALS" --seeds "$TUNE_SEEDS" \
      --out "$TUNED/$m" "${TUNE_EXTRA[@]}"
  fi
  # all conditions in one call: runs what is missing, then writes the method's summary.json/tune.json
  $HARDYMER tune "${DATA[@]}" --method "$m" --protocol fixed --per-condition --conditions all \
    --trials "$TRIALS" --seeds "$TUNE_SEEDS" --out "$TUNED/$m" "${TUNE_EXTRA[@]}"
done

# 2. tuned configs on test
$HARDYMER bench "${DATA[@]}" --methods "$METHODS" --protocol fixed --conditions all --seeds "$SEEDS" \
  --tuned "$TUNED" --out "$RUNS/${TAG}mosi-tuned" --workers "$WORKERS" --report "$REPORT/tuned" \
  --title "CMU-MOSI (Poria features), tuned configs, fixed protocol"

# 3. the defaults (same run folder as scripts/reproduce_mosi.sh: finished runs are reused); methods not
#    in DEFAULT_METHODS are read from DEFAULT_RESULTS (the committed default-config tables)
$HARDYMER bench "${DATA[@]}" --methods "$DEFAULT_METHODS" --protocol fixed --conditions all --seeds "$SEEDS" \
  --out "$RUNS/${TAG}mosi" --workers "$WORKERS" --report "$REPORT/default" \
  --title "CMU-MOSI (Poria features), default configs, fixed protocol" "${BENCH_EXTRA[@]}"

# 4. the release recipe (last: the most expensive step)
$HARDYMER bench "${DATA[@]}" --methods "$RELEASE_METHODS" --protocol fixed --conditions all \
  --seeds "$RELEASE_SEEDS" --recipe release --out "$RUNS/${TAG}mosi-release" --workers "$WORKERS" \
  --report "$REPORT/release" --title "CMU-MOSI (Poria features), release recipe, fixed protocol" "${BENCH_EXTRA[@]}"

# 5. unified protocol: one model for every condition, tuned on the six missing conditions' validation
if [[ -n "$UNIFIED_METHODS" ]]; then
  IFS=, read -r -a UNIFIED_LIST <<< "$UNIFIED_METHODS"
  for m in "${UNIFIED_LIST[@]}"; do
    $HARDYMER tune "${DATA[@]}" --method "$m" --protocol unified --trials "$UNIFIED_TRIALS" \
      --seeds "$TUNE_SEEDS" --out "$RUNS/${TAG}mosi-tune-unified/$m" "${TUNE_EXTRA[@]}"
  done
  # their default configs under the same protocol (same run folder as scripts/reproduce_mosi.sh)
  $HARDYMER bench "${DATA[@]}" --methods "$UNIFIED_METHODS" --protocol unified --conditions all --seeds "$SEEDS" \
    --out "$RUNS/${TAG}mosi" --workers "$WORKERS" --report "$REPORT/default-unified" \
    --title "CMU-MOSI (Poria features), default configs, unified protocol" "${BENCH_EXTRA[@]}"
  $HARDYMER bench "${DATA[@]}" --methods "$UNIFIED_METHODS" --protocol unified --conditions all --seeds "$SEEDS" \
    --tuned "$RUNS/${TAG}mosi-tune-unified" --out "$RUNS/${TAG}mosi-tuned-unified" --workers "$WORKERS" \
    --report "$REPORT/tuned-unified" --title "CMU-MOSI (Poria features), tuned configs, unified protocol"
fi

# 6. comparison
python "$(dirname "$0")/tuned_summary.py" --report "$REPORT" --tuned "$TUNED" --default-results "$DEFAULT_RESULTS" \
  --tuned-unified "$RUNS/${TAG}mosi-tune-unified"
