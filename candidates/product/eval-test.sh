#!/usr/bin/env bash
# The shipped model's likelihood on the JSB test split, the paper's protocol included:
# each piece's scores are kept in candidates/product/eval-test/, so a stopped run resumes.
# Commit that folder at a session's end. Usage: bash candidates/product/eval-test.sh DATA
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:?usage: eval-test.sh path/to/Jsb16thSeparated.npz}"
exec nice -n 5 counterpoint evaluate --checkpoint jsb --data "$data" \
    --skip-quality --workers 1 --cache candidates/product/eval-test --report candidates/product/eval-test.md
