#!/usr/bin/env bash
# The weight-decay candidate (session 21): the shipped model's recipe (scripts/retrain-jsb.sh)
# with --weight-decay 0.1, 18,000 steps from scratch, about 18 hours on two cores. It trains in
# runs/wd; each session resumes it from the checkpoint committed here and, at its end, commits
# the run's state back:
#   cp runs/wd/{last.pt,config.json,log.csv} candidates/wd/
#   counterpoint export runs/wd/best.pt candidates/wd/best.pt
set -euo pipefail
data=${1:?usage: bash candidates/wd/train.sh path/to/Jsb16thSeparated.npz}
here=$(dirname "$0")
run=runs/wd
if [[ ! -f $run/last.pt && -f $here/last.pt ]]; then
    mkdir -p "$run"
    cp "$here/last.pt" "$here/config.json" "$here/log.csv" "$run/"
    # the best validated weights so far, as exported (a later better step replaces them)
    cp "$here/best.pt" "$run/best.pt"
fi
if [[ -f $run/last.pt ]]; then
    exec nice -n 19 counterpoint train --run-dir "$run" --resume
fi
exec nice -n 19 counterpoint train --data "$data" --run-dir "$run" --preset default --layers 20 \
    --dilations 1x1,2x2,4x4,8x8 --dropout 0.15 --dropout-channels --mask orderless+frames --crop 128 \
    --batch-size 10 --no-augment --lr 1e-3 --ema 0.999 --steps 18000 --eval-every 500 --patience 0 \
    --weight-decay 0.1
