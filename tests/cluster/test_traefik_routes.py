"""Traefik as the one-node cluster runs it (tests/cluster/traefik.yaml: its arguments, its
RBAC), quickly and without the node: the Traefik binary built here against a real API server
(tests/kube.py, kwok's fake node), authenticated as its ServiceAccount (so the Role and
ClusterRole are what it gets), with the chart's Ingresses and HTTPRoute rendered by helm with
the cluster test's values. Web's Service points (an EndpointSlice of our own) at an HTTP
server in this process, which answers with what it received; moto's at a moto server run
with the environment of the chart's moto container, which takes the presigned upload and
download a browser sends to the public S3 host; every request is HTTPS verified against the
test's local CA. The full path to the real pods is test_one_node.py."""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import subprocess
import threading

import boto3
import chartlib
import kube
import lifecycle_support as lc
import pytest
import requests
import yaml
from node_support import HERE, TOOLS_BIN
from siteclient import User
from support import free_port, moto_server
from traefik_support import (
    DEV,
    GATEWAY_HOST,
    HOST,
    INGRESS_VALUES,
    NS,
    S3_HOST,
    gateway_api_crds,
    httproute_accepted,
    tls_get,
)

from gas.core.aws import _BOTO_CONFIG
from gas.web.uploads import presigned_upload

PATHS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
    "Service": "/api/v1/namespaces/{ns}/services",
    "EndpointSlice": "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "IngressClass": "/apis/networking.k8s.io/v1/ingressclasses",
    "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "GatewayClass": "/apis/gateway.networking.k8s.io/v1/gatewayclasses",
    "Gateway": "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/gateways",
    "HTTPRoute": "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes",
}


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"host": self.headers["Host"], "proto": self.headers.get("X-Forwarded-Proto")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def chart() -> list[dict]:
    """The chart rendered with the cluster test's Traefik values."""
    why = chartlib.install_tools()
    if why:
        pytest.fail(why)
    out = chartlib.helm("template", "gas", str(chartlib.CHART), "-n", NS, *DEV, *INGRESS_VALUES).stdout
    return [o for o in yaml.safe_load_all(out) if o]


@pytest.fixture(scope="module")
def moto(tmp_path_factory, chart):
    """moto as the chart's dev mode runs it (its container's environment), where Traefik reaches it."""
    (deployment,) = [o for o in chart if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-moto"]
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    host_ip = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()[0]
    yield from moto_server(tmp_path_factory.mktemp("moto"), host=host_ip, env=env)


@pytest.fixture(scope="module")
def traefik(tmp_path_factory, chart, moto):
    if kube.missing_binaries():
        kube.install()
    if not (TOOLS_BIN / "traefik").exists():
        subprocess.run([str(kube.ROOT / "tools" / "install-traefik.sh")], check=True, stdout=subprocess.DEVNULL)
    w = tmp_path_factory.mktemp("traefik")
    host_ip = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()[0]
    pki = kube.Pki(w / "pki").create(["127.0.0.1"], ["kubernetes"])
    cp = kube.ControlPlane(w / "cp", pki=pki).start()
    backend = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Echo)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    proc = None
    try:

        def create(objs: list[dict]) -> None:
            for o in objs:
                resp = cp.api(PATHS[o["kind"]].format(ns=o["metadata"].get("namespace", NS)), "POST", json=o)
                assert resp.status_code in (201, 409), f"{o['kind']} {o['metadata']['name']}: {resp.text[:500]}"

        create([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}])
        create(gateway_api_crds())
        ca = kube.Pki(w / "ingress-pki").ca("gas-local-ca")
        cert, key = ca.serving("ingress", [HOST, S3_HOST, GATEWAY_HOST])
        tls = {"tls.crt": cert.read_text(), "tls.key": key.read_text()}
        create([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": n}, "type": "kubernetes.io/tls",
                 "stringData": tls} for n in (f"{NS}-tls", f"{NS}-s3-tls")])  # fmt: skip
        ports = {"8000": free_port(), "8443": free_port(), "9443": free_port(), "9000": free_port()}
        args: list[str] = []
        for o in yaml.safe_load_all((HERE / "traefik.yaml").read_text()):
            if o["kind"] == "Deployment":
                args = o["spec"]["template"]["spec"]["containers"][0]["args"]
            elif o["kind"] != "Service":
                if o["kind"] == "Gateway":  # a listener binds to the entry point of its port
                    o["spec"]["listeners"][0]["port"] = ports["9443"]
                lc.wait_for(lambda o=o: create([o]) or True, 30, f"{o['kind']} created")
        backends = {"gas-web": backend.server_address[1], "gas-moto": int(moto.rsplit(":", 1)[1])}
        s3_public_url = ""
        for o in chart:
            if o["kind"] in ("Ingress", "HTTPRoute"):
                create([o])
            elif o["kind"] == "ConfigMap" and "GAS_S3_PUBLIC_ENDPOINT_URL" in o["data"]:
                s3_public_url = o["data"]["GAS_S3_PUBLIC_ENDPOINT_URL"]
            elif o["kind"] == "Service" and o["metadata"]["name"] in backends:
                del o["spec"]["selector"]  # endpoints of our own: the echo server, moto
                port = o["spec"]["ports"][0]
                create([o, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                            "metadata": {"name": f"{o['metadata']['name']}-here",
                                         "labels": {"kubernetes.io/service-name": o["metadata"]["name"]}},
                            "addressType": "IPv4",
                            "endpoints": [{"addresses": [host_ip], "conditions": {"ready": True}}],
                            "ports": [{"name": port["name"], "port": backends[o["metadata"]["name"]]}]}])  # fmt: skip
        token = w / "token"
        kubeconfig = yaml.safe_load(cp.service_account_kubeconfig("traefik", "traefik", w / "kc").read_text())
        token.write_text(kubeconfig["users"][0]["user"]["token"])
        for old, new in ports.items():
            args = [a.replace(f":{old}", f"127.0.0.1:{new}") if a.endswith(f":{old}") else a for a in args]
        for provider in ("kubernetesIngress", "kubernetesGateway"):
            args += [f"--providers.{provider}.endpoint={cp.server}", f"--providers.{provider}.token={token}",
                     f"--providers.{provider}.certAuthFilePath={pki.path('ca.crt')}"]  # fmt: skip
        log = open(w / "traefik.log", "wb")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen([str(TOOLS_BIN / "traefik"), *args], stdout=log, stderr=subprocess.STDOUT)
        yield {"cp": cp, "ports": ports, "ca": str(ca.dir / "ca.crt"), "log": w / "traefik.log",
               "moto": moto, "s3_public_url": s3_public_url}  # fmt: skip
    finally:
        if proc:
            proc.terminate()
            proc.wait(15)
        backend.shutdown()
        cp.stop()


