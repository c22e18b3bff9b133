#!/usr/bin/env bash
# Build the real Kubernetes control plane the cluster tests run on loopback:
#   kube-apiserver, kube-controller-manager, kube-scheduler  (k8s.io/kubernetes, tools/controlplane)
#   kwok                                                     (sigs.k8s.io/kwok: fake nodes and pods)
#   etcd                                                     (Debian's etcd-server)
# and the node of the one-node cluster (tests/cluster):
#   kubelet, kube-proxy                                      (k8s.io/kubernetes, the same release: tools/node)
#   coredns                                                  (github.com/coredns/coredns: tools/coredns)
#   pause                                                    (the pod sandbox process: build/pause/linux/pause.c
#                                                             of the k8s.io/kubernetes module, compiled as upstream does)
# Cached outside the clone (GAS_TOOLS_BIN, default ~/.cache/gas/tools/bin) and rebuilt
# only when a pinned version changes: the first build takes minutes, later runs none.
set -euo pipefail

KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GAS_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/gas/tools/bin}"

source "$ROOT/tools/cache.sh"

command -v etcd >/dev/null 2>&1 || "$ROOT/tools/apt-install.sh" etcd-server

# Stamp the real version into the binaries (as Kubernetes' own build does): without it the
# API server reports v0.0.0-master and `helm install` refuses charts with a kubeVersion.
K8S_RELEASE="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3} $1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2}' "$ROOT/tools/controlplane/go.mod" | head -1)"
K8S_MINOR="$(echo "$K8S_RELEASE" | cut -d. -f2)"
K8S_LDFLAGS="-X k8s.io/component-base/version.gitVersion=${K8S_RELEASE} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_MINOR} -X k8s.io/component-base/version.gitTreeState=clean"
K8S_VERSION="$( (cd "$ROOT/tools/controlplane" && cat go.mod go.sum tools.go; echo "$K8S_LDFLAGS") | sha256sum | cut -c1-16)"
if ! fresh kube-apiserver "$K8S_VERSION"; then
  echo "install-controlplane: building kube-apiserver, kube-controller-manager, kube-scheduler into $BIN" >&2
  (cd "$ROOT/tools/controlplane" && nice -n 10 go build -ldflags "$K8S_LDFLAGS" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler)
  echo "$K8S_VERSION" >"$(stamp kube-apiserver)"
fi

if ! fresh kwok "$KWOK_VERSION"; then
  echo "install-controlplane: building kwok $KWOK_VERSION into $BIN" >&2
  GOBIN="$BIN" nice -n 10 go install "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  # kwok's own "fast" stages (nodes Ready at once, pods Ready once scheduled), from its module.
  STAGES="$(go env GOMODCACHE)/sigs.k8s.io/kwok@${KWOK_VERSION}/kustomize/stage"
  for f in node/fast/node-initialize.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$STAGES/$f"
  done >"$BIN/kwok-stages.yaml"
  echo "$KWOK_VERSION" >"$(stamp kwok)"
fi

# The node: a second module so that its extra dependencies never rebuild the control plane;
# it must pin the same Kubernetes release.
NODE_RELEASE="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$ROOT/tools/node/go.mod")"
[[ "$NODE_RELEASE" == "$K8S_RELEASE" ]] || { echo "tools/node pins k8s.io/kubernetes $NODE_RELEASE, tools/controlplane $K8S_RELEASE" >&2; exit 1; }
NODE_VERSION="$( (cd "$ROOT/tools/node" && cat go.mod go.sum tools.go; echo "$K8S_LDFLAGS") | sha256sum | cut -c1-16)"
if ! fresh kubelet "$NODE_VERSION"; then
  echo "install-controlplane: building kubelet, kube-proxy into $BIN" >&2
  (cd "$ROOT/tools/node" && nice -n 10 go build -ldflags "$K8S_LDFLAGS" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
  echo "$NODE_VERSION" >"$(stamp kubelet)"
fi

COREDNS_VERSION="$( (cd "$ROOT/tools/coredns" && cat go.mod go.sum main.go) | sha256sum | cut -c1-16)"
if ! fresh coredns "$COREDNS_VERSION"; then
  echo "install-controlplane: building coredns into $BIN" >&2
  (cd "$ROOT/tools/coredns" && CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$BIN/coredns" .)
  echo "$COREDNS_VERSION" >"$(stamp coredns)"
fi

PAUSE_DIR="$(cd "$ROOT/tools/node" && go mod download -json "k8s.io/kubernetes@$K8S_RELEASE" | awk -F'"' '$2 == "Dir" {print $4}')/build/pause"
PAUSE_TAG="$(awk '$1 == "TAG" && $2 == "?=" {print $3}' "$PAUSE_DIR/Makefile")"
if ! fresh pause "$PAUSE_TAG-$K8S_RELEASE"; then
  echo "install-controlplane: compiling pause $PAUSE_TAG into $BIN" >&2
  # upstream's CFLAGS (build/pause/Makefile): a static binary for a FROM-scratch image
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_TAG-$K8S_RELEASE" -o "$BIN/pause" "$PAUSE_DIR/linux/pause.c"
  echo "$PAUSE_TAG" >"$BIN/pause.tag"
  echo "$PAUSE_TAG-$K8S_RELEASE" >"$(stamp pause)"
fi
echo "$BIN"
