#!/usr/bin/env bash
# The weight-decay candidate (session 21): the shipped model's recipe (scripts/train-jsb.sh) with
# --weight-decay 0.1, 18,000 steps from scratch, about 18 hours on two cores. It trains in
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
    # best.pt: the best validated weights so far, as exported (a later better step replaces them)
    cp "$here/last.pt" "$here/config.json" "$here/log.csv" "$here/best.pt" "$run/"
fi
exec nice -n 19 bash "$here/../../scripts/train-jsb.sh" "$data" "$run" --weight-decay 0.1
