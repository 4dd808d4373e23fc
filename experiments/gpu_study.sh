#!/usr/bin/env bash
# One recipe_study.py set on a lent GPU in one call of under 10 minutes: its arms trained at
# once, then each scored on the validation split under the paper's protocol until a deadline,
# paired with the shipped model's committed scores (runs/valid/cache).
#
#   bash experiments/gpu_study.sh SET OUT_DIR [Jsb16thSeparated.npz]
#   ALSO=wd=runs/wd/best.pt bash experiments/gpu_study.sh sharpen $OUT .jsb/Jsb16thSeparated.npz
#
# ALSO=NAME=CHECKPOINT scores one more model alongside, from the start. OUT_DIR gets the logs,
# the table and study.tgz (every arm's log, half-precision weights and scored pieces; copy the
# pieces worth keeping into runs/valid/cache). DEVICE=cpu, MINUTES (per arm), SECONDS_ON
# (the scoring deadline) and PIECES shrink it for a dry run here.
set -uo pipefail
usage="usage: bash experiments/gpu_study.sh SET OUT_DIR [Jsb16thSeparated.npz]"
set_name=${1:?$usage}
out=${2:?$usage}
data=${3:-.jsb/Jsb16thSeparated.npz}
device=${DEVICE:-cuda}
minutes=${MINUTES:-4}
deadline=${SECONDS_ON:-470}
pieces=${PIECES:+--pieces $PIECES}
study=${STUDY_DIR:-/tmp/study}
export PYTHONPATH=src:benchmarks:${PYTHONPATH:-} PYTHONUNBUFFERED=1
mkdir -p "$out" "$study" && cp -r runs/valid/cache "$study/"
also=()
if [[ -n ${ALSO:-} ]]; then
    also=(--also "$ALSO")
    # shellcheck disable=SC2086
    timeout "$deadline" python3 experiments/recipe_study.py --out "$study" --score "${ALSO#*=}" \
        --device "$device" --data "$data" $pieces >"$out/score-also.log" 2>&1 &
fi
# shellcheck disable=SC2086
timeout $((deadline + 40)) python3 experiments/recipe_study.py --set "$set_name" --device "$device" \
    --data "$data" --out "$study" --minutes "$minutes" --protocol-seconds "$deadline" $pieces \
    2>&1 | tee "$out/study.log"
wait
# shellcheck disable=SC2086
python3 experiments/recipe_study.py --set "$set_name" --out "$study" --table --data "$data" $pieces \
    "${also[@]}" | tee "$out/table.md"
tar czf "$out/study.tgz" --exclude='*/best.pt' --exclude='*/last.pt' -C "$(dirname "$study")" \
    "$(basename "$study")"
ls -la "$out"
