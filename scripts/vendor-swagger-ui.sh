#!/usr/bin/env bash
# Refresh the vendored Swagger UI (the API docs page at /docs) from the npm registry.
# Swagger UI 5 reads the OpenAPI 3.1 that FastAPI writes; the swagger-ui-bundle package on PyPI
# ships Swagger UI 4, which cannot ("Unable to render this definition"). Only the files /docs
# loads are kept, with the licence and notice, so the page works offline with no CDN.
# Usage: scripts/vendor-swagger-ui.sh [version]   (default: the version pinned below)
set -euo pipefail
VERSION="${1:-5.36.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/src/counterpoint/static/vendor/swagger-ui"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null && tar xzf "swagger-ui-dist-$VERSION.tgz")
rm -rf "$DEST"
mkdir -p "$DEST"
for file in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
    cp "$WORK/package/$file" "$DEST/"
done
echo "$VERSION" > "$DEST/VERSION"
echo "vendored swagger-ui-dist $VERSION into $DEST"
