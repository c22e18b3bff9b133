// Command coredns is CoreDNS (github.com/coredns/coredns) with only the plugins a
// Kubernetes cluster's DNS needs, the way CoreDNS documents custom builds: coremain plus
// the plugin packages, each registering itself. The one-node cluster of tests/cluster runs it
// as its cluster DNS (the kube-dns Service), with the Corefile kubeadm installs.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}
