"""The operator against a real Kubernetes API server (etcd, kube-apiserver with RBAC,
controller-manager, scheduler, kwok) and moto server: it runs as a process with a
ServiceAccount token that has exactly the chart's RBAC."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
import requests
import yaml
from kube import ControlPlane, install, missing_binaries
from support import BIN, ROOT, free_port

NS = "gas-op"
POLL = 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if missing_binaries():
        install()
    cp = ControlPlane(tmp_path_factory.mktemp("controlplane")).start()
    yield cp
    cp.stop()


def _apply(cp: ControlPlane, obj: dict) -> None:
    group_version = obj["apiVersion"]
    kind = obj["kind"]
    plural = {
        "CustomResourceDefinition": "customresourcedefinitions",
        "Namespace": "namespaces",
        "ServiceAccount": "serviceaccounts",
        "Role": "roles",
        "RoleBinding": "rolebindings",
        "ClusterRole": "clusterroles",
        "ClusterRoleBinding": "clusterrolebindings",
        "Deployment": "deployments",
        "QueueScaler": "queuescalers",
        "KopfPeering": "kopfpeerings",
    }[kind]
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    namespaced = kind not in ("CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding")
    path = f"{base}/namespaces/{obj['metadata'].get('namespace', NS)}/{plural}" if namespaced else f"{base}/{plural}"
    resp = cp.api(path, "POST", json=obj)
    assert resp.status_code in (201, 409), resp.text


def _chart_objects(kinds: set[str]) -> list[dict]:
    """The operator's CRDs and RBAC exactly as the chart renders them."""
    helm = os.environ.get("GAS_HELM", str(ROOT / ".cache" / "bin" / "helm"))
    out = subprocess.run(
        [
            helm,
            "template",
            "gas",
            str(ROOT / "charts" / "gas"),
            "--namespace",
            NS,
            "--include-crds",
            "--set",
            "operator.enabled=true",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [o for o in yaml.safe_load_all(out) if o and o["kind"] in kinds]


@pytest.fixture(scope="module")
def operator_env(cluster, moto_url, tmp_path_factory):
    _apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for obj in _chart_objects(
        {
            "CustomResourceDefinition",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ClusterRole",
            "ClusterRoleBinding",
            "KopfPeering",
        }
    ):
        obj["metadata"].setdefault("namespace", NS)
        _apply(cluster, obj)
    (sa,) = [o for o in _chart_objects({"ServiceAccount"}) if "operator" in o["metadata"]["name"]]
    kubeconfig = cluster.service_account_kubeconfig(
        NS, sa["metadata"]["name"], tmp_path_factory.mktemp("op") / "kubeconfig"
    )
    deadline = time.monotonic() + 30
    while cluster.api("/apis/gas.dev/v1alpha1/queuescalers").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return {"KUBECONFIG": str(kubeconfig)}


class Operator:
    def __init__(self, env, logdir):
        self.env, self.logdir, self.procs = env, logdir, []

    def start(self) -> tuple[subprocess.Popen, int]:
        port = free_port()
        env = {
            **os.environ,
            **self.env,
            "GAS_WATCH_NAMESPACE": NS,
            "GAS_METRICS_PORT": str(port),
            "GAS_METRICS_HOST": "127.0.0.1",
            "GAS_HEALTH_PORT": str(free_port()),
        }
        log = open(self.logdir / f"operator-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([str(BIN / "gas-operator")], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc, port

    def stop(self, proc=None):
        for p in [proc] if proc else self.procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)


@pytest.fixture
def operator(operator_env, aws_env, tmp_path):
    op = Operator({**operator_env, **aws_env}, tmp_path)
    yield op
    op.stop()


def _deployment(cp, name):
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": "w", "image": "gas-worker:test"}],
                    "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists"}],
                },
            },
        },
    }
    _apply(cp, obj)


def _scaler(cp, name, queue, moto_url, **spec):
    body = {
        "apiVersion": "gas.dev/v1alpha1",
        "kind": "QueueScaler",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "scaleTargetRef": {"name": name},
            "queue": {"name": queue, "region": "us-east-1", "endpoint": moto_url},
            "messagesPerReplica": 5,
            "minReplicas": 0,
            "maxReplicas": 10,
            "pollingIntervalSeconds": POLL,
            "cooldownSeconds": 0,
            "scaleDownStabilizationSeconds": 6,
            **spec,
        },
    }
    _apply(cp, body)


def _replicas(cp, name) -> int:
    return cp.api(f"/apis/apps/v1/namespaces/{NS}/deployments/{name}/scale").json()["spec"].get("replicas", 0)


def _status(cp, name) -> dict:
    return cp.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers/{name}").json().get("status", {})


def _wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _send(aws, queue, n):
    sqs = aws.client("sqs")
    url = aws.queue_url(queue)
    for i in range(0, n, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": "m"} for j in range(min(10, n - i))]
        )
    return url


