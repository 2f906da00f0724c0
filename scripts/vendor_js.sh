#!/usr/bin/env bash
# Re-vendor the browser libraries into static/vendor/ with `npm pack` (no package.json, no node_modules,
# no Node at run time). Run it only to change a version; the output is committed with its SHA256SUMS,
# which workstation/tests/test_static.py checks.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
HTMX=2.0.11
HTMX_SSE=2.2.4
LIGHTWEIGHT_CHARTS=5.2.1
dst="$root/static/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack "htmx.org@$HTMX" "htmx-ext-sse@$HTMX_SSE" "lightweight-charts@$LIGHTWEIGHT_CHARTS" --silent >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done
mkdir -p "$dst"
cp "htmx.org-$HTMX/package/dist/htmx.min.js" "$dst/htmx-$HTMX.min.js"
cp "htmx-ext-sse-$HTMX_SSE/package/dist/sse.min.js" "$dst/htmx-ext-sse-$HTMX_SSE.min.js"
cp "lightweight-charts-$LIGHTWEIGHT_CHARTS/package/dist/lightweight-charts.standalone.production.js" \
   "$dst/lightweight-charts-$LIGHTWEIGHT_CHARTS.min.js"
cd "$dst"
sha256sum -- *.js > SHA256SUMS
cat SHA256SUMS
