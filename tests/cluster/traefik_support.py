"""What the cluster tests need to route through Traefik (test_traefik_routes.py, test_one_node.py):
the chart's values for Traefik (the Ingress class, TLS, its router annotations, the HTTPRoute
on the Gateway of traefik.yaml), the public host names, the Gateway API CRDs, a TLS GET and
whether Traefik accepted the HTTPRoute."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from pathlib import Path

import chartlib
import yaml

NS = "gas"
DEV = ["-f", str(chartlib.ROOT / "k8s" / "values-dev.yaml")]
HOST = "gas.localtest.me"  # the dev values' ingress.host
S3_HOST = f"s3.{HOST}"  # moto's Ingress (dev mode): presigned uploads and downloads
GATEWAY_HOST = f"gateway.{HOST}"  # the chart's HTTPRoute, on the Gateway of traefik.yaml
# The chart's values for Traefik: the Ingress class, TLS from a Secret and Traefik's router
# annotations (its Ingress provider makes a TLS router only when told: spec.tls only loads the
# certificate); the HTTPRoute on the Gateway of traefik.yaml.
INGRESS_VALUES = [
    "--set", "ingress.className=traefik",
    "--set", "ingress.tls.enabled=true",
    "--set", f"ingress.tls.secretName={NS}-tls",
    "--set-json", 'ingress.annotations={"traefik.ingress.kubernetes.io/router.entrypoints": "websecure", '
                  '"traefik.ingress.kubernetes.io/router.tls": "true"}',
    "--set", "httpRoute.enabled=true",
    "--set-json", 'httpRoute.parentRefs=[{"name": "gas-gateway", "sectionName": "https"}]',
    "--set-json", f'httpRoute.hostnames=["{GATEWAY_HOST}"]',
]  # fmt: skip


def gateway_api_crds() -> list[dict]:
    """The Gateway API's standard CRDs, from the sigs.k8s.io/gateway-api module Traefik requires."""
    go_mod = (chartlib.ROOT / "tools" / "traefik" / "go.mod").read_text()
    (version,) = [
        line.split()[1] for line in go_mod.splitlines() if line.strip().startswith("sigs.k8s.io/gateway-api ")
    ]
    proc = subprocess.run(
        ["go", "mod", "download", "-json", f"sigs.k8s.io/gateway-api@{version}"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    crds = Path(json.loads(proc.stdout)["Dir"]) / "config" / "crd" / "standard"
    return [o for f in sorted(crds.glob("*.yaml")) for o in yaml.safe_load_all(f.read_text()) if o]


def tls_get(ip: str, host: str, path: str, context: ssl.SSLContext, port: int = 443) -> tuple[dict, str]:
    """GET https://host/path from the ingress controller at `ip`: (peer certificate, status line)."""
    with socket.create_connection((ip, port), timeout=15) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return tls.getpeercert(), tls.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def httproute_accepted(cp) -> bool:
    """The chart's HTTPRoute `Accepted` by Traefik's Gateway API controller (cp: kube.ControlPlane)."""
    route = cp.api(f"/apis/gateway.networking.k8s.io/v1/namespaces/{NS}/httproutes/gas-web").json()
    return any(
        p["controllerName"] == "traefik.io/gateway-controller"
        and {c["type"]: c["status"] for c in p["conditions"]}.get("Accepted") == "True"
        for p in route.get("status", {}).get("parents", [])
    )
