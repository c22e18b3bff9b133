//go:build tools

// Package tools pins the Kubernetes control-plane binaries the cluster tests run:
// kube-apiserver, kube-controller-manager and kube-scheduler, built from the k8s.io/kubernetes module
// (its staging modules are replaced by their published versions in go.mod).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
