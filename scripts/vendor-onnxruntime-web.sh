#!/usr/bin/env bash
# Refresh the vendored ONNX Runtime Web files the page samples with (issue #42) from the npm
# registry: only the WASM backend (SIMD + threads), about 15 MB. The WebGPU builds
# (ort.webgpu.min.mjs with ort-wasm-simd-threaded.jspi/asyncify/jsep.wasm) would add 18-30 MB
# and are left out. The npm package carries no licence file, so the licence and third-party
# notices are copied from the onnxruntime Python package (the same upstream project), a
# dependency of this one.
# Usage: scripts/vendor-onnxruntime-web.sh [version]   (run from anywhere; needs npm, python)
set -euo pipefail
VERSION="${1:-1.31.1}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/src/counterpoint/static/vendor/onnxruntime-web"
PYTHON="${PYTHON:-python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "onnxruntime-web@$VERSION" >/dev/null && tar xzf onnxruntime-web-*.tgz)
ORT_PY="$("$PYTHON" -c 'import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))')"
rm -rf "$DEST" && mkdir -p "$DEST"
cp "$WORK"/package/dist/{ort.wasm.min.mjs,ort-wasm-simd-threaded.mjs,ort-wasm-simd-threaded.wasm} "$DEST/"
cp "$ORT_PY/LICENSE" "$DEST/LICENSE"
cp "$ORT_PY/ThirdPartyNotices.txt" "$DEST/ThirdPartyNotices.txt"
echo "onnxruntime-web $VERSION from npm" > "$DEST/VERSION"
du -cb "$DEST"/* | tail -1
