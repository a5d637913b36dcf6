#!/usr/bin/env bash
# The general model's large setting on one lent GPU, as one prepared run (the device tool gives
# about 15 minutes in all, so the data is generated on CPU beforehand and carried along):
#
#   DATA=data/general_d2,data/general_d4,data/general_d6 OUT=$OUT/general_large MINUTES=8 \
#       bash training/gpu_general.sh
#
# Trains the physics arm at d_model 256 / 6 layers with bf16 autocast (train_general picks
# CUDA when present), resumable (RESUME=1 continues OUT/ckpt.pt), then exports the NumPy file
# and evaluates it on fresh random networks (the same seeds as the CPU model's evaluation, so
# the two tables compare side by side). On a CPU-only machine the same script runs, slowly
# (MINUTES bounds the training; a smoke run: MINUTES=0.2 EVAL_N=0).
set -euo pipefail
DATA=${DATA:?set DATA to the comma-separated shard directories}
OUT=${OUT:-runs/general_large}
MINUTES=${MINUTES:-8}
EVAL_N=${EVAL_N:-1}
PY=${PYTHON:-python}
mkdir -p "$OUT"
start=$(date +%s)
$PY -m training.train_general --out "$OUT" --data "$DATA" --physics --n-iters 8 \
    --d-model 256 --n-heads 8 --n-local-heads 4 --n-layers 6 --d-ff 512 \
    --batch-size 128 --lr 5e-4 --warmup 200 --max-steps 20000 --max-minutes "$MINUTES" \
    --ckpt-every 200 --eval-every 500 --log-every 50 ${RESUME:+--resume} | tee -a "$OUT/train.log"
$PY -m training.export_general "$OUT/model.pt" "$OUT/general.npz"
if [ "$EVAL_N" -gt 0 ]; then
    $PY -m training.evaluate_general --model "$OUT/general.npz" --n "$EVAL_N" \
        --json "$OUT/eval_random.json" | tee "$OUT/eval_random.log"
fi
echo "gpu_general: $(( $(date +%s) - start )) s in all -> $OUT"
