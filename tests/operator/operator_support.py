"""Helpers of the operator's control-plane tests: the chart's objects, the operator as a
process (with the chart's ServiceAccount, so exactly the chart's RBAC), its metrics, and a
TCP proxy that can stop answering (a hung API server)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from kube import ControlPlane
from support import BIN, ROOT, free_port, spawn, stop

NS = "gas-op"
POLL = 2
# Short enough for tests; the chart uses the defaults (60 s / 15 s).
LEASE_ENV = {"GAS_LEADER_LEASE_SECONDS": "4", "GAS_LEADER_RENEW_SECONDS": "1", "GAS_KUBE_TIMEOUT_SECONDS": "3"}
HELM = Path(os.environ.get("GAS_TOOLS_BIN", ROOT / ".cache" / "bin")) / "helm"

PLURALS = {
    "CustomResourceDefinition": "customresourcedefinitions",
    "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "Deployment": "deployments",
    "QueueScaler": "queuescalers",
    "Lease": "leases",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
}
CLUSTER_SCOPED = {"CustomResourceDefinition", "Namespace"} | {k for k in PLURALS if k.startswith("ValidatingAdmission")}


def path_of(obj: dict[str, Any], namespace: str = NS) -> str:
    """The collection URL of an object."""
    version, kind = obj["apiVersion"], obj["kind"]
    base = "/api/v1" if version == "v1" else f"/apis/{version}"
    if kind in CLUSTER_SCOPED:
        return f"{base}/{PLURALS[kind]}"
    return f"{base}/namespaces/{obj['metadata'].get('namespace', namespace)}/{PLURALS[kind]}"


def apply(cp: ControlPlane, obj: dict[str, Any], namespace: str = NS) -> None:
    resp = cp.api(path_of(obj, namespace), "POST", json=obj)
    assert resp.status_code in (201, 409), resp.text


def merge_patch(cp: ControlPlane, path: str, patch: dict[str, Any]) -> dict[str, Any]:
    resp = cp.api(path, "PATCH", headers={"Content-Type": "application/merge-patch+json"}, json=patch)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def chart_objects(kinds: set[str], namespace: str = NS) -> list[dict[str, Any]]:
    """The operator's objects exactly as the chart renders them."""
    out = subprocess.run(
        [str(HELM), "template", "gas", str(ROOT / "charts" / "gas"), "--namespace", namespace, "--include-crds"]
        # the smallest production values (a Secret, no placeholders), operator on
        + ["-f", str(ROOT / "tests" / "chart" / "values" / "minimal.yaml"), "--set", "operator.enabled=true"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [o for o in yaml.safe_load_all(out) if o and o["kind"] in kinds]


def wait_for(pred: Any, timeout: float, what: str, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def deployment(cp: ControlPlane, name: str, replicas: int = 1, namespace: str = NS) -> None:
    apply(
        cp,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [{"name": "w", "image": "gas-worker:test"}],
                        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists"}],
                    },
                },
            },
        },
    )


def scaler(cp: ControlPlane, name: str, target: str, queue: str, moto_url: str, **spec: Any) -> None:
    annotations = spec.pop("annotations", {})
    apply(
        cp,
        {
            "apiVersion": "gas.dev/v1alpha1",
            "kind": "QueueScaler",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations},
            "spec": {
                "scaleTargetRef": {"name": target},
                "queue": {"name": queue, "region": "us-east-1", "endpoint": moto_url},
                "messagesPerReplica": 5,
                "minReplicas": 0,
                "maxReplicas": 10,
                "pollingIntervalSeconds": POLL,
                "cooldownSeconds": 0,
                "scaleDownStabilizationSeconds": 6,
                **spec,
            },
        },
    )


def scaler_path(name: str, namespace: str = NS) -> str:
    return f"/apis/gas.dev/v1alpha1/namespaces/{namespace}/queuescalers/{name}"


def replicas(cp: ControlPlane, name: str, namespace: str = NS) -> int:
    resp = cp.api(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale")
    return int(resp.json()["spec"].get("replicas", 0))


def status(cp: ControlPlane, name: str, namespace: str = NS) -> dict[str, Any]:
    return dict(cp.api(scaler_path(name, namespace)).json().get("status", {}))


def conditions(cp: ControlPlane, name: str, namespace: str = NS) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status(cp, name, namespace).get("conditions", [])}


def events(cp: ControlPlane, involved: str, namespace: str = NS) -> list[dict[str, Any]]:
    items = cp.api(f"/api/v1/namespaces/{namespace}/events").json()["items"]
    return [e for e in items if e["involvedObject"]["name"] == involved]


def send(aws: Any, queue: str, n: int) -> str:
    sqs, url = aws.client("sqs"), aws.queue_url(queue)
    for i in range(0, n, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": "m"} for j in range(min(10, n - i))]
        )
    return str(url)


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's series whose labels include `labels` (0 if none)."""
    total = 0.0
    for series, value in re.findall(rf"^{name}(\{{[^}}]*\}})? ([0-9.e+-]+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


class OperatorProcess:
    def __init__(self, proc: subprocess.Popen[bytes], name: str, metrics_port: int, health_port: int, log: Path):
        self.proc, self.name, self.metrics_port, self.health_port, self.log = proc, name, metrics_port, health_port, log

    def metrics(self) -> str:
        return requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def value(self, name: str, **labels: str) -> float:
        return metric(self.metrics(), name, **labels)

    def leader(self) -> bool:
        try:
            return self.value("gas_operator_leader") == 1
        except requests.RequestException:
            return False

    def healthz(self) -> int:
        return requests.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=5).status_code

    def scaler_writes(self) -> float:
        """Writes of the scaler loops: scale and status patches, events (not the Lease)."""
        text = self.metrics()
        return sum(
            metric(text, "gas_operator_api_calls_total", api="kubernetes", verb=verb)
            for verb in ("patch-scale", "patch-status", "create-event", "patch-finalizers")
        )


class Operators:
    """gas-operator processes of one test; all stopped at its end."""

    def __init__(self, env: dict[str, str], logdir: Path):
        self.env, self.logdir, self.procs = env, logdir, []

    def start(self, name: str = "op-0", **env: str) -> OperatorProcess:
        metrics_port, health_port = free_port(), free_port()
        full = {
            **os.environ,
            **self.env,
            **LEASE_ENV,
            "GAS_WATCH_NAMESPACE": NS,
            "GAS_POD_NAME": name,
            "GAS_LEADER_LEASE_NAME": "gas-operator",
            "GAS_METRICS_PORT": str(metrics_port),
            "GAS_METRICS_HOST": "127.0.0.1",
            "GAS_HEALTH_PORT": str(health_port),
            **env,
        }
        log = self.logdir / f"operator-{name}-{len(self.procs)}.log"
        op = OperatorProcess(spawn([str(BIN / "gas-operator")], full, log), name, metrics_port, health_port, log)
        self.procs.append(op)
        wait_for(lambda: _answers(op), 30, f"operator {name} /metrics")
        return op

    def stop(self, op: OperatorProcess | None = None) -> None:
        chosen = [op] if op else self.procs
        for o in chosen:
            if o.proc.poll() is None:
                o.proc.send_signal(signal.SIGCONT)  # a test may have frozen it
        stop([o.proc for o in chosen])


def _answers(op: OperatorProcess) -> bool:
    assert op.proc.poll() is None, f"operator exited: {op.log.read_text()[-2000:]}"
    try:
        op.metrics()
        return True
    except requests.RequestException:
        return False
