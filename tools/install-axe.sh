#!/usr/bin/env bash
# axe-core, the accessibility rules the browser tests run inside each page, from the npm
# registry (pinned; npm checks the tarball's integrity), cached in ~/.cache/gas/axe-core.
# The tests inject the cached file into the page: no CDN, nothing fetched by the browser.
# Prints the path of axe.min.js.
set -euo pipefail
VERSION=4.14.1
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/gas/axe-core/$VERSION"
JS="$DIR/node_modules/axe-core/axe.min.js"
if [[ ! -f $JS ]]; then
  command -v npm >/dev/null || { echo "install-axe.sh: npm is missing (make system-deps installs it)" >&2; exit 1; }
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --ignore-scripts --no-audit --no-fund --no-save --loglevel=error "axe-core@$VERSION" >&2
fi
echo "$JS"
