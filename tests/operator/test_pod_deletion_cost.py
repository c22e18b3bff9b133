"""Scale-down removes idle workers first: each worker sets its own pod's deletion cost
(gas.core.deletion_cost), through the chart's Role fenced by its ValidatingAdmissionPolicy.

On the control plane (real kube-apiserver with RBAC and admission, the ReplicaSet
controller, kwok's node): the chart's objects as `helm template` renders them, pods of a
worker Deployment, and for each pod a token bound to it (TokenRequest, as the kubelet asks
for a pod's projected token). The worker's own code sets the costs; every other change the
token could try is refused; a scale-down keeps the busy pods.
"""

from __future__ import annotations

import shutil

import pytest
import structlog
from operator_support import CLUSTER_SCOPED, apply, chart_objects, merge_patch, wait_for
from prometheus_client import REGISTRY

from gas.core.config import WorkerSettings
from gas.core.deletion_cost import ANNOTATION, DeletionCost

NS = "gas-cost"
WORKER = "gas-annotator"  # the chart's Deployment and ServiceAccount of the annotator
PODS = f"/api/v1/namespaces/{NS}/pods"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def chart(cluster):
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    kinds = {"ServiceAccount", "Role", "RoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    # the deletion cost's Role and RoleBinding, not the operator's
    objs = [
        o
        for o in chart_objects(kinds, NS)
        if o["kind"] not in ("Role", "RoleBinding") or "deletion-cost" in o["metadata"]["name"]
    ]
    assert {o["kind"] for o in objs} == kinds
    for obj in objs:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"].setdefault("namespace", NS)
        apply(cluster, obj, NS)
    return objs


@pytest.fixture(scope="module")
def pods(cluster, chart):
    """Four Running pods of the annotator's Deployment (ServiceAccount gas-annotator)."""
    apply(
        cluster,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": WORKER, "namespace": NS},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": WORKER}},
                "template": {
                    "metadata": {"labels": {"app": WORKER}},
                    "spec": {
                        "serviceAccountName": WORKER,
                        "containers": [{"name": "annotator", "image": "gas-annotator:test"}],
                        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists"}],
                    },
                },
            },
        },
        NS,
    )

    def running() -> list[dict] | None:
        items = cluster.api(f"{PODS}?labelSelector=app={WORKER}").json()["items"]
        ready = [p for p in items if p["status"].get("phase") == "Running" and "deletionTimestamp" not in p["metadata"]]
        return ready if len(ready) == 4 else None

    return wait_for(running, 60, "4 Running pods")


def bound_token(cluster, pod: dict | None) -> str:
    spec: dict = {"expirationSeconds": 3600}
    if pod is not None:
        spec["boundObjectRef"] = {"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"]}
        spec["boundObjectRef"]["uid"] = pod["metadata"]["uid"]
    resp = cluster.api(
        f"/api/v1/namespaces/{NS}/serviceaccounts/{WORKER}/token",
        "POST",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["status"]["token"])


def worker_cost(cluster, pod: dict, token: str, tmp_path) -> DeletionCost:
    """The worker's own object, configured as the chart configures a pod (downward API,
    the projected token and CA in the service account directory)."""
    account = tmp_path / pod["metadata"]["name"]
    account.mkdir()
    (account / "token").write_text(token)
    ca = cluster.pki.path("ca.crt") if cluster.pki else cluster.workdir / "certs" / "apiserver.crt"
    shutil.copy(ca, account / "ca.crt")
    settings = WorkerSettings(
        pod_deletion_cost=True,
        pod_name=pod["metadata"]["name"],
        pod_namespace=NS,
        kubernetes_api_url=cluster.server,
        service_account_dir=str(account),
    )
    cost = DeletionCost.from_settings(settings, "annotate")
    assert cost is not None
    return cost


def annotation(cluster, name: str) -> str | None:
    return cluster.api(f"{PODS}/{name}").json()["metadata"].get("annotations", {}).get(ANNOTATION)


