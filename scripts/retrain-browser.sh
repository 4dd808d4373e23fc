#!/usr/bin/env bash
# Retrain the page's browser network with one command, as it was trained (docs/model-card.md,
# "The browser network"): the `browser` recipe (20 layers x 40 filters, distilled from the
# shipped jsb product) on the JSB train split (rerun to resume a stopped run from its last.pt),
# its weights exported in half precision, then the int8 file the page downloads (activation
# ranges calibrated on training crops). The shipped jsb model must be installed (the teacher).
#
#   bash scripts/retrain-browser.sh path/to/Jsb16thSeparated.npz [run-dir]
set -euo pipefail
data=${1:?usage: scripts/retrain-browser.sh path/to/Jsb16thSeparated.npz [run-dir]}
run=${2:-runs/browser}
if [ -f "$run/last.pt" ]; then
  counterpoint train --run-dir "$run" --resume
else
  counterpoint train --recipe browser --data "$data" --run-dir "$run"
fi
counterpoint export "$run/last.pt" src/counterpoint/weights/browser.pt --raw  # its last weights: see the card
counterpoint quantize src/counterpoint/weights/browser.pt --data "$data"
