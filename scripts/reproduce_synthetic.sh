#!/usr/bin/env bash
# The four methods on the built-in synthetic data (classification, 'small': 240 groups), fixed
# protocol, 7 conditions x 3 seeds; validation-selected. Writes docs/results/synthetic-fixed.
# Usage: bash scripts/reproduce_synthetic.sh [WORKERS]
set -euo pipefail
WORKERS=${1:-2}
hardymer bench --dataset synthetic --seeds 0-2 --workers "$WORKERS" --out runs/synthetic \
  --methods zero-fill,backbone,momke,hardymer --protocol fixed --conditions all \
  --report docs/results/synthetic-fixed --title "Synthetic (built-in, classification, small), fixed protocol"
