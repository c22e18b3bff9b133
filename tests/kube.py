"""A real Kubernetes control plane on loopback for the cluster tests: etcd,
kube-apiserver (RBAC on), kube-controller-manager, kube-scheduler and kwok (fake
nodes whose pods become Ready without containers). Binaries come from
tools/install-controlplane.sh (`make test` runs it; the fixtures build what is missing)."""

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
class ControlPlane:
    workdir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    server: str = ""

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
        (w / "tokens.csv").write_text(f'{ADMIN_TOKEN},gas-admin,gas-admin,"system:masters"\n')
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
        self.server = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "kube-apiserver",
            [
                str(TOOLS_BIN / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={w / 'certs'}",
                f"--token-auth-file={w / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-key-file={w / 'sa.pub'}",
                f"--service-account-signing-key-file={w / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--allow-privileged=false",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
            ],
        )
        self.admin_kubeconfig.write_text(kubeconfig(self.server, ADMIN_TOKEN))
        self._wait_ready()
        kc = str(self.admin_kubeconfig)
        self._spawn(
            "kube-controller-manager",
            [
                str(TOOLS_BIN / "kube-controller-manager"),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--service-account-private-key-file={w / 'sa.key'}",
                "--use-service-account-credentials=false",
                "--controllers=*,-nodeipam,-service-lb-controller,-route,-cloud-node-lifecycle",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(TOOLS_BIN / "kube-scheduler"),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
            ],
        )
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
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