def test_scales_to_queue_depth_then_down_after_the_window(cluster, operator, provisioned, moto_url):
    name, queue = "annotator", provisioned.names.queue("annotate")
    _deployment(cluster, name)
    _scaler(cluster, name, queue, moto_url)
    operator.start()
    _wait(lambda: _replicas(cluster, name) == 0, 3 * POLL + 20, "scale to zero (idle, no cooldown)")
    url = _send(provisioned, queue, 23)
    t = time.monotonic()
    _wait(lambda: _replicas(cluster, name) == 5, 2 * POLL + 5, "ceil(23/5) = 5 replicas")
    reaction = time.monotonic() - t
    status = _wait(lambda: _status(cluster, name).get("desiredReplicas") == 5 and _status(cluster, name), 10, "status")
    assert status["visibleMessages"] == 23 and status["observedGeneration"] == 1
    events = cluster.api(f"/api/v1/namespaces/{NS}/events").json()["items"]
    assert any(e["reason"] == "Scaled" and "to 5" in e["message"] for e in events)

    provisioned.client("sqs").purge_queue(QueueUrl=url)
    drained = time.monotonic()
    _wait(lambda: _replicas(cluster, name) == 0, 6 + 3 * POLL + 10, "scale down to min after the window")
    assert time.monotonic() - drained >= 6 - POLL, "scaled down before the stabilisation window"
    print(f"reaction to a spike: {reaction:.2f}s (polling interval {POLL}s)")


def test_paused_missing_queue_fallback_and_missing_target(cluster, operator, provisioned, moto_url):
    _deployment(cluster, "paused")
    _scaler(cluster, "paused", provisioned.names.queue("notify"), moto_url)
    cluster.api(
        f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers/paused",
        "PATCH",
        headers={"Content-Type": "application/merge-patch+json"},
        data=json.dumps({"metadata": {"annotations": {"gas.dev/paused": "true"}}}),
    )
    _send(provisioned, provisioned.names.queue("notify"), 40)
    _deployment(cluster, "noqueue")
    _scaler(cluster, "noqueue", "does-not-exist", moto_url, fallback={"failureThreshold": 2, "replicas": 3})
    _scaler(cluster, "notarget", provisioned.names.queue("notify"), moto_url)
    operator.start()
    _wait(lambda: _replicas(cluster, "noqueue") == 3, 4 * POLL + 20, "fallback replicas after queue errors")
    cond = {c["type"]: c for c in _status(cluster, "noqueue")["conditions"]}
    assert cond["QueueReadable"]["status"] == "False" and cond["QueueReadable"]["reason"] == "QueueMissing"
    ready = _wait(
        lambda: {c["type"]: c for c in _status(cluster, "notarget").get("conditions", [])}.get("Ready"), 20, "condition"
    )
    assert ready["reason"] == "TargetMissing"
    time.sleep(2 * POLL)
    assert _replicas(cluster, "paused") == 1, "a paused scaler changed its target"


def test_restart_does_not_flap_and_steady_state_makes_no_writes(cluster, operator, provisioned, moto_url):
    name, queue = "archiver", provisioned.names.queue("archive")
    _deployment(cluster, name)
    _scaler(cluster, name, queue, moto_url, scaleDownStabilizationSeconds=60)
    _send(provisioned, queue, 12)
    proc, port = operator.start()
    _wait(lambda: _replicas(cluster, name) == 3, 2 * POLL + 20, "3 replicas")
    operator.stop(proc)
    provisioned.client("sqs").purge_queue(QueueUrl=provisioned.queue_url(queue))
    proc, port = operator.start()
    time.sleep(4 * POLL)
    assert _replicas(cluster, name) == 3, "restart scaled down inside the stabilisation window"

    def writes():
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return sum(
            float(v)
            for v in re.findall(r'gas_operator_api_calls_total\{api="kubernetes",verb="patch-[a-z]+"\} ([\d.]+)', text)
        )

    before = writes()
    time.sleep(3 * POLL)
    assert writes() == before, "writes while nothing changed"


def test_two_operators_do_not_fight(cluster, operator, provisioned, moto_url):
    name, queue = "notifier", provisioned.names.queue("notify")
    _deployment(cluster, name)
    _scaler(cluster, name, queue, moto_url)
    _send(provisioned, queue, 7)
    _, port_a = operator.start()
    _, port_b = operator.start()
    _wait(lambda: _replicas(cluster, name) == 2, 3 * POLL + 30, "2 replicas")
    time.sleep(3 * POLL)

    def scales(port):
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return sum(
            float(v)
            for v in re.findall(r'gas_operator_scale_events_total\{[^}]*scaler="gas-op/notifier"[^}]*\} ([\d.]+)', text)
        )

    assert scales(port_a) + scales(port_b) == 1, "both operators acted"
    operator.stop()
    for log in operator.logdir.glob("operator-*.log"):  # kopf's own lines too
        for line in log.read_text().splitlines():
            assert line.startswith("{") and json.loads(line)["event"], f"{log.name}: {line[:200]}"
