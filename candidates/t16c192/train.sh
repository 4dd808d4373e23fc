#!/usr/bin/env bash
# A speculative CPU run (session 26, no GPU lent): the shipped recipe with weight decay 0.1
# (candidates/wd), reach ±102 steps instead of ±65 (time dilations up to 16, the same cost per
# sampling pass) and 192-step crops at batch 7 (the same steps per batch, so the same cost per
# training step), 18,000 steps from scratch: recipe_study.py's `reach-crops` arm t16-c192 at
# full length. About 8 hours on two cores, resumed across sessions. It trains in runs/t16c192;
# each session resumes it from the checkpoint committed here and, at its end, commits the
# run's state back:
#   cp runs/t16c192/{last.pt,config.json,log.csv} candidates/t16c192/
#   counterpoint export runs/t16c192/best.pt candidates/t16c192/best.pt
# Its validation windows are 192 steps long, so its losses do not compare with the shipped
# run's; it is judged on the paper's protocol (candidates/valid, docs/model.md).
set -euo pipefail
data=${1:?usage: bash candidates/t16c192/train.sh path/to/Jsb16thSeparated.npz}
here=$(dirname "$0")
run=runs/t16c192
if [[ ! -f $run/last.pt && -f $here/last.pt ]]; then
    mkdir -p "$run"
    # best.pt: the best validated weights so far, as exported (a later better step replaces them)
    cp "$here/last.pt" "$here/config.json" "$here/log.csv" "$here/best.pt" "$run/"
fi
exec nice -n 19 bash "$here/../../scripts/train-jsb.sh" "$data" "$run" --weight-decay 0.1 \
    --dilations 1x1,2x2,4x4,8x8,16x8 --crop 192 --batch-size 7
