#!/usr/bin/env bash
# The shipped model's own run, finished (session 24's plan). The shipped weights are that run's
# moving average at step 15,000; session 18 stopped the run at 16,531 of its 18,000-step
# schedule, when validation loss had stopped improving. The weight-decay run (candidates/wd)
# gained about 0.007 on the paper's protocol in its last 5,000 steps while its validation loss
# moved by 0.0003 (docs/model.md, session 24), so the shipped run's last 1,469 steps (about
# 35 minutes on two cores) may sharpen it the same way. This resumes it in runs/finish:
#   bash candidates/finish/train.sh
# then score the final moving average (not best.pt, which keeps the best validation loss):
#   counterpoint export runs/finish/last.pt runs/finish/final.pt
#   python benchmarks/recipe_study.py --out candidates/valid --device cpu \
#       --score runs/finish/final.pt --pieces 45 --data ../shared/data/jsb/Jsb16thSeparated.npz
set -euo pipefail
here=$(dirname "$0")
run=runs/finish
if [[ ! -f $run/last.pt ]]; then
    mkdir -p "$run"
    cp "$here/last.pt" "$here/config.json" "$run/"
    # its log and best weights (step 15,000's moving average) are the shipped ones
    cp docs/training-log-jsb-reach.csv "$run/log.csv"
    cp src/counterpoint/weights/jsb.pt "$run/best.pt"
fi
exec nice -n 19 counterpoint train --run-dir "$run" --resume
