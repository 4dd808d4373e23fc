#!/usr/bin/env bash
# Retrain the shipped `jsb` model with one command, as it was trained (docs/model-card.md): the
# 20-layer, 64-filter network dilated 1,2,4,8 in time as well as pitch (reach ±65 steps), from
# scratch on the JSB train split, on 128-step crops at batch 10 without transposition, with
# orderless and frame masks (half of each batch), dropout of whole feature maps (0.15), Adam at
# a peak of 1e-3 on an 18,000-step cosine, validated every 500 steps on the moving average of
# its weights (0.999); then ship the best validated average (the shipped one: step 15,000) with
# its int8 file for CPUs without bf16 (activation ranges calibrated on training crops).
# About 20 hours on two AVX2 cores (about 3 examples/s); rerun the same command to resume a
# stopped run from its last.pt.
#
#   bash scripts/retrain-jsb.sh path/to/Jsb16thSeparated.npz [run-dir]
set -euo pipefail
data=${1:?usage: scripts/retrain-jsb.sh path/to/Jsb16thSeparated.npz [run-dir]}
run=${2:-runs/jsb}
if [[ -f $run/last.pt ]]; then
    counterpoint train --run-dir "$run" --resume
else
    counterpoint train --data "$data" --run-dir "$run" --preset default --layers 20 \
        --dilations 1x1,2x2,4x4,8x8 --dropout 0.15 --dropout-channels --mask orderless+frames --crop 128 \
        --batch-size 10 --no-augment --lr 1e-3 --ema 0.999 --steps 18000 --eval-every 500 --patience 0
fi
counterpoint export "$run/best.pt" src/counterpoint/weights/jsb.pt
counterpoint quantize src/counterpoint/weights/jsb.pt --data "$data"
