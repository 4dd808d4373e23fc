#!/usr/bin/env bash
# Refresh the vendored ONNX Runtime Web files the page samples with (issue #42) from the npm
# registry, two builds and nothing else (about 33 MB):
# - the WASM backend (SIMD + threads): ort.wasm.min.mjs, ort-wasm-simd-threaded.{mjs,wasm},
#   15 MB, what every browser runs;
# - the WebGPU backend, the smallest of the package's three WebGPU builds: the JSPI one
#   (ort.jspi.min.mjs, ort-wasm-simd-threaded.jspi.{mjs,wasm}), 18 MB, for browsers with
#   WebGPU and WebAssembly JSPI (Chromium 137+). The asyncify build (29 MB) would add
#   browsers with WebGPU but no JSPI, and the JSEP one (30 MB) is the old WebGPU backend;
#   both are left out. The page loads the JSPI files only where a WebGPU adapter is granted.
# The npm package carries no licence file, so the licence and third-party notices are copied
# from the onnxruntime Python package (the same upstream project), a dependency of this one.
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
cp "$WORK"/package/dist/{ort.jspi.min.mjs,ort-wasm-simd-threaded.jspi.mjs,ort-wasm-simd-threaded.jspi.wasm} "$DEST/"
cp "$ORT_PY/LICENSE" "$DEST/LICENSE"
cp "$ORT_PY/ThirdPartyNotices.txt" "$DEST/ThirdPartyNotices.txt"
echo "onnxruntime-web $VERSION from npm" > "$DEST/VERSION"
du -cb "$DEST"/* | tail -1
