#!/usr/bin/env bash
# skaffold's own JSON schema for the apiVersion skaffold.yaml declares (skaffold/v4beta11 ->
# v4beta11.json). The schemas ship in skaffold's Go module source
# (docs-v2/content/en/schemas/), so `go mod download` fetches the pinned module through the Go
# module proxy; the one schema is cached. Prints the schema file's path.
set -euo pipefail
SKAFFOLD_VERSION="${SKAFFOLD_VERSION:-v2.16.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
API="$(awk '$1 == "apiVersion:" {print $2; exit}' "$ROOT/skaffold.yaml")"
SCHEMA="${API#skaffold/}"
[[ "$API" == skaffold/* && -n "$SCHEMA" ]] || { echo "skaffold.yaml: no skaffold/ apiVersion ($API)" >&2; exit 1; }
OUT="${XDG_CACHE_HOME:-$HOME/.cache}/gas/tools/skaffold-schemas/$SKAFFOLD_VERSION/$SCHEMA.json"
if [[ ! -s "$OUT" ]]; then
  echo "install-skaffold-schema: skaffold $SKAFFOLD_VERSION module -> $SCHEMA.json" >&2
  DIR="$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json \
    "github.com/GoogleContainerTools/skaffold/v2@$SKAFFOLD_VERSION" | awk -F'"' '$2 == "Dir" {print $4}')"
  SRC="$DIR/docs-v2/content/en/schemas/$SCHEMA.json"
  [[ -f "$SRC" ]] || { echo "skaffold $SKAFFOLD_VERSION ships no schema $SCHEMA" >&2; exit 1; }
  mkdir -p "$(dirname "$OUT")"
  cp "$SRC" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
fi
echo "$OUT"
