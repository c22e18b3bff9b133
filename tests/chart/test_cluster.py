"""The chart against a real control plane (stretch of issue 5): etcd, kube-apiserver,
controller-manager, scheduler and kwok on loopback (tests/kube.py). The namespace enforces
the `restricted` Pod Security Standard, so the API server itself rejects any pod that is
not non-root / no-escalation / caps-dropped / seccomp RuntimeDefault.

`helm install` in dev mode: every object is accepted by the real API server (schema,
defaulting and admission), the post-install provisioning hook Job completes, and every
Deployment (web, annotator, notifier, the three archiver consumers, operator, moto) becomes
Available; `helm upgrade` runs the pre-upgrade hook again, keeps the generated session key
and rolls nothing it should not, and a changed key rolls the pods; the documented CRD
upgrade step updates an older CRD in place; `helm uninstall` removes it all.

Upgrade safety outside dev mode (namespace gas-prod): `helm install --wait` with
provisioning as a pre-install hook completes (no deadlock), its ServiceAccount hook comes
first (the API server refuses a pod whose ServiceAccount does not exist); turning on
`web.autoscaling` and `operator.enabled` on the live release keeps 4 replicas (not 1); the
operator's pods carry the global scheduling settings.

charts/gas/values-eks.yaml, filled in as production mode asks, installs into a restricted
namespace too (issue 27): gp3 scratch claims, the ALB's NetworkPolicy peer, the fence.

kwok fakes the kubelet: pods become Ready without running containers, so this proves the
Kubernetes side (objects, controllers, hooks, admission), not the images (tests/kind).
"""

from __future__ import annotations

import base64
import calendar
import json
import subprocess
import threading
import time

import chartlib
import pytest
import requests
import yaml
from chartlib import CHART, ROOT, VALUES
from lifecycle_support import DEV_DEPLOYMENTS

NS = "gas"
PROD_NS = "gas-prod"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, chart_tools):
    import kube  # tests/kube.py (tests/ is on sys.path via the root conftest)

    if kube.missing_binaries():  # `make test` builds them first; a failed build fails here
        kube.install()
    cp = kube.ControlPlane(tmp_path_factory.mktemp("controlplane")).start()
    try:
        # A real node has local disk: the annotator requests ephemeral-storage for its scratch
        # space, and the harness's fake node declares only cpu, memory and pods.
        node = cp.api("/api/v1/nodes/kwok-node-0").json()
        for field in ("capacity", "allocatable"):
            node["status"][field]["ephemeral-storage"] = "200Gi"
        resp = cp.api("/api/v1/nodes/kwok-node-0/status", "PUT", json=node)
        assert resp.status_code == 200, resp.text
        for name in (NS, PROD_NS):
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
            resp = cp.api("/api/v1/namespaces", "POST", json=ns)
            assert resp.status_code == 201, resp.text
        stop = threading.Event()
        threading.Thread(target=renew_node_lease, args=(cp, stop), daemon=True).start()
        try:
            yield cp
        finally:
            stop.set()
    finally:
        cp.stop()


def renew_node_lease(cp, stop: threading.Event) -> None:
    """Step in for kwok when it falls behind renewing the fake node's Lease (on a loaded
    2-core machine it can miss the node-lifecycle controller's grace period, which then
    marks the node Unknown and every pod NotReady mid-test). Only a stale lease is touched:
    renewing it while kwok keeps up makes kwok's own updates conflict, and kwok then
    stalls its pods."""
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/kwok-node-0"
    while not stop.wait(5):
        try:
            renewed = cp.api(path).json()["spec"].get("renewTime", "")
            age = time.time() - calendar.timegm(time.strptime(renewed[:19], "%Y-%m-%dT%H:%M:%S"))
            if age > 20:
                now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
                patch = {"spec": {"renewTime": now}}
                cp.api(path, "PATCH", json=patch, headers={"Content-Type": "application/merge-patch+json"})
        except (requests.RequestException, KeyError, ValueError):
            pass  # best effort: the next round tries again


