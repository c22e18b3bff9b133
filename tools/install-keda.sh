#!/usr/bin/env bash
# Build KEDA (github.com/kedacore/keda/v2) for the one-node cluster's KEDA test:
#   keda          the operator (cmd/operator: ScaledObject -> HPA, the scalers)
#   keda-adapter  the metrics API server (cmd/adapter: external.metrics.k8s.io, served
#                 through the API server's aggregation layer)
#   keda-config/  KEDA's config/ tree (CRDs, RBAC, Deployments, APIService) of the same release:
#                 the cluster test installs KEDA from it (tests/cluster/keda_support.py)
# The admission webhooks are not built: they only validate objects, and the chart's are checked
# against KEDA's CRDs already (tests/chart/test_chart_keda.py).
# KEDA's go.mod asks for a newer Go than Debian/CI may have: GOTOOLCHAIN fetches that toolchain
# from the Go module proxy (golang.org/toolchain). Built in KEDA's own module directory so its
# replace/exclude directives apply. Cached like the other tools (tools/cache.sh).
set -euo pipefail

KEDA_VERSION="${KEDA_VERSION:-v2.21.1}"
KEDA_GO="${KEDA_GO:-go1.27.4}"   # KEDA v2.21.1's go.mod: go 1.27.4
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GAS_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/gas/tools/bin}"

source "$ROOT/tools/cache.sh"
export GOTOOLCHAIN="$KEDA_GO"
module_dir() { (cd /tmp && go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | awk -F'"' '$2 == "Dir" {print $4}'); }

# Upstream's Makefile stamps the version the same way; -trimpath -s -w keep the link short.
LDFLAGS="-s -w -X=github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v} -X=github.com/kedacore/keda/v2/version.GitCommit=${KEDA_VERSION}"
STAMP="$KEDA_VERSION-$KEDA_GO-$(echo "$LDFLAGS" | sha256sum | cut -c1-8)"
if ! fresh keda-adapter "$STAMP"; then
  DIR="$(module_dir)"
  echo "install-keda: building KEDA $KEDA_VERSION (keda, keda-adapter) with $KEDA_GO into $BIN" >&2
  (cd "$DIR" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/keda" ./cmd/operator)
  (cd "$DIR" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/keda-adapter" ./cmd/adapter)
  echo "$STAMP" >"$(stamp keda-adapter)"
fi
if [[ ! -f "$BIN/keda-config/.version" || "$(cat "$BIN/keda-config/.version")" != "$KEDA_VERSION" ]]; then
  DIR="$(module_dir)"
  rm -rf "$BIN/keda-config" && cp -r "$DIR/config" "$BIN/keda-config" && chmod -R u+w "$BIN/keda-config"
  echo "$KEDA_VERSION" >"$BIN/keda-config/.version"
fi
echo "$BIN"
