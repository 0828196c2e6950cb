#!/usr/bin/env bash
# The proof that the proxy generator learns (issue 5): render 3 scenes of 4 views, train
# the `small` model on them until it overfits, then sample their proxies from the images
# (4 views, K = 3, 1-8 denoising steps) and fit the body to those proxies. Each step
# resumes: a rerun skips finished scenes and continues the training from its latest
# checkpoint.
#
#   scripts/overfit_proof.sh [OUT] [STEPS]     (defaults: proof, 4000; ~100 min on 2 CPU cores; the
#   learning rate decays along a cosine to 0 at STEPS)
set -euo pipefail
OUT=${1:-proof}
STEPS=${2:-4000}
BIN=${DIFFPROXY:-.venv/bin/diffproxy}

"$BIN" render --out "$OUT/data" --scenes 3 --num-views 4 --seed 1
"$BIN" train "$OUT/data" --config small --out "$OUT/ckpt" --resume --max-steps "$STEPS" --batch-size 1 \
  --lr 1e-3 --warmup-steps 50 --min-views 4 --max-views 4 --hand-crops 0 --no-augment --workers 0 --save-every 250
for steps in 1 2 4 8; do
  "$BIN" evaluate "$OUT/data" --proxies model-only --checkpoint "$OUT/ckpt" --num-views 4 --samples 3 --steps "$steps" \
    --json | tail -n 1 | tee "$OUT/model_steps_$steps.json"
done
"$BIN" evaluate "$OUT/data" --proxies gt --num-views 4 --json | tail -n 1 | tee "$OUT/oracle.json"
