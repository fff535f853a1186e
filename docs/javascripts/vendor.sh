#!/usr/bin/env bash
# Re-fetch the KaTeX files the documentation site serves itself, so that a built
# `site/` renders its formulas with no network access.
#
# Source: the `katex` package on the npm registry (https://www.npmjs.com/package/katex),
# MIT licence (katex/LICENSE). Kept: katex.min.js, contrib/auto-render.min.js,
# katex.min.css and the woff2 fonts; the stylesheet is rewritten to reference only
# the woff2 files (every browser that runs the site reads woff2), so the woff and
# ttf copies are not needed.
#
# Usage (from the repository root): docs/javascripts/vendor.sh [VERSION]
set -euo pipefail
VERSION="${1:-0.16.47}"
HERE="$(cd "$(dirname "$0")" && pwd)"
DEST="$HERE/katex"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

(cd "$TMP" && npm pack --silent "katex@$VERSION" >/dev/null && tar xzf "katex-$VERSION.tgz")
SRC="$TMP/package"

rm -rf "$DEST"
mkdir -p "$DEST/fonts"
cp "$SRC/LICENSE" "$SRC/dist/katex.min.js" "$SRC/dist/contrib/auto-render.min.js" "$DEST/"
cp "$SRC"/dist/fonts/*.woff2 "$DEST/fonts/"
sed -E 's/,url\(fonts\/[A-Za-z0-9_-]+\.woff\) format\("woff"\)//g;
        s/,url\(fonts\/[A-Za-z0-9_-]+\.ttf\) format\("truetype"\)//g' \
    "$SRC/dist/katex.min.css" > "$DEST/katex.min.css"
echo "$VERSION" > "$DEST/VERSION"
du -sh "$DEST"
