#!/usr/bin/env bash
# Retrain the shipped `jsb` model with one command, as it was trained (docs/model-card.md):
#   1. 72 minutes from scratch with random transposition;
#   2. 13 more minutes without transposition, at the end of that run's learning-rate schedule
#      (the JSB test pieces are in their original keys: docs/model.md, "Transposition");
#   3. a second cosine cycle without transposition, peak 1e-3, up to 160 minutes in all;
#   4. grown from 16 to 20 layers (two residual pairs that start as the identity, model.deepen)
#      and trained 110 more minutes without transposition, peak 4e-4, in a second run dir;
#   5. fine-tuned on 128-step crops (batch 10), peak 2e-4, keeping a moving average of the
#      weights (EMA 0.999), until 5 validations in a row bring no gain (about 37 minutes; the
#      best average came at about 20), in a third run dir;
#   6. fine-tuned with dropout 0.25 on 128-step crops, peak 3e-4 on a 60-minute cosine, with
#      the moving average (the shipped model ran it on one thread beside another run, 4,424
#      steps; on two threads the same minutes give more), in a fourth run dir;
#   7. fine-tuned with half of each batch on frame masks (whole steps erased: --mask
#      orderless+frames), otherwise as phase 6, 60 minutes (2,627 steps on a machine that ran
#      about 10 examples/s), in a fifth run dir;
#   8. fine-tuned with dropout of whole feature maps (--dropout 0.15 --dropout-channels) instead
#      of single activations, otherwise as phase 7, on a 105-minute cosine (4,506 steps on one
#      thread beside another run), in a sixth run dir;
# then ship the best validation checkpoint, with its int8 file for CPUs without bf16 (activation
# ranges calibrated on training crops). Wall-clock budgets: times are for 2 CPU cores.
#
#   bash scripts/retrain-jsb.sh path/to/Jsb16thSeparated.npz [run-dir]
set -euo pipefail
data=${1:?usage: scripts/retrain-jsb.sh path/to/Jsb16thSeparated.npz [run-dir]}
run=${2:-runs/jsb}
counterpoint train --data "$data" --preset default --run-dir "$run" --minutes 72 --steps 100000 \
    --eval-every 500 --patience 0
counterpoint train --run-dir "$run" --resume --minutes 85 --no-augment --eval-every 250
counterpoint train --run-dir "$run" --resume --minutes 160 --lr 1e-3 --eval-every 500
counterpoint train --data "$data" --run-dir "$run-20" --init-from "$run/best.pt" --layers 20 \
    --no-augment --lr 4e-4 --minutes 110 --eval-every 500 --patience 0
counterpoint train --data "$data" --run-dir "$run-128" --init-from "$run-20/best.pt" --crop 128 \
    --batch-size 10 --no-augment --lr 2e-4 --ema 0.999 --minutes 90 --eval-every 500 --patience 5
counterpoint train --data "$data" --run-dir "$run-dropout" --init-from "$run-128/best.pt" --dropout 0.25 \
    --crop 128 --batch-size 10 --no-augment --lr 3e-4 --ema 0.999 --minutes 60 --eval-every 500 --patience 0
counterpoint train --data "$data" --run-dir "$run-frames" --init-from "$run-dropout/best.pt" --dropout 0.25 \
    --mask orderless+frames --crop 128 --batch-size 10 --no-augment --lr 3e-4 --ema 0.999 --minutes 60 \
    --eval-every 500 --patience 0
counterpoint train --data "$data" --run-dir "$run-channels" --init-from "$run-frames/best.pt" --dropout 0.15 \
    --dropout-channels --mask orderless+frames --crop 128 --batch-size 10 --no-augment --lr 3e-4 --ema 0.999 \
    --minutes 105 --eval-every 500 --patience 0
counterpoint export "$run-channels/best.pt" src/counterpoint/weights/jsb.pt
counterpoint quantize src/counterpoint/weights/jsb.pt --data "$data"