def helm(cp, *args: str, timeout: float = 600, ns: str = NS) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(chartlib.HELM), "--kubeconfig", str(cp.admin_kubeconfig), "-n", ns, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def deployments(cp, ns: str = NS) -> dict[str, dict]:
    items = cp.api(f"/apis/apps/v1/namespaces/{ns}/deployments").json()["items"]
    return {d["metadata"]["name"]: d for d in items}


def available(d: dict) -> bool:
    conds = {c["type"]: c["status"] for c in d.get("status", {}).get("conditions", [])}
    return conds.get("Available") == "True" and d["status"].get("availableReplicas", 0) >= d["spec"]["replicas"]


def wait_all_available(cp, names: set[str], timeout: float = 180, ns: str = NS) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    deps: dict[str, dict] = {}
    while time.monotonic() < deadline:
        deps = deployments(cp, ns)
        if names <= set(deps) and all(available(deps[n]) for n in names):
            return deps
        time.sleep(1)
    late = {n: d.get("status", {}) for n, d in deps.items() if n in names and not available(d)}
    missing = sorted(names - set(deps))
    node = cp.api("/api/v1/nodes/kwok-node-0").json()["status"].get("conditions", [])
    pods = cp.api(f"/api/v1/namespaces/{ns}/pods").json()["items"]
    unready = {
        p["metadata"]["name"]: (p["status"].get("phase"), p["status"].get("conditions"))
        for p in pods
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    }
    raise AssertionError(
        f"not Available after {timeout}s: {missing} missing, {json.dumps(late)[:2000]}\n"
        f"node: {json.dumps(node)[:1500]}\nunready pods: {json.dumps(unready)[:3000]}"
    )


# Dev values, but no session key: the chart generates one (dev mode only) and must keep it.
DEV = ["-f", str(ROOT / "k8s" / "values-dev.yaml"), "--set", "secrets.secretKey="]
EXPECTED = DEV_DEPLOYMENTS


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


def secret_key(cp, ns: str = NS) -> str:
    data = cp.api(f"/api/v1/namespaces/{ns}/secrets/gas").json()["data"]
    return base64.b64decode(data["GAS_SECRET_KEY"]).decode()


def pod_template_annotations(cp, name: str, ns: str = NS) -> dict[str, str]:
    return deployments(cp, ns)[name]["spec"]["template"]["metadata"]["annotations"]


def test_upgrade_reruns_provisioning_and_keeps_the_generated_key(cluster):
    before = cluster.api(f"/apis/batch/v1/namespaces/{NS}/jobs/gas-provision").json()["metadata"]["uid"]
    key, web_pods = secret_key(cluster), pod_template_annotations(cluster, "gas-web")
    assert len(key) == 48
    helm(cluster, "upgrade", "gas", str(CHART), *DEV, "--set", "logLevel=INFO", "--timeout", "5m")
    job = cluster.api(f"/apis/batch/v1/namespaces/{NS}/jobs/gas-provision").json()
    assert job["metadata"]["uid"] != before and job["status"].get("succeeded") == 1
    cm = cluster.api(f"/api/v1/namespaces/{NS}/configmaps/gas").json()
    assert cm["data"]["GAS_LOG_LEVEL"] == "INFO"
    wait_all_available(cluster, EXPECTED)
    status = json.loads(helm(cluster, "status", "gas", "-o", "json").stdout)
    assert status["info"]["status"] == "deployed" and status["version"] == 2
    # the generated key was read back (lookup): sessions survive, nothing rolls for the secret
    # (the ConfigMap did change: logLevel)
    assert secret_key(cluster) == key
    after = pod_template_annotations(cluster, "gas-web")
    assert after["checksum/secret"] == web_pods["checksum/secret"]
    assert after["checksum/config"] != web_pods["checksum/config"]


def test_changed_secret_key_rolls_the_pods(cluster):
    before = pod_template_annotations(cluster, "gas-web")["checksum/secret"]
    new_key = "rotated-dev-secret-key-0123456789abcdef0123"
    helm(cluster, "upgrade", "gas", str(CHART), *DEV, "--set", f"secrets.secretKey={new_key}", "--timeout", "5m")
    assert secret_key(cluster) == new_key
    for name in ("gas-web", "gas-annotator", "gas-operator"):
        assert pod_template_annotations(cluster, name)["checksum/secret"] != before, name  # a new rollout
    wait_all_available(cluster, EXPECTED)


