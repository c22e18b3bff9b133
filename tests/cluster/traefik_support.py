"""What the cluster tests need to route through Traefik (tests/cluster/test_traefik_routes.py):
the chart's values for Traefik (the Ingress class, TLS, its router annotations, the HTTPRoute
on the Gateway of traefik.yaml), the public host names, the Gateway API CRDs and a TLS GET."""

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
TEST_VALUES = [
    "--set", "ingress.className=traefik",
    "--set", "ingress.tls.enabled=true",
    "--set", f"ingress.tls.secretName={NS}-tls",
    # Traefik's Ingress provider makes a TLS router only when told (spec.tls loads the certificate)
    "--set-json", 'ingress.annotations={"traefik.ingress.kubernetes.io/router.entrypoints": "websecure", '
                  '"traefik.ingress.kubernetes.io/router.tls": "true"}',
    "--set", "provisioning.queueVisibilityTimeout=15",
    # moto keeps S3 in memory (upload, claimed copy, result): with the dev values' 512Mi its
    # container restarted during a 43 MB kill-test job, losing every table
    "--set", "devMode.moto.resources.limits.memory=2Gi",
    "--set-string", "workers.archiver-archive.env.GAS_RETENTION_SECONDS=5",
    "--set-string", "workers.archiver-restore.env.GAS_RESTORE_CHECK_EXPEDITED_SECONDS=2",
    "--set-string", "workers.archiver-restore.env.GAS_RESTORE_CHECK_STANDARD_SECONDS=2",
    "--set-string", "workers.archiver-thaw.env.GAS_RESTORE_CHECK_EXPEDITED_SECONDS=2",
    "--set-string", "workers.archiver-thaw.env.GAS_RESTORE_CHECK_STANDARD_SECONDS=2",
]  # fmt: skip
HOST = "gas.localtest.me"  # the dev values' ingress.host
S3_HOST = f"s3.{HOST}"  # moto's Ingress (dev mode): presigned uploads and downloads
GATEWAY_HOST = f"gateway.{HOST}"  # the chart's HTTPRoute, on the Gateway of traefik.yaml
ROUTE_VALUES = [
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
