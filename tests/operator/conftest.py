"""Fixtures of the operator's control-plane tests: one real control plane (etcd,
kube-apiserver with RBAC, controller-manager, scheduler, kwok) for the directory, the
chart's operator objects in it, and operator processes stopped after each test."""

from __future__ import annotations

import time

import pytest
from kube import ControlPlane, install, missing_binaries
from operator_support import NS, Operators, apply, chart_objects


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    if missing_binaries():  # `make test` builds them first; a failed build fails here
        install()
    cp = ControlPlane(tmp_path_factory.mktemp("controlplane")).start()
    yield cp
    cp.stop()


@pytest.fixture(scope="session")
def operator_env(cluster, tmp_path_factory):
    """The chart's CRD, ServiceAccount, Role, RoleBinding and Lease in NS; a kubeconfig
    acting as the chart's ServiceAccount."""
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for obj in chart_objects({"CustomResourceDefinition", "ServiceAccount", "Role", "RoleBinding", "Lease"}):
        obj["metadata"].setdefault("namespace", NS)
        apply(cluster, obj)
    (sa,) = [o for o in chart_objects({"ServiceAccount"}) if "operator" in o["metadata"]["name"]]
    kubeconfig = cluster.service_account_kubeconfig(
        NS, sa["metadata"]["name"], tmp_path_factory.mktemp("op") / "kubeconfig"
    )
    deadline = time.monotonic() + 30
    while cluster.api("/apis/gas.dev/v1alpha1/queuescalers").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return {"KUBECONFIG": str(kubeconfig)}


@pytest.fixture
def operators(cluster, operator_env, aws_env, tmp_path):
    """Start gas-operator processes; at the end they stop and the test's scalers,
    Deployments and HPAs go (no finalizer to wait for)."""
    ops = Operators({**operator_env, **aws_env}, tmp_path)
    yield ops
    ops.stop()
    for collection in (
        f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers",
        f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers",
        f"/apis/apps/v1/namespaces/{NS}/deployments",
    ):
        assert cluster.api(collection, "DELETE").status_code == 200
    deadline = time.monotonic() + 30
    while cluster.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers").json()["items"]:
        assert time.monotonic() < deadline, "QueueScalers not deleted"
        time.sleep(0.2)
