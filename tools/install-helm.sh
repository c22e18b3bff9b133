#!/usr/bin/env bash
# Install the pinned chart tooling into a project-local bin dir (default .cache/bin).
#   helm                 helm.sh/helm/v3/cmd/helm            (go install, pinned)
#   gas-k8s-validate     tools/k8svalidate (strict decoding with the k8s.io/api Go types:
#                        the offline schema check of every rendered object)
# Idempotent and cached: a tool is rebuilt only when its pinned version changes.
# CI calls this script before `make test`; the chart tests call it too when helm is missing.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GAS_TOOLS_BIN:-$ROOT/.cache/bin}"
export GOBIN="$BIN"

source "$ROOT/tools/cache.sh"

if ! fresh helm "$HELM_VERSION"; then
  echo "install-helm: building helm $HELM_VERSION into $BIN" >&2
  # The same -X flags as helm's Makefile: without them a `go install`ed helm reports
  # Kubernetes v1.20 to `helm template`/`helm lint` (no cluster) and its version as "main".
  K8S_MINOR="${HELM_K8S_MINOR:-34}"   # helm v3.19 is built against k8s.io/client-go v0.34
  LDFLAGS="-w -s -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    LDFLAGS+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${K8S_MINOR}"
  done
  nice -n 10 go install -trimpath -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
  echo "$HELM_VERSION" >"$(stamp helm)"
fi

VALIDATOR_VERSION="$(cd "$ROOT/tools/k8svalidate" && cat go.mod go.sum main.go | sha256sum | cut -c1-16)"
if ! fresh gas-k8s-validate "$VALIDATOR_VERSION"; then
  echo "install-helm: building gas-k8s-validate ($VALIDATOR_VERSION) into $BIN" >&2
  (cd "$ROOT/tools/k8svalidate" && nice -n 10 go build -o "$BIN/gas-k8s-validate" .)
  echo "$VALIDATOR_VERSION" >"$(stamp gas-k8s-validate)"
fi

"$BIN/helm" version --short >&2
