#!/usr/bin/env bash
# Retrain the shipped `bach` model with one command (docs/model-card.md, "bach"): the shipped
# `jsb` product (both networks together) fine-tuned on every four-voice chorale in music21's
# corpus (`--data music21-all`: all of them in training; the valid split only watches the run),
# with the `jsb` recipe at a peak learning rate of 3e-4 on a 55-minute cosine; then its
# half-precision weights and its int8 file. Rerun to resume a stopped run from its last.pt.
#
#   bash scripts/retrain-bach.sh [run-dir] [minutes]
set -euo pipefail
run=${1:-runs/bach}
minutes=${2:-55}
if [ -f "$run/last.pt" ]; then
    counterpoint train --run-dir "$run" --resume
else
    counterpoint train --recipe jsb --data music21-all --run-dir "$run" \
        --init-from src/counterpoint/weights/jsb.pt --lr 3e-4 --minutes "$minutes" --steps 100000 \
        --eval-every 250
fi
counterpoint export "$run/best.pt" src/counterpoint/weights/bach.pt
counterpoint quantize src/counterpoint/weights/bach.pt --data music21-all
