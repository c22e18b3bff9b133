"""KEDA on the one-node cluster, installed as an SRE installs it from KEDA's own release
manifests: the `config/` tree of github.com/kedacore/keda/v2 (what upstream's kustomize
`config/default` assembles), copied beside the binaries by tools/install-keda.sh. The only
changes are the ones a registry-less node needs (docs/kubernetes.md "KEDA"):

- the images built here (tools/images/build.py: keda, keda-adapter), never pulled;
- no admission webhooks (not built: they only validate ScaledObjects, which the chart's
  tests check against KEDA's CRDs), so the operator does not patch their configuration;
- requests of 10m CPU / 64Mi (upstream: 100m / 100Mi), so KEDA fits beside GAS on a
  2-core node at the annotator's peak.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from node_support import TOOLS_BIN, OneNodeCluster

NS = "keda"
CONFIG = TOOLS_BIN / "keda-config"
# KEDA's config/default, less the webhooks (see above) and its CRD kustomization's patches
# (only labels); the aggregated keda:edit/keda:view roles come with config/rbac.
FILES = (
    "general/namespace.yaml",
    "service_account/service_account.yaml",
    "rbac/role.yaml",
    "rbac/role_binding.yaml",
    "rbac/aggregate_cluster_roles.yaml",
    "manager/manager.yaml",
    "manager/service.yaml",
    "metrics-server/role.yaml",
    "metrics-server/role_binding.yaml",
    "metrics-server/deployment.yaml",
    "metrics-server/service.yaml",
    "metrics-server/api_service.yaml",
)
APISERVICE = "v1beta1.external.metrics.k8s.io"


def manifests(images: dict[str, dict], config: Path = CONFIG) -> list[dict]:
    objects = [o for f in sorted((config / "crd" / "bases").glob("*.yaml")) for o in yaml.safe_load_all(f.read_text())]
    objects += [o for f in FILES for o in yaml.safe_load_all((config / f).read_text())]
    objects = [o for o in objects if o]
    image_of = {"keda-operator": images["keda"]["ref"], "keda-metrics-apiserver": images["keda-adapter"]["ref"]}
    for obj in objects:
        if obj["kind"] != "Deployment":
            continue
        (container,) = obj["spec"]["template"]["spec"]["containers"]
        container["image"] = image_of[container["name"]]
        container["imagePullPolicy"] = "IfNotPresent"
        container["resources"]["requests"] = {"cpu": "10m", "memory": "64Mi"}
        if container["name"] == "keda-operator":
            container["args"].append("--enable-webhook-patching=false")
    return objects


def install(node: OneNodeCluster, images: dict[str, dict], timeout: float = 300) -> dict[str, float]:
    """Create KEDA's objects; wait until its CRDs are established, both Deployments are
    Available and the API server serves external.metrics.k8s.io through the APIService."""
    assert node.cp
    t0 = time.monotonic()
    node.apply(manifests(images))
    timings = {}
    deadline = time.monotonic() + timeout
    for crd in ("scaledobjects.keda.sh", "triggerauthentications.keda.sh"):
        while True:
            status = node.cp.api(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}").json()["status"]
            if {c["type"]: c["status"] for c in status.get("conditions", [])}.get("Established") == "True":
                break
            assert time.monotonic() < deadline, f"CRD {crd} not established: {status}"
            time.sleep(0.5)
    node.wait_deployments(NS, {"keda-operator", "keda-metrics-apiserver"}, timeout=timeout)
    timings["KEDA: apply -> pods Ready (s)"] = round(time.monotonic() - t0, 1)
    conditions: dict = {}
    while time.monotonic() < deadline:
        service = node.cp.api(f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}").json()
        conditions = {c["type"]: c for c in service.get("status", {}).get("conditions", [])}
        # Available: the aggregator reached the metrics server with the CA KEDA's operator put
        # in the APIService (its cert rotation); the group is then in discovery
        if conditions.get("Available", {}).get("status") == "True":
            if node.cp.api("/apis/external.metrics.k8s.io/v1beta1").status_code == 200:
                timings["KEDA: apply -> external metrics served (s)"] = round(time.monotonic() - t0, 1)
                return timings
        time.sleep(1)
    raise AssertionError(
        f"{APISERVICE} not Available: {conditions}\n{node.pod_report(NS)}\n"
        f"kube-apiserver log:\n{(node.workdir / 'controlplane' / 'kube-apiserver.log').read_text()[-3000:]}"
    )


def logs(node: OneNodeCluster, component: str, tail: int = 60) -> str:
    """The last lines of a KEDA pod's log (keda-operator, keda-metrics-apiserver)."""
    assert node.cp
    out = []
    for pod in node.pods(NS, f"app={component}"):
        name = pod["metadata"]["name"]
        out.append(f"--- {name}\n" + node.cp.api(f"/api/v1/namespaces/{NS}/pods/{name}/log?tailLines={tail}").text)
    return "\n".join(out)