def scaler_uids(cp) -> set[str]:
    items = cp.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers").json()["items"]
    return {s["metadata"]["uid"] for s in items}


def test_documented_crd_upgrade_step_updates_an_older_crd(cluster):
    """docs/kubernetes.md, "Upgrading CRDs": `kubectl apply --server-side --force-conflicts
    -f charts/gas/crds/`. helm never upgrades crds/; this test plays an older CRD (printer
    columns missing), then sends every document of every file in crds/ as kubectl's
    server-side apply does (PATCH application/apply-patch+yaml, fieldManager kubectl,
    force: kubectl itself is not built here), and checks the CRD is the chart's again and
    the existing QueueScalers survived. (`helm show crds` is no substitute: it joins the
    files without `---`, so its output is one YAML document with duplicate keys.)"""
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/queuescalers.gas.dev"
    crd = cluster.api(path).json()
    version = crd["spec"]["versions"][0]
    wanted_columns = version.get("additionalPrinterColumns", [])
    assert wanted_columns, "the chart's QueueScaler CRD has printer columns"
    version["additionalPrinterColumns"] = wanted_columns[:1]  # "the previous chart version"
    resp = cluster.api(path, "PUT", json=crd)
    assert resp.status_code == 200, resp.text
    assert len(cluster.api(path).json()["spec"]["versions"][0]["additionalPrinterColumns"]) == 1
    scalers = {
        s["metadata"]["uid"]
        for s in cluster.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers").json()["items"]
    }

    documents = [d for f in sorted((CHART / "crds").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    assert "queuescalers.gas.dev" in {d["metadata"]["name"] for d in documents}
    for doc in documents:
        resp = cluster.api(
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{doc['metadata']['name']}",
            "PATCH",
            params={"fieldManager": "kubectl", "force": "true"},
            data=yaml.safe_dump(doc),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        assert resp.status_code in (200, 201), resp.text

    version = cluster.api(path).json()["spec"]["versions"][0]
    assert version["additionalPrinterColumns"] == wanted_columns
    after = {
        s["metadata"]["uid"]
        for s in cluster.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers").json()["items"]
    }
    assert after == scalers and len(after) == 5


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


# --- production mode: hooks, --wait, replicas kept, scheduling ------------------------------

PROD = ["-f", str(VALUES / "cluster-prod.yaml")]
PROD_EXPECTED = EXPECTED - {"gas-moto", "gas-operator"}


def test_install_outside_dev_mode_with_wait(cluster):
    """Provisioning is a pre-install hook outside dev mode, so `helm install --wait` finishes
    (a post-install hook would wait for pods that wait for it). Its ServiceAccount is a hook
    of lower weight: the Job's pod was admitted, so the ServiceAccount existed first."""
    t0 = time.monotonic()
    helm(cluster, "install", "gas", str(CHART), *PROD, "--wait", "--timeout", "5m", ns=PROD_NS)
    job = cluster.api(f"/apis/batch/v1/namespaces/{PROD_NS}/jobs/gas-provision").json()
    assert job["status"].get("succeeded") == 1, job["status"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "gas-provision"
    # the ServiceAccount hook is removed after success (hook-succeeded) ...
    assert cluster.api(f"/api/v1/namespaces/{PROD_NS}/serviceaccounts/gas-provision").status_code == 404
    # ... and without it the API server refuses the Job's pod: the order matters
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "no-sa"},
        "spec": job["spec"]["template"]["spec"],
    }
    refused = cluster.api(f"/api/v1/namespaces/{PROD_NS}/pods", "POST", json=pod)
    assert refused.status_code == 403 and "serviceaccount" in refused.text.lower(), refused.text
    deps = wait_all_available(cluster, PROD_EXPECTED, ns=PROD_NS)
    assert deps["gas-web"]["spec"]["replicas"] == 4 and deps["gas-annotator"]["spec"]["replicas"] == 4
    print(f"production install --wait in {time.monotonic() - t0:.1f}s")


def test_turning_on_autoscaling_and_the_operator_keeps_replicas(cluster):
    """Turning on web.autoscaling (HPA) and operator.enabled (QueueScalers) removes the
    replica count from the chart's ownership; the live 4 must stay 4, not drop to 1."""
    helm(
        cluster,
        "upgrade", "gas", str(CHART), *PROD,
        "--set", "web.autoscaling.enabled=true",
        "--set", "operator.enabled=true",
        "--timeout", "5m",
        ns=PROD_NS,
    )  # fmt: skip
    deps = deployments(cluster, PROD_NS)
    assert deps["gas-web"]["spec"]["replicas"] == 4
    assert deps["gas-annotator"]["spec"]["replicas"] == 4
    assert deps["gas-notifier"]["spec"]["replicas"] == 1
    hpa = cluster.api(f"/apis/autoscaling/v2/namespaces/{PROD_NS}/horizontalpodautoscalers/gas-web").json()
    assert hpa["spec"]["minReplicas"] == 2
    # a later upgrade renders the live count again: still 4 (an annotation on the objects
    # only, so no pod rolls and the test stays quick)
    helm(
        cluster,
        "upgrade", "gas", str(CHART), *PROD,
        "--set", "web.autoscaling.enabled=true",
        "--set", "operator.enabled=true",
        "--set", "commonAnnotations.upgraded=again",
        "--timeout", "5m",
        ns=PROD_NS,
    )  # fmt: skip
    assert deployments(cluster, PROD_NS)["gas-web"]["metadata"]["annotations"]["upgraded"] == "again"
    deps = wait_all_available(cluster, PROD_EXPECTED | {"gas-operator"}, ns=PROD_NS)
    assert deps["gas-web"]["spec"]["replicas"] == 4 and deps["gas-annotator"]["spec"]["replicas"] == 4


def test_operator_pods_carry_the_global_scheduling_settings(cluster):
    deadline = time.monotonic() + 120
    while True:  # the last upgrade's rollout: wait until only the new ReplicaSet's 2 pods remain
        pods = cluster.api(
            f"/api/v1/namespaces/{PROD_NS}/pods", params={"labelSelector": "app.kubernetes.io/component=operator"}
        ).json()["items"]
        pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if len(pods) == 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    for p in pods:
        spec = p["spec"]
        assert spec["nodeSelector"] == {"type": "kwok"}
        assert {"key": "gas.example.org/dedicated", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        assert spec["nodeName"] == "kwok-node-0"  # scheduled through the node selector
        assert "podAntiAffinity" in spec["affinity"]
    pdb = cluster.api(f"/apis/policy/v1/namespaces/{PROD_NS}/poddisruptionbudgets/gas-operator").json()
    assert pdb["spec"]["maxUnavailable"] == 1


def test_uninstall_production_release(cluster):
    helm(cluster, "uninstall", "gas", "--wait", "--timeout", "2m", ns=PROD_NS)
    assert deployments(cluster, PROD_NS) == {}


EKS_NS = "gas-eks"


def _stand_in_crd(kind: str, plural: str) -> dict:
    """kube-prometheus-stack's kinds, which values-eks.yaml assumes installed: served here so
    the API server takes them (their fields are checked against prometheus-operator's Go
    types by gas-k8s-validate in tests/chart/test_chart_capabilities.py)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


def test_values_eks_installs_on_the_api_server(cluster, tmp_path):
    """Issue 27 items 3, 4 and 6 as an SRE installs them: charts/gas/values-eks.yaml plus the
    three values production mode makes one fill in, `helm install` into a restricted
    namespace of the real API server (a gp3 StorageClass and the monitoring CRDs present, as
    on the EKS the file describes). The API server admits every pod, the annotator's scratch
    is a gp3 claim made for its pod, web takes the ALB's subnets as a NetworkPolicy peer, the
    deletion-cost fence renders from live discovery, the operator runs with a QueueScaler per
    worker, and the PrometheusRule and PDBs are in place."""
    for obj in (
        _stand_in_crd("ServiceMonitor", "servicemonitors"),
        _stand_in_crd("PrometheusRule", "prometheusrules"),
    ):
        assert cluster.api("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "POST", json=obj).status_code in (
            201,
            409,
        )
    gp3 = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "gp3"},
        "provisioner": "ebs.csi.aws.com",
        "volumeBindingMode": "WaitForFirstConsumer",
        "parameters": {"type": "gp3"},
    }
    assert cluster.api("/apis/storage.k8s.io/v1/storageclasses", "POST", json=gp3).status_code in (201, 409)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": EKS_NS, "labels": RESTRICTED}}
    assert cluster.api("/api/v1/namespaces", "POST", json=ns).status_code == 201
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gas-secrets"}, "type": "Opaque"}
    secret["stringData"] = {"GAS_SECRET_KEY": "eks-install-test-" * 3}
    assert cluster.api(f"/api/v1/namespaces/{EKS_NS}/secrets", "POST", json=secret).status_code == 201
    for plural in ("servicemonitors", "prometheusrules"):
        deadline = time.monotonic() + 30
        while cluster.api(f"/apis/monitoring.coreos.com/v1/{plural}").status_code != 200:
            assert time.monotonic() < deadline, f"{plural} not served"
            time.sleep(0.5)
    yours = tmp_path / "yours.yaml"
    yours.write_text(
        "prefix: acme-gas-prod\nsesSender: gas-noreply@genomics.acme.test\ningress: {host: gas.genomics.acme.test}\n"
    )
    eks = ["-f", str(CHART / "values-eks.yaml"), "-f", str(yours)]
    helm(cluster, "install", "gas", str(CHART), *eks, "--timeout", "5m", ns=EKS_NS)

    def api(path: str) -> dict:
        return cluster.api(path).json()

    deps = wait_all_available(cluster, PROD_EXPECTED - {"gas-annotator"} | {"gas-operator"}, ns=EKS_NS)
    assert deps["gas-operator"]["spec"]["replicas"] == 2
    # the annotator's pod was admitted (restricted PSS) and its scratch is a gp3 claim of its own
    deadline = time.monotonic() + 60
    claims: list[dict] = []
    while time.monotonic() < deadline and not claims:
        claims = api(f"/api/v1/namespaces/{EKS_NS}/persistentvolumeclaims")["items"]
        time.sleep(1)
    (claim,) = claims
    (owner,) = claim["metadata"]["ownerReferences"]
    assert owner["kind"] == "Pod" and owner["name"].startswith("gas-annotator-")
    assert claim["metadata"]["name"] == f"{owner['name']}-scratch"
    assert claim["spec"]["storageClassName"] == "gp3" and claim["spec"]["resources"]["requests"]["storage"] == "40Gi"
    (ing,) = api(f"/apis/networking.k8s.io/v1/namespaces/{EKS_NS}/ingresses")["items"]
    assert ing["spec"]["ingressClassName"] == "alb"
    assert ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/target-type"] == "ip"
    web_np = api(f"/apis/networking.k8s.io/v1/namespaces/{EKS_NS}/networkpolicies/gas-web")
    assert {"ipBlock": {"cidr": "10.0.0.0/16"}} in [p for r in web_np["spec"]["ingress"] for p in r.get("from", [])]
    policies = api("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies")["items"]
    assert [p["metadata"]["name"] for p in policies if EKS_NS in p["metadata"]["name"]]
    scalers = api(f"/apis/gas.dev/v1alpha1/namespaces/{EKS_NS}/queuescalers")["items"]
    assert len(scalers) == 5
    (rule,) = api(f"/apis/monitoring.coreos.com/v1/namespaces/{EKS_NS}/prometheusrules")["items"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    pdbs = {p["metadata"]["name"] for p in api(f"/apis/policy/v1/namespaces/{EKS_NS}/poddisruptionbudgets")["items"]}
    assert {"gas-web", "gas-annotator", "gas-operator"} <= pdbs
    helm(cluster, "uninstall", "gas", "--wait", "--timeout", "2m", ns=EKS_NS)
