#!/usr/bin/env bash
# Train the `music21` model with one command, for users who want the most Bach and no
# benchmark: every four-voice chorale music21 ships (all 409 in training, as the Doodle used all
# it had; the valid split only monitors the run and picks the checkpoint). The recipe is the
# first three phases of the `jsb` model shipped before session 20 (16 layers, ±20 steps, 160
# minutes; docs/model-card.md, "A model of all of music21's chorales"). The shipped model's own
# recipe takes 20 hours: scripts/retrain-jsb.sh's training command with --data music21-all.
# Then install it with its int8 file, so `--checkpoint music21` (CLI), `load_model("music21")`
# (Python) and `COUNTERPOINT_CHECKPOINT=music21` (server) find it.
#
#   bash scripts/retrain-music21.sh [run-dir] [minutes of the first phase] [output]
#
# Budgets are wall-clock minutes on 2 CPU cores: the defaults (72 + 13 + 75) take 160 minutes.
set -euo pipefail
run=${1:-runs/music21}
minutes=${2:-72}
output=${3:-src/counterpoint/weights/music21.pt}
second=$(python -c "print($minutes * 85 / 72)")
third=$(python -c "print($minutes * 160 / 72)")
counterpoint train --data music21-all --preset default --run-dir "$run" --minutes "$minutes" --steps 100000 \
    --eval-every 500 --patience 0
counterpoint train --run-dir "$run" --resume --minutes "$second" --no-augment --eval-every 250
counterpoint train --run-dir "$run" --resume --minutes "$third" --lr 1e-3 --eval-every 500
counterpoint export "$run/best.pt" "$output"
counterpoint quantize "$output" --data music21-all
