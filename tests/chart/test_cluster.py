"""The chart against a real control plane (stretch of issue 5): etcd, kube-apiserver,
controller-manager, scheduler and kwok on loopback (tests/kube.py). The namespace enforces
the `restricted` Pod Security Standard, so the API server itself rejects any pod that is
not non-root / no-escalation / caps-dropped / seccomp RuntimeDefault.

`helm install` in dev mode: every object is accepted by the real API server (schema,
defaulting and admission), the post-install provisioning hook Job completes, and every
Deployment (web, annotator, notifier, the three archiver consumers, operator, moto) becomes
Available; `helm upgrade` runs the pre-upgrade hook again and rolls nothing it should not;
`helm uninstall` removes it all.

kwok fakes the kubelet: pods become Ready without running containers, so this proves the
Kubernetes side (objects, controllers, hooks, admission), not the images (tests/kind).
"""

from __future__ import annotations

import json
import subprocess
import time

import chartlib
import pytest
from chartlib import CHART, ROOT

NS = "gas"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, chart_tools):
    import kube  # tests/kube.py (tests/ is on sys.path via the root conftest)

    if kube.missing_binaries():  # `make test` builds them first; a failed build fails here
        kube.install()
    cp = kube.ControlPlane(tmp_path_factory.mktemp("controlplane")).start()
    try:
        ns = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NS,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            },
        }
        resp = cp.api("/api/v1/namespaces", "POST", json=ns)
        assert resp.status_code == 201, resp.text
        yield cp
    finally:
        cp.stop()


def helm(cp, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(chartlib.HELM), "--kubeconfig", str(cp.admin_kubeconfig), "-n", NS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def deployments(cp) -> dict[str, dict]:
    items = cp.api(f"/apis/apps/v1/namespaces/{NS}/deployments").json()["items"]
    return {d["metadata"]["name"]: d for d in items}


def available(d: dict) -> bool:
    conds = {c["type"]: c["status"] for c in d.get("status", {}).get("conditions", [])}
    return conds.get("Available") == "True" and d["status"].get("availableReplicas", 0) >= d["spec"]["replicas"]


def wait_all_available(cp, names: set[str], timeout: float = 180) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    deps: dict[str, dict] = {}
    while time.monotonic() < deadline:
        deps = deployments(cp)
        if names <= set(deps) and all(available(deps[n]) for n in names):
            return deps
        time.sleep(1)
    state = {n: d.get("status", {}) for n, d in deps.items()}
    raise AssertionError(f"not all Available after {timeout}s: {json.dumps(state, indent=1)[:3000]}")


DEV = ["-f", str(ROOT / "k8s" / "values-dev.yaml")]
EXPECTED = {
    "gas-web",
    "gas-annotator",
    "gas-notifier",
    "gas-archiver-archive",
    "gas-archiver-restore",
    "gas-archiver-thaw",
    "gas-operator",
    "gas-moto",
}


def test_install_dev_mode_every_deployment_available(cluster):
    t0 = time.monotonic()
    # No --wait (see docs/kubernetes.md): helm still waits for the post-install hook Job.
    out = helm(cluster, "install", "gas", str(CHART), *DEV, "--timeout", "5m").stdout
    notes = out.split("NOTES:", 1)[1]
    assert "Mode: DEV" in notes and "http://gas.localtest.me/" in notes and "helm test gas -n gas" in notes
    assert "annotator: queue gas-annotate" in notes and "WARNING" not in notes
    job = cluster.api(f"/apis/batch/v1/namespaces/{NS}/jobs/gas-provision").json()
    assert job["status"].get("succeeded") == 1, job["status"]
    deps = wait_all_available(cluster, EXPECTED)
    assert set(deps) == EXPECTED
    # the restricted Pod Security Standard admitted every pod
    pods = cluster.api(f"/api/v1/namespaces/{NS}/pods").json()["items"]
    assert {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods} >= {
        "web",
        "annotator",
        "notifier",
        "archiver-archive",
        "archiver-restore",
        "archiver-thaw",
        "operator",
        "moto",
    }
    # the operator's QueueScalers were accepted by the API server's CRD validation
    scalers = cluster.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers").json()["items"]
    assert len(scalers) == 5
    print(f"install -> all Available in {time.monotonic() - t0:.1f}s")


def test_upgrade_reruns_provisioning(cluster):
    before = cluster.api(f"/apis/batch/v1/namespaces/{NS}/jobs/gas-provision").json()["metadata"]["uid"]
    helm(cluster, "upgrade", "gas", str(CHART), *DEV, "--set", "logLevel=INFO", "--timeout", "5m")
    job = cluster.api(f"/apis/batch/v1/namespaces/{NS}/jobs/gas-provision").json()
    assert job["metadata"]["uid"] != before and job["status"].get("succeeded") == 1
    cm = cluster.api(f"/api/v1/namespaces/{NS}/configmaps/gas").json()
    assert cm["data"]["GAS_LOG_LEVEL"] == "INFO"
    wait_all_available(cluster, EXPECTED)
    status = json.loads(helm(cluster, "status", "gas", "-o", "json").stdout)
    assert status["info"]["status"] == "deployed" and status["version"] == 2


def test_uninstall_removes_everything(cluster):
    helm(cluster, "uninstall", "gas", "--wait", "--timeout", "2m")
    assert deployments(cluster) == {}


def test_namespace_really_enforces_restricted(cluster):
    """The admission check above can fail: a root pod is refused in the same namespace."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root-pod"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "securityContext": {"runAsUser": 0}}]},
    }
    resp = cluster.api(f"/api/v1/namespaces/{NS}/pods", "POST", json=pod)
    assert resp.status_code == 403 and "restricted" in resp.text, resp.text
