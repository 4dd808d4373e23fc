#!/usr/bin/env bash
# Session 24's GPU study (docs/sharpen_study.txt): the shipped model fine-tuned for 2,000 steps
# in 7 ways (recipe_study.py --set sharpen), each scored on the validation split under the
# paper's protocol beside the shipped model's committed scores (candidates/valid/cache), and
# the weight-decay candidate scored alongside. Made for one lent GPU and a 10-minute call:
#
#   bash benchmarks/sharpen_study.sh OUT_DIR [Jsb16thSeparated.npz]
#
# OUT_DIR gets the logs, the table and sharpen.tgz (every arm's log, half-precision weights and
# scored pieces). DEVICE=cpu, MINUTES and SECONDS_ON (the scoring deadline) shrink it for a
# dry run here.
set -uo pipefail
out=${1:?usage: bash benchmarks/sharpen_study.sh OUT_DIR [Jsb16thSeparated.npz]}
data=${2:-.jsb/Jsb16thSeparated.npz}
device=${DEVICE:-cuda}
minutes=${MINUTES:-4}
deadline=${SECONDS_ON:-470}
pieces=${PIECES:+--pieces $PIECES}
study=${STUDY_DIR:-/tmp/sharpen}
export PYTHONPATH=src:${PYTHONPATH:-} PYTHONUNBUFFERED=1
mkdir -p "$out" "$study" && cp -r candidates/valid/cache "$study/"
# shellcheck disable=SC2086
timeout "$deadline" python3 benchmarks/recipe_study.py --out "$study" --score candidates/wd/best.pt \
    --device "$device" --data "$data" $pieces >"$out/score-wd.log" 2>&1 &
# shellcheck disable=SC2086
timeout $((deadline + 40)) python3 benchmarks/recipe_study.py --set sharpen --device "$device" \
    --data "$data" --out "$study" --minutes "$minutes" --protocol-seconds "$deadline" $pieces \
    2>&1 | tee "$out/study.log"
wait
# shellcheck disable=SC2086
python3 benchmarks/recipe_study.py --set sharpen --out "$study" --table --data "$data" $pieces \
    --also wd=candidates/wd/best.pt | tee "$out/table.md"
tar czf "$out/sharpen.tgz" --exclude='*/best.pt' --exclude='*/last.pt' -C "$(dirname "$study")" \
    "$(basename "$study")"
ls -la "$out"
