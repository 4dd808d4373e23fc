#!/usr/bin/env bash
# Train the next candidate model from scratch on the CPU, across sessions: 20 layers x 64
# filters with time and pitch dilated 1,2,4,8 (reach ±65 steps), phase 8's recipe, 18,000 steps
# (docs/model.md, "Reach in time beats fine-tuning": 9,000 only reach the shipped model's level).
# About 17 hours with two threads of an AVX2 CPU (3 examples/s), fewer with native bf16.
#
#   bash scripts/train-reach.sh path/to/Jsb16thSeparated.npz [run-dir]   # start, or resume
#   bash scripts/train-reach.sh --save [run-dir]                          # keep progress in git
#
# A run directory that holds last.pt resumes. A missing one is restored from candidates/reach/
# (what --save copied there at the end of the last session, best.pt included) and resumed; with
# nothing to restore, a new run starts. Stop the run (Ctrl-C or kill) before --save.
set -euo pipefail
saved=candidates/reach
if [[ ${1:-} == --save ]]; then
    run=${2:-runs/reach}
    mkdir -p "$saved"
    for file in last.pt config.json log.csv; do
        cp "$run/$file" "$saved/$file.tmp" && mv "$saved/$file.tmp" "$saved/$file"
    done
    # the best validated weights so far, without optimizer state (1.4 MB): a later session
    # that restores the run keeps them as its best.pt instead of losing them
    if [[ -f $run/best.pt ]]; then
        counterpoint export "$run/best.pt" "$saved/best.pt" > /dev/null
    fi
    echo "saved $run to $saved: commit it"
    exit 0
fi
data=${1:?usage: scripts/train-reach.sh path/to/Jsb16thSeparated.npz [run-dir] | --save [run-dir]}
run=${2:-runs/reach}
if [[ ! -f $run/last.pt && -f $saved/last.pt ]]; then
    mkdir -p "$run" && cp "$saved/last.pt" "$saved/config.json" "$saved/log.csv" "$run/"
    if [[ -f $saved/best.pt ]]; then cp "$saved/best.pt" "$run/"; fi
fi
if [[ -f $run/last.pt ]]; then
    exec counterpoint train --run-dir "$run" --resume
fi
exec counterpoint train --data "$data" --run-dir "$run" --preset default --layers 20 \
    --dilations 1x1,2x2,4x4,8x8 --dropout 0.15 --dropout-channels --mask orderless+frames --crop 128 \
    --batch-size 10 --no-augment --lr 1e-3 --ema 0.999 --steps 18000 --eval-every 500 --patience 0
