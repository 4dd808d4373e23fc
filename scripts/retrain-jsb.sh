#!/usr/bin/env bash
# Retrain the shipped `jsb` model with one command, as it was trained (docs/model-card.md): two
# runs of scripts/train-jsb.sh's recipe, the second with weight decay 0.1 (rerun this command to
# resume a stopped run from its last.pt; a finished run resumes to no steps), each run's best
# validated moving average combined into one product of experts, then its int8 file for the
# sampler (activation ranges calibrated on training crops).
#
#   bash scripts/retrain-jsb.sh path/to/Jsb16thSeparated.npz [run-dir]
set -euo pipefail
data=${1:?usage: scripts/retrain-jsb.sh path/to/Jsb16thSeparated.npz [run-dir]}
run=${2:-runs/jsb}
bash "$(dirname "$0")/train-jsb.sh" "$data" "$run"
bash "$(dirname "$0")/train-jsb.sh" "$data" "$run-wd" --weight-decay 0.1
counterpoint combine "$run/best.pt" "$run-wd/best.pt" -o src/counterpoint/weights/jsb.pt
counterpoint quantize src/counterpoint/weights/jsb.pt --data "$data"