def test_a_worker_token_changes_nothing_but_its_own_pods_cost(cluster, pods):
    mine, other = pods[0]["metadata"]["name"], pods[1]["metadata"]["name"]
    token = bound_token(cluster, pods[0])

    def patch(name: str, body: dict, as_token: str = token, query: str = ""):
        return cluster.api(f"{PODS}/{name}{query}", "PATCH", token=as_token, headers=MERGE, json=body)

    # The policy applies a moment after it is created: wait until it does, with dry runs
    # (admission runs, nothing is stored), then try the real thing.
    relabel = {"metadata": {"labels": {"app": "stolen"}}}
    wait_for(lambda: patch(mine, relabel, query="?dryRun=All").status_code == 403, 30, "the policy in force")
    refused = patch(mine, relabel)
    assert refused.status_code == 403
    assert "only its pod's controller.kubernetes.io/pod-deletion-cost" in refused.json()["message"]

    def cost(value: str) -> dict:
        return {"metadata": {"annotations": {ANNOTATION: value}}}

    assert patch(mine, cost("7")).status_code == 200
    assert annotation(cluster, mine) == "7"
    for what, name, body, status, says in [
        ("another pod's cost", other, cost("1"), 403, "only the pod its token is bound to"),
        ("another annotation", mine, {"metadata": {"annotations": {"x": "y"}}}, 403, "only its pod's"),
        ("its image", mine, {"spec": {"containers": [{"name": "annotator", "image": "evil:1"}]}}, 403, "only its"),
        ("its owner", mine, {"metadata": {"ownerReferences": None}}, 403, "only its pod's"),
        ("a cost that is no number", mine, cost("high"), 422, "must be a 32bit integer"),  # Kubernetes' own check
    ]:
        resp = patch(name, body)
        assert (resp.status_code, says in resp.json().get("message", "")) == (status, True), (what, resp.text)
    # a token bound to no pod (or stolen and used elsewhere: the binding is in the signed token)
    assert patch(mine, cost("9"), bound_token(cluster, None)).status_code == 403
    # RBAC: the token can patch, nothing else (no get, list, delete)
    assert cluster.api(f"{PODS}/{mine}", token=token).status_code == 403
    assert cluster.api(f"{PODS}/{mine}", "DELETE", token=token).status_code == 403
    assert annotation(cluster, mine) == "7" and annotation(cluster, other) is None


def updates(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "gas_worker_pod_deletion_cost_updates_total", {"queue": "annotate", "outcome": outcome}
        )
        or 0.0
    )


def test_a_scale_down_keeps_the_busy_workers(cluster, pods, tmp_path):
    # The newest pods are the ones a ReplicaSet removes first at equal cost: make them busy.
    ordered = sorted(pods, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
    idle, busy = ordered[:2], ordered[2:]
    costs = {p["metadata"]["name"]: worker_cost(cluster, p, bound_token(cluster, p), tmp_path) for p in pods}
    before = updates("ok")
    for p in busy:
        costs[p["metadata"]["name"]].busy()
    for p in idle:
        costs[p["metadata"]["name"]].idle()
        costs[p["metadata"]["name"]].idle()  # unchanged: no second call
    assert updates("ok") - before == 4
    assert {p["metadata"]["name"]: annotation(cluster, p["metadata"]["name"]) for p in pods} == {
        **{p["metadata"]["name"]: "1000" for p in busy},
        **{p["metadata"]["name"]: "0" for p in idle},
    }

    merge_patch(cluster, f"/apis/apps/v1/namespaces/{NS}/deployments/{WORKER}", {"spec": {"replicas": 2}})

    def survivors() -> set[str] | None:
        items = cluster.api(f"{PODS}?labelSelector=app={WORKER}").json()["items"]
        alive = {p["metadata"]["name"] for p in items if "deletionTimestamp" not in p["metadata"]}
        return alive if len(alive) == 2 else None

    assert wait_for(survivors, 60, "the scale-down") == {p["metadata"]["name"] for p in busy}


def test_a_refused_update_never_stops_the_worker(cluster, pods, tmp_path):
    # One pod's token in another pod's place: the policy refuses, the worker goes on.
    alive = cluster.api(f"{PODS}?labelSelector=app={WORKER}").json()["items"]
    mine, theirs = [p for p in alive if "deletionTimestamp" not in p["metadata"]][:2]
    cost = worker_cost(cluster, theirs, bound_token(cluster, mine), tmp_path)
    errors = updates("error")
    with structlog.testing.capture_logs() as logs:
        cost.busy()
        cost.busy()  # backing off: not tried again at once
    assert updates("error") - errors == 1
    (failed,) = logs
    assert failed["event"] == "worker.deletion_cost_failed"
    assert failed["error"].startswith("HTTP 403") and "only the pod its token is bound to" in failed["error"]
