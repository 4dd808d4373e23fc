#!/usr/bin/env bash
# Retrain the shipped `jsb` model with one command, as it was trained (docs/model-card.md):
# scripts/train-jsb.sh (its recipe; rerun this command to resume a stopped run from its
# last.pt), then ship the best validated moving average (the shipped one: step 15,000) with its
# int8 file for CPUs without bf16 (activation ranges calibrated on training crops).
#
#   bash scripts/retrain-jsb.sh path/to/Jsb16thSeparated.npz [run-dir]
set -euo pipefail
data=${1:?usage: scripts/retrain-jsb.sh path/to/Jsb16thSeparated.npz [run-dir]}
run=${2:-runs/jsb}
bash "$(dirname "$0")/train-jsb.sh" "$data" "$run"
counterpoint export "$run/best.pt" src/counterpoint/weights/jsb.pt
counterpoint quantize src/counterpoint/weights/jsb.pt --data "$data"
