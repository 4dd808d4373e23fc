#!/usr/bin/env bash
# Retrain the page's browser network with one command, as it was trained (docs/model-card.md,
# "The browser network"), in two runs on the JSB train split, both distilled from the shipped
# jsb product (the `browser` recipe: 20 layers x 40 filters, half of each erased note's target
# the teacher's distribution):
#   1. from scratch, the recipe's 2,500-step cosine (sessions 33-34 stopped it at 2,143);
#   2. from run 1's last weights, a 5,000-step cosine at a peak of 5e-4 (session 37);
# then run 2's last weights (they validate better than their moving average: 0.4214 against
# 0.4234) exported in half precision, and the int8 file the page downloads (activation ranges
# calibrated on training crops). Rerun to resume a stopped run from its last.pt (a finished run
# resumes to no steps). The shipped jsb model must be installed (the teacher).
#
#   bash scripts/retrain-browser.sh path/to/Jsb16thSeparated.npz [run-dir]
set -euo pipefail
data=${1:?usage: scripts/retrain-browser.sh path/to/Jsb16thSeparated.npz [run-dir]}
run=${2:-runs/browser}
on="$run-on"
if [ -f "$run/last.pt" ]; then
  counterpoint train --run-dir "$run" --resume
else
  counterpoint train --recipe browser --data "$data" --run-dir "$run"
fi
if [ -f "$on/last.pt" ]; then
  counterpoint train --run-dir "$on" --resume
else
  counterpoint train --recipe browser --data "$data" --run-dir "$on" \
    --init-from "$run/last.pt" --lr 5e-4 --steps 5000
fi
counterpoint export "$on/last.pt" src/counterpoint/weights/browser.pt --raw
counterpoint quantize src/counterpoint/weights/browser.pt --data "$data"
