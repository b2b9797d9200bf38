#!/usr/bin/env bash
# Does HARDY-MER's curriculum help, and when? Regenerates docs/verdict.md (and its plots).
#
#   0. tune `backbone` and `hardymer` with the same budget (TRIALS trials, TPE on validation MAE,
#      conditions a + at in one study, seed TUNE_SEEDS) on the private-signal testbed
#      (`--dataset synthetic --data-opt scenario=private`, beta 1.5, rho 0.4, size small);
#   1. P1/P4 grid with the tuned configs, seeds SEEDS: beta in {0, 1.5} x rho in {0.2, 0.4},
#      conditions a and at, size small;
#   2. P2/P3 at the main cell (beta 1.5, rho 0.4, small, condition a): allocation by h vs random h
#      vs fixed k at the same share, k = K for all, no retrieval, random neighbours, sequential
#      view steps (each preset with hardymer's tuned config and the preset's options on top);
#   3. repairs, reported as variants: a longer stage 2 (STAGE2_STEPS optimizer steps, no early
#      stop) for hardymer and, for a fair pairing, for the backbone;
#   4. a 3x larger training set (size large) at rho 0.4, beta in {0, 1.5}, conditions a and at;
#   5. the release recipe (`--recipe release`) for backbone and hardymer at the main cell
#      (RELEASE=0 skips it: it is the most expensive step);
#   6. the report: docs/verdict.md from the run folders, plus the CMU-MOSI tables named in
#      MOSI_RESULTS (results.json files from scripts/reproduce_mosi_tuned.sh and
#      scripts/reproduce_mosi.sh).
# Resumable: finished trials and runs are skipped. Test is never read while tuning; every cell is
# selected on validation. Usage:
#   bash scripts/verdict.sh [--quick] [WORKERS]
# Env: RUNS (runs), TRIALS (10), TUNE_SEEDS (100), SEEDS (0-4), STAGE2_STEPS (300), RELEASE (1),
#   REPORT (docs/verdict.md), MOSI_RESULTS (comma list), HARDYMER (the command).
# --quick: tiny testbed, 2 trials, seeds 0-1, 2 epochs, one cell of each part, report under RUNS.
set -euo pipefail
QUICK=0
if [[ "${1:-}" == "--quick" ]]; then QUICK=1; shift; fi
WORKERS=${1:-1}
HARDYMER=${HARDYMER:-hardymer}
RUNS=${RUNS:-runs}
RELEASE=${RELEASE:-1}
TB=(--dataset synthetic --data-opt scenario=private)
if [[ $QUICK == 1 ]]; then
  OUT="$RUNS/verdict-quick"; TRIALS=${TRIALS:-2}; TUNE_SEEDS=${TUNE_SEEDS:-100}; SEEDS=${SEEDS:-0-1}
  SIZES=(tiny); LARGE=(); BETAS=(1.5); RHOS=(0.4); STAGE2_STEPS=${STAGE2_STEPS:-20}
  EXTRA=(--set train.epochs=2); BEXTRA=(--epochs 2); MAIN_SIZE=tiny; RELEASE=0
  REPORT=${REPORT:-$OUT/verdict.md}; MOSI_RESULTS=${MOSI_RESULTS:-}; README_ARGS=()
else
  OUT="$RUNS/verdict"; TRIALS=${TRIALS:-10}; TUNE_SEEDS=${TUNE_SEEDS:-100}; SEEDS=${SEEDS:-0-4}
  SIZES=(small); LARGE=(large); BETAS=(0 1.5); RHOS=(0.2 0.4); STAGE2_STEPS=${STAGE2_STEPS:-300}
  EXTRA=(); BEXTRA=(); MAIN_SIZE=small
  REPORT=${REPORT:-docs/verdict.md}; README_ARGS=(--readme README.md)
  MOSI_RESULTS=${MOSI_RESULTS:-docs/results/mosi-fixed/results.json,docs/results/mosi-ablation/results.json,docs/results/mosi-tuned/tuned/results.json}
fi
MAIN=(--data-opt beta=1.5 --data-opt rho=0.4 --data-opt size=$MAIN_SIZE)

# 0. equal-budget tuning on the testbed's validation split
for m in backbone hardymer; do
  $HARDYMER tune "${TB[@]}" "${MAIN[@]}" --method "$m" --protocol fixed --conditions a,at \
    --trials "$TRIALS" --seeds "$TUNE_SEEDS" --out "$OUT/tuned/$m" "${EXTRA[@]}"
done

cell() {  # cell BETA RHO SIZE METHODS CONDITIONS [extra bench args...]
  local beta=$1 rho=$2 size=$3 methods=$4 conds=$5; shift 5
  $HARDYMER bench "${TB[@]}" --data-opt beta="$beta" --data-opt rho="$rho" --data-opt size="$size" \
    --methods "$methods" --conditions "$conds" --seeds "$SEEDS" --tuned "$OUT/tuned" --reference backbone \
    --workers "$WORKERS" --out "$OUT/p1/b$beta-r$rho-$size" \
    --title "testbed beta=$beta rho=$rho size=$size, tuned configs" "${BEXTRA[@]}" "$@"
}

# 1. P1 / P4
for size in "${SIZES[@]}"; do for beta in "${BETAS[@]}"; do for rho in "${RHOS[@]}"; do
  cell "$beta" "$rho" "$size" backbone,hardymer a,at
done; done; done

# 2. P2 / P3 (same folder as the main cell: backbone and hardymer are reused)
cell 1.5 0.4 "$MAIN_SIZE" \
  backbone,hardymer,hardymer-random-h,hardymer-fixed-k,hardymer-all-k,hardymer-no-retrieval,hardymer-random-nb,hardymer-seq a

# 3. repairs: a longer stage 2 for both methods (no early stopping)
$HARDYMER bench "${TB[@]}" "${MAIN[@]}" --methods backbone,hardymer --conditions a --seeds "$SEEDS" \
  --tuned "$OUT/tuned" --reference backbone --workers "$WORKERS" --out "$OUT/long-stage2" \
  --set train.stage2_steps="$STAGE2_STEPS" --set train.patience=0 \
  --title "testbed main cell, tuned configs, stage 2 = $STAGE2_STEPS optimizer steps" "${BEXTRA[@]}"

# 4. a 3x larger training set (P1 / P4 at rho 0.4)
for size in "${LARGE[@]}"; do for beta in "${BETAS[@]}"; do
  cell "$beta" 0.4 "$size" backbone,hardymer a,at
done; done

# 5. the release recipe
if [[ $RELEASE == 1 ]]; then
  $HARDYMER bench "${TB[@]}" "${MAIN[@]}" --methods backbone,hardymer --conditions a --seeds "$SEEDS" \
    --recipe release --reference backbone --workers "$WORKERS" --out "$OUT/release" \
    --title "testbed main cell, release recipe"
fi

# 6. the verdict
python "$(dirname "$0")/verdict_report.py" --runs "$OUT" --out "$REPORT" --mosi-results "$MOSI_RESULTS" "${README_ARGS[@]}"
