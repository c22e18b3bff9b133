"""A real Kubernetes control plane on loopback for the cluster tests: etcd,
kube-apiserver (RBAC on), kube-controller-manager, kube-scheduler and kwok (fake
nodes whose pods become Ready without containers). Binaries come from
tools/install-controlplane.sh (`make test` runs it; the fixtures build what is missing).

The one-node cluster (tests/cluster) starts the same control plane without kwok, on the
node's address and with its own CA (`Pki`): a real kubelet joins it and pods verify the
API server with the CA the controller-manager publishes; its API server has the aggregation
layer's flags (front-proxy CA and client certificate), so an APIService (KEDA's metrics
server) can serve through it."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import urllib3
from support import ROOT, free_port

TOOLS_BIN = Path(os.environ.get("GAS_TOOLS_BIN", Path.home() / ".cache" / "gas" / "tools" / "bin"))
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml")
ADMIN_TOKEN = "gas-test-admin-token"


def missing_binaries() -> list[str]:
    have = [b for b in BINARIES if (TOOLS_BIN / b).exists()]
    return [b for b in BINARIES if b not in have] + ([] if shutil.which("etcd") else ["etcd"])


def install() -> None:
    """Build what is missing (minutes the first time; cached afterwards)."""
    subprocess.run([str(ROOT / "tools" / "install-controlplane.sh")], check=True, stdout=subprocess.DEVNULL)


def kubeconfig(server: str, token: str) -> str:
    return f"""apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
users:
- name: user
  user: {{token: "{token}"}}
contexts:
- name: local
  context: {{cluster: local, user: user, namespace: default}}
