#!/usr/bin/env bash
# Build Traefik (github.com/traefik/traefik/v3, tools/traefik), the ingress controller the
# one-node cluster test runs in front of web (tests/cluster, docs/kubernetes.md).
# v3.6.12: the newest release whose whole dependency graph the module proxy serves (v3.7.x
# needs a containous/go-http-auth fork version the proxy refuses). Only the binary is built,
# trimmed (-trimpath, -s -w, no cgo); cached in GAS_TOOLS_BIN (default ~/.cache/gas/tools/bin)
# by the hash of tools/traefik and the flags: cold it takes minutes, warm nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GAS_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/gas/tools/bin}"

source "$ROOT/tools/cache.sh"

TRAEFIK_RELEASE="$(awk '$1 == "require" && $2 == "github.com/traefik/traefik/v3" {print $3}' "$ROOT/tools/traefik/go.mod")"
LDFLAGS="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_RELEASE}"
TRAEFIK_VERSION="$( (cd "$ROOT/tools/traefik" && cat go.mod go.sum tools.go; echo "$LDFLAGS") | sha256sum | cut -c1-16)"
if ! fresh traefik "$TRAEFIK_VERSION"; then
  echo "install-traefik: building traefik $TRAEFIK_RELEASE into $BIN" >&2
  (cd "$ROOT/tools/traefik" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$LDFLAGS" \
    -o "$BIN/traefik" github.com/traefik/traefik/v3/cmd/traefik)
  echo "$TRAEFIK_VERSION" >"$(stamp traefik)"
fi
echo "$BIN/traefik"
