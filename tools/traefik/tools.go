//go:build tools

// Package tools pins Traefik (github.com/traefik/traefik/v3), the ingress controller of the
// one-node cluster (tests/cluster): its kubernetes ingress provider routes to web through the
// chart's Ingress. A module of its own because Traefik's go.mod has replace directives (its forks), which
// `go install pkg@version` refuses; they are copied into this go.mod.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