current-context: local
"""


@dataclass
class Pki:
    """A CA and the certificates a real node needs (openssl, EC keys): the API server's serving
    certificate (pods verify it), its client certificate towards the kubelet, and the
    aggregation layer's front-proxy CA and client certificate (extension API servers)."""

    dir: Path

    def _sign(self, name: str, subject: str, ext: str, ca: str = "ca") -> None:
        d = self.dir
        key, csr = d / f"{name}.key", d / f"{name}.csr"
        subprocess.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", str(key)], check=True)
        subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr)], check=True)
        (d / f"{name}.ext").write_text(ext)
        subprocess.run(
            ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(d / f"{ca}.crt"), "-CAkey", str(d / f"{ca}.key"),
             "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.crt")],
            check=True, capture_output=True,
        )  # fmt: skip

    def _ca(self, name: str, subject: str) -> None:
        key = self.dir / f"{name}.key"
        subprocess.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", str(key)], check=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-new", "-key", str(key), "-subj", subject, "-days", "2",
             "-out", str(self.dir / f"{name}.crt")],
            check=True,
        )  # fmt: skip

    def ca(self, name: str = "gas-test-ca") -> Pki:
        """The CA alone (ca.key, ca.crt)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ca("ca", f"/CN={name}")
        return self

    def serving(self, name: str, dns_names: list[str]) -> tuple[Path, Path]:
        """A serving certificate for `dns_names` signed by the CA: (certificate, key)."""
        sans = ",".join(f"DNS:{n}" for n in dns_names)
        self._sign(name, f"/CN={dns_names[0]}", f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
        return self.dir / f"{name}.crt", self.dir / f"{name}.key"

    def create(self, server_ips: list[str], server_names: list[str]) -> Pki:
        self.ca()
        # The aggregation layer's own CA (as kubeadm's front-proxy-ca): an extension API server
        # (KEDA's metrics server) trusts the user the API server names in X-Remote-User only
        # from a client certificate this CA signed, never from any client of the cluster CA.
        self._ca("front-proxy-ca", "/CN=gas-test-front-proxy-ca")
        self._sign("front-proxy-client", "/CN=front-proxy-client", "extendedKeyUsage=clientAuth\n", "front-proxy-ca")
        sans = ",".join([f"IP:{ip}" for ip in server_ips] + [f"DNS:{n}" for n in server_names])
        self._sign("apiserver", "/CN=kube-apiserver", f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
        self._sign(
            "apiserver-kubelet-client",
            "/O=system:masters/CN=kube-apiserver-kubelet-client",
            "extendedKeyUsage=clientAuth\n",
        )
        return self

    def path(self, name: str) -> str:
        return str(self.dir / name)


@dataclass
class ControlPlane:
    workdir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    server: str = ""
    # Where the API server listens and what it advertises (the `kubernetes` Service's endpoint).
    address: str = "127.0.0.1"
    # kwok's fake node; False when a real kubelet joins (tests/cluster).
    fake_node: bool = True
    pki: Pki | None = None
    # more static tokens: token -> 'user,uid,"group1,group2"' (the node's and kube-proxy's)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child
        # Debian's etcd 3.4 has no watch progress notifications, which client-go's
        # streaming watch-list needs: clients fall back to list + watch.
        env = {**os.environ, "KUBE_FEATURE_WatchListClient": "false"}
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def start(self) -> ControlPlane:
        w = self.workdir
        w.mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "genrsa", "-out", str(w / "sa.key"), "2048"], check=True, capture_output=True)
        subprocess.run(
            ["openssl", "rsa", "-in", str(w / "sa.key"), "-pubout", "-out", str(w / "sa.pub")],
            check=True,
            capture_output=True,
        )
        tokens = {ADMIN_TOKEN: 'gas-admin,gas-admin,"system:masters"', **self.tokens}
        (w / "tokens.csv").write_text("".join(f"{token},{who}\n" for token, who in tokens.items()))
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        self._spawn(
            "etcd",
            [
                "etcd",
                "--data-dir",
                str(w / "etcd"),
                "--listen-client-urls",
                f"http://127.0.0.1:{etcd_port}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{etcd_port}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-cluster",
                f"default=http://127.0.0.1:{peer_port}",
                "--log-level",
                "warn",
            ],
        )
        self.server = f"https://{self.address}:{api_port}"
        if self.pki:
            tls = [
                f"--tls-cert-file={self.pki.path('apiserver.crt')}",
                f"--tls-private-key-file={self.pki.path('apiserver.key')}",
                f"--client-ca-file={self.pki.path('ca.crt')}",
                f"--kubelet-client-certificate={self.pki.path('apiserver-kubelet-client.crt')}",
                f"--kubelet-client-key={self.pki.path('apiserver-kubelet-client.key')}",
                "--kubelet-preferred-address-types=InternalIP",
                # the aggregation layer (APIService objects: KEDA's external.metrics.k8s.io):
                # proxied requests carry the user in headers, authenticated by the proxy's
                # certificate; routed to the extension's endpoint IP (no kube-proxy rules in
                # the API server's path)
                f"--requestheader-client-ca-file={self.pki.path('front-proxy-ca.crt')}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--proxy-client-cert-file={self.pki.path('front-proxy-client.crt')}",
                f"--proxy-client-key-file={self.pki.path('front-proxy-client.key')}",
                "--enable-aggregator-routing=true",
            ]
        else:
            tls = [f"--cert-dir={w / 'certs'}"]
        self._spawn(
            "kube-apiserver",
            [
                str(TOOLS_BIN / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                f"--bind-address={self.address}",
                f"--advertise-address={self.address}",
                f"--secure-port={api_port}",
                *tls,
                f"--token-auth-file={w / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-key-file={w / 'sa.pub'}",
                f"--service-account-signing-key-file={w / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=false",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                # Debian's etcd 3.4.23 lacks the progress notifications watch-list streams need
                # (the API server wants 3.4.31+), yet WatchList (on since 1.34) turns every
                # resourceVersion=0 watch into such a stream and then refuses it. kwok watches
                # pods and nodes from resourceVersion 0, so each of its watches failed and
                # backed off up to 30 s: pods sat Pending or Terminating that long per rollout.
                # Off, those are plain watches again; clients that ask for a stream fall back to
                # list + watch. Only with kwok: the one-node cluster keeps the default, under
                # which KEDA's scale-up is tested (with the gate off it never came, in a module
                # run; decision 116).
                *(["--feature-gates=WatchList=false"] if self.fake_node else []),
            ],
        )
        self.admin_kubeconfig.write_text(kubeconfig(self.server, ADMIN_TOKEN))
        self._wait_ready()
        kc = str(self.admin_kubeconfig)

        def controller(name: str) -> list[str]:  # what the controller-manager and scheduler share
            flags = [f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}"]
            flags += ["--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={free_port()}"]
            return [str(TOOLS_BIN / name), *flags]

        self._spawn(
            "kube-controller-manager",
            [
                *controller("kube-controller-manager"),
                f"--service-account-private-key-file={w / 'sa.key'}",
                "--use-service-account-credentials=false",
                "--controllers=*,-nodeipam,-service-lb-controller,-route,-cloud-node-lifecycle",
                # the CA pods find in kube-root-ca.crt (their ServiceAccount's ca.crt)
                *([f"--root-ca-file={self.pki.path('ca.crt')}"] if self.pki else []),
            ],
        )
        self._spawn("kube-scheduler", controller("kube-scheduler"))
        if not self.fake_node:
            return self
        self._spawn(
            "kwok",
            [
                str(TOOLS_BIN / "kwok"),
                f"--kubeconfig={kc}",
                f"--config={TOOLS_BIN / 'kwok-stages.yaml'}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--cidr=10.244.0.0/16",
                "--node-ip=10.244.255.1",
                f"--server-address=127.0.0.1:{free_port()}",
                # renew the node's Lease like a kubelet: without it the node-lifecycle controller
                # marks the node Unknown after ~40 s and every pod NotReady
                "--node-lease-duration-seconds=40",
            ],
        )
        self._fake_node()
        self._schedulable()
        return self

    def api(
        self, path: str, method: str = "GET", token: str = ADMIN_TOKEN, headers: dict | None = None, **kw
    ) -> requests.Response:
        urllib3.disable_warnings()
        return requests.request(
            method,
            self.server + path,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
            verify=False,
            timeout=10,
            **kw,
        )

    def _wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited: see {self.workdir}")
            try:
                if self.api("/readyz").status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"kube-apiserver not ready; logs in {self.workdir}")

    def _fake_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "kwok-node-0",
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"kubernetes.io/hostname": "kwok-node-0", "type": "kwok"},
            },
            "spec": {},
            "status": {
                "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
                "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            },
        }
        resp = self.api("/api/v1/nodes", "POST", json=node)
        assert resp.status_code in (201, 409), resp.text

    def _schedulable(self, timeout: float = 60) -> None:
        """Wait until kwok reports the node Ready, then drop the not-ready taint the API
        server's admission put on it at creation (a kubelet's node would lose it the same way)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.api(
                "/api/v1/nodes/kwok-node-0",
                "PATCH",
                json={"spec": {"taints": None}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            node = resp.json()
            ready = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}.get("Ready")
            if resp.status_code == 200 and not node["spec"].get("taints") and ready == "True":
                return
            time.sleep(1)
        raise TimeoutError(f"fake node not schedulable: {resp.status_code} {resp.text[:300]}")

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path) -> Path:
        """A kubeconfig that acts as the ServiceAccount: exactly what its RBAC grants."""
        resp = self.api(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            "POST",
            json={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600},
            },
        )
        assert resp.status_code == 201, resp.text
        path.write_text(kubeconfig(self.server, resp.json()["status"]["token"]))
        return path

    def stop(self) -> None:
        # Last started first, each gone before the next: the API server stops at once while
        # its etcd still answers, but stopped together it waited out the 15 s for etcd.
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
