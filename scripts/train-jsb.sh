#!/usr/bin/env bash
# Train one of the shipped `jsb` model's two networks with their recipe (`--recipe jsb`, in
# counterpoint.training.config; docs/model-card.md), or
# resume the run where it stopped: the 20-layer, 64-filter network dilated 1,2,4,8 in time as
# well as pitch (reach ±65 steps), from scratch, on 128-step crops at batch 10 without
# transposition, with orderless and frame masks (half of each batch), dropout of whole feature
# maps (0.15), Adam at a peak of 1e-3 on an 18,000-step cosine, validated every 500 steps on the
# moving average of its weights (0.999). About 20 hours on two AVX2 cores (about 3 examples/s).
# Options after the run dir are added to a new run's `counterpoint train` (the second network's:
# --weight-decay 0.1).
#
#   bash scripts/train-jsb.sh path/to/Jsb16thSeparated.npz [run-dir] [train options...]
set -euo pipefail
data=${1:?usage: scripts/train-jsb.sh path/to/Jsb16thSeparated.npz [run-dir] [train options...]}
run=${2:-runs/jsb}
if [[ -f $run/last.pt ]]; then
    exec counterpoint train --run-dir "$run" --resume
fi
exec counterpoint train --recipe jsb --data "$data" --run-dir "$run" "${@:3}"