def _get(traefik, host: str, port: int, path: str = "/") -> tuple[dict, str, dict]:
    context = ssl.create_default_context(cafile=traefik["ca"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
        head, _, body = data.decode().partition("\r\n\r\n")
        return tls.getpeercert(), head.split("\r\n", 1)[0], json.loads(body) if " 200 " in head else {}


@pytest.mark.parametrize(
    "host, entry",
    [(HOST, "8443"), (GATEWAY_HOST, "9443")],
    ids=["web-ingress", "httproute"],
)
def test_traefik_routes_the_chart_objects_over_https(traefik, host, entry):
    port = traefik["ports"][entry]
    cert, status, seen = lc.wait_for(
        lambda: (r := _get(traefik, host, port)) and " 200 " in r[1] and r, 60, f"{host} through Traefik"
    )
    assert seen == {"host": host, "proto": "https"}  # the Host kept, X-Forwarded-Proto for web
    assert ("DNS", host) in cert["subjectAltName"]
    assert dict(x[0] for x in cert["issuer"])["commonName"] == "gas-local-ca"
    with pytest.raises(ssl.SSLCertVerificationError):  # the machine's CAs do not know it
        tls_get("127.0.0.1", host, "/", ssl.create_default_context(), port=port)


def test_the_httproute_is_accepted_by_traefiks_gateway_controller(traefik):
    lc.wait_for(lambda: httproute_accepted(traefik["cp"]), 60, "the HTTPRoute Accepted")


def test_a_presigned_upload_and_download_through_the_s3_ingress(traefik, monkeypatch):
    """What a browser sends to the dev-mode S3 host: the upload form's presigned POST (web's
    presigned_upload for GAS_S3_PUBLIC_ENDPOINT_URL) and a presigned GET, through Traefik over
    HTTPS to moto. Without the chart's S3_IGNORE_SUBDOMAIN_BUCKETNAME moto read the host
    s3.gas.localtest.me as a bucket named "s3" and answered the POST 500."""
    assert traefik["s3_public_url"] == f"https://{S3_HOST}"
    port = traefik["ports"]["8443"]
    keys = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    boto3.client("s3", endpoint_url=traefik["moto"], config=_BOTO_CONFIG, **keys).create_bucket(Bucket="gas-inputs")
    # web's browser-facing client; Traefik listens on a free port here (443 in a cluster)
    browser_s3 = boto3.client("s3", endpoint_url=f"{traefik['s3_public_url']}:{port}", config=_BOTO_CONFIG, **keys)
    site = f"https://{HOST}"
    post = presigned_upload(browser_s3, "gas-inputs", "u1", "j1", 10_000, f"{site}/annotations/new", 300)
    vcf = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t10\t.\tA\tG\t.\t.\t.\n"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", traefik["ca"])  # the local CA alone verifies S3's certificate
    with lc.resolving(lambda host: "127.0.0.1" if host == S3_HOST else None):
        sent = User(site).post_to_s3({"action": post["url"], "fields": post["fields"]}, "a.vcf", vcf, "GRCh38", "x")
        assert sent.status_code == 303, (sent.status_code, sent.text[:500])
        assert sent.headers["Location"].startswith(f"{site}/annotations/new?"), sent.headers["Location"]
        url = browser_s3.generate_presigned_url(
            "get_object", Params={"Bucket": "gas-inputs", "Key": post["key_prefix"] + "a.vcf"}, ExpiresIn=60
        )
        got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == vcf
