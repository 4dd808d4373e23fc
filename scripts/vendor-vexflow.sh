#!/usr/bin/env bash
# Refresh the vendored VexFlow (music engraving for the web page) from the npm registry.
# The page loads src/counterpoint/static/vendor/vexflow/vexflow-bravura.js: the build with the
# Bravura (music) and Academico (text) fonts embedded, so it works offline with no CDN.
# Usage: scripts/vendor-vexflow.sh [version]   (default: the version pinned below)
set -euo pipefail
VERSION="${1:-5.0.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/src/counterpoint/static/vendor/vexflow"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "vexflow@$VERSION" >/dev/null && tar xzf "vexflow-$VERSION.tgz")
mkdir -p "$DEST"
cp "$WORK/package/build/cjs/vexflow-bravura.js" "$WORK/package/LICENSE" "$WORK/package/AUTHORS.md" "$DEST/"
echo "$VERSION" > "$DEST/VERSION"
echo "vendored vexflow $VERSION into $DEST"
