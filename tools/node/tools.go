//go:build tools

// Package tools pins the node components of the one-node cluster (tests/cluster): kubelet and
// kube-proxy, built from the same k8s.io/kubernetes release as tools/controlplane (its staging
// modules replaced by their published versions, as there).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
