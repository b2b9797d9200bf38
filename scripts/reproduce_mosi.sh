#!/usr/bin/env bash
# Regenerates every CMU-MOSI (Poria features) number in README.md and docs/results/:
#   fixed protocol, 4 methods x 7 conditions x 5 seeds; the ablation table (6 missing conditions,
#   3 seeds); the unified protocol (one model per method and seed, evaluated on all 7 conditions).
# Honest protocol: best epoch on validation (10 Poria-test videos), test = the other 21 videos.
# Resumable: rerunning skips finished runs. Usage: bash scripts/reproduce_mosi.sh [ROOT] [WORKERS]
set -euo pipefail
ROOT=${1:-../shared/data/mosi-poria}
WORKERS=${2:-2}
COMMON=(--dataset mosi-poria --root "$ROOT" --seeds 0-4 --out runs/mosi --workers "$WORKERS")

hardymer bench "${COMMON[@]}" --methods zero-fill,backbone,momke,hardymer --protocol fixed \
  --conditions all --report docs/results/mosi-fixed --title "CMU-MOSI (Poria features), fixed protocol"

# ablations: 3 seeds (0-2) to fit the compute budget of a 2-core machine
hardymer bench --dataset mosi-poria --root "$ROOT" --seeds 0-2 --out runs/mosi --workers "$WORKERS" --protocol fixed --conditions missing \
  --methods backbone,hardymer,hardymer-no-dh,hardymer-no-ih,hardymer-fixed-k,hardymer-random-h,hardymer-no-retrieval \
  --report docs/results/mosi-ablation --title "CMU-MOSI (Poria features), HARDY-MER ablations, fixed protocol"

hardymer bench "${COMMON[@]}" --methods zero-fill,backbone,momke,hardymer --protocol unified \
  --report docs/results/mosi-unified --title "CMU-MOSI (Poria features), unified protocol"

# MiniLM text features from the raw transcripts (hardymer extract, offline) next to the
# CNN text features, for the conditions that contain text; same split and seeds.
python scripts/mosi_text_manifest.py --transcripts "$ROOT/transcripts.csv" --out runs/extract/mosi-text-manifest.csv
hardymer extract --manifest runs/extract/mosi-text-manifest.csv --out runs/extract/mosi-minilm.npz \
  --text-backend minilm --cache runs/extract/cache
hardymer bench --dataset mosi-poria --root "$ROOT" --seeds 0-4 --workers "$WORKERS" --out runs/mosi-minilm \
  --data-opt text_features=runs/extract/mosi-minilm.npz --methods zero-fill,backbone,hardymer \
  --protocol fixed --conditions t,at,tv,atv --report docs/results/mosi-minilm-text \
  --title "CMU-MOSI, MiniLM text features (hardymer extract) instead of the CNN text features, fixed protocol"
python scripts/update_readme_results.py
