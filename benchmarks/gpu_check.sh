#!/usr/bin/env bash
# The prepared check for a lent CUDA GPU: the test suite's CUDA subset, then the grid benchmark
# on --device cuda (today's path vs shared stage 1 + bf16) and a stage-2 epoch fp32 vs bf16, then
# bench_members.py on cuda (M backbone members one after the other vs model-batched; MEMBERS_MAX),
# then a backbone table trained run by run vs with train.batch_members=7 (bench_members_table.py).
# Figures go to $OUT (if set; else runs/gpu-check). Run from the repository root:
#
#   benchmarks/gpu_check.sh [MOSI_ROOT]      # MOSI_ROOT default ../shared/data/mosi-poria
#
# Without the real data the grid runs on the synthetic dataset. GRID_CONDITIONS / GRID_SCALE
# shorten the grid (defaults: all 7 conditions, the full release schedule).
set -uo pipefail
ROOT=${1:-../shared/data/mosi-poria}
DEST=${OUT:-runs/gpu-check}
GRID_CONDITIONS=${GRID_CONDITIONS:-a,t,v,at,av,tv,atv}
GRID_SCALE=${GRID_SCALE:-1.0}
export PYTHONPATH=${PWD}/src${PYTHONPATH:+:$PYTHONPATH} OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$DEST"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), 'bf16', torch.cuda.is_available() and torch.cuda.is_bf16_supported())"
} > "$DEST/machine.txt" 2>&1
cat "$DEST/machine.txt"

echo "== CUDA tests"
python -m pytest -q -m cuda -p no:cacheprovider -rs tests 2>&1 | tee "$DEST/pytest_cuda.txt"
tests_rc=${PIPESTATUS[0]}

if [ -d "$ROOT" ]; then DATA=(--dataset mosi-poria --root "$ROOT"); else DATA=(--dataset synthetic); fi
echo "== grid benchmark on cuda (${DATA[*]}, conditions $GRID_CONDITIONS, epochs x$GRID_SCALE)"
# on cuda the table adds wall seconds per run (process CPU seconds are not the cost there)
/usr/bin/time -v python benchmarks/bench_grid.py "${DATA[@]}" --recipe release --device cuda \
  --conditions "$GRID_CONDITIONS" --epochs-scale "$GRID_SCALE" --stage2-epoch --json "$DEST/grid_cuda.json" \
  > "$DEST/grid_cuda.txt" 2> "$DEST/grid_cuda.log"
grid_rc=$?
cat "$DEST/grid_cuda.txt"

echo "== model-batched members on cuda (wall seconds per member-step, M up to ${MEMBERS_MAX:-200})"
python benchmarks/bench_members.py "${DATA[@]}" --device cuda --members "1,10,35,100,${MEMBERS_MAX:-200}" \
  --steps 20 --warmup 3 --out "$DEST/members_cuda.json" > "$DEST/members_cuda.txt" 2>&1
members_rc=$?
cat "$DEST/members_cuda.txt"
echo "== a backbone table on cuda, run by run vs train.batch_members=7 (seeds 0-${TABLE_SEEDS_MAX:-4})"
python benchmarks/bench_members_table.py "${DATA[@]}" --device cuda --seeds "0-${TABLE_SEEDS_MAX:-4}" \
  --out "$DEST/members_table" --fresh --json "$DEST/members_table_cuda.json" > "$DEST/members_table_cuda.txt" 2>&1
table_rc=$?
tail -12 "$DEST/members_table_cuda.txt"
echo "tests rc=$tests_rc grid rc=$grid_rc members rc=$members_rc table rc=$table_rc" | tee "$DEST/status.txt"
[ "$tests_rc" -eq 0 ] && [ "$grid_rc" -eq 0 ] && [ "$members_rc" -eq 0 ] && [ "$table_rc" -eq 0 ]
