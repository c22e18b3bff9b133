"""`autoscaler: keda` on a real API server (issue 27 item 1): with KEDA v2.21.1's CRDs
installed, `helm install` creates the worker's ScaledObject and TriggerAuthentication (the
API server checks them against the CRDs' schemas, strictly); a count KEDA set survives
`helm upgrade`; and the operator stands down, with no error, for the HPA KEDA makes from a
ScaledObject of its own release (the moment of a switch from queueScaler to keda).

KEDA itself (its operator and metrics server) does not run here: the test cluster's API
server lacks the aggregation-layer flags KEDA's metrics server needs. The HPA it would make
is created as KEDA makes it (name, labels copied from the ScaledObject, target)."""

from __future__ import annotations

import subprocess

import yaml
from operator_support import HELM, Operators, apply, conditions, events, merge_patch, replicas, wait_for
from support import ROOT

NS = "gas-keda"
KEDA_CRDS = sorted((ROOT / "tests" / "chart" / "fixtures" / "keda-v2.21.1").glob("*.yaml"))
REAL = [
    "prefix=lab-gas",
    "sesSender=gas-noreply@genomics.test",
    "ingress.host=gas.genomics.test",
    "image.registry=registry.genomics.test",
    "secrets.secretKey=" + "keda-install-test-" * 3,
    "operator.enabled=true",
    "workers.notifier.autoscaler=keda",
]


def _helm(cluster, *args: str, sets: list[str] = REAL) -> subprocess.CompletedProcess:
    argv = [str(HELM), "--kubeconfig", str(cluster.admin_kubeconfig), "-n", NS, *args]
    proc = subprocess.run(argv + [a for s in sets for a in ("--set", s)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_keda_objects_install_the_count_survives_upgrade_and_the_operator_stands_down(
    cluster, operator_env, aws_env, tmp_path
):
    for crd in KEDA_CRDS:
        apply(cluster, yaml.safe_load(crd.read_text()))
    for plural in ("scaledobjects", "triggerauthentications"):
        wait_for(lambda p=plural: cluster.api(f"/apis/keda.sh/v1alpha1/{p}").status_code == 200, 30, f"{plural} served")
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})

    # The API server itself checks the rendered objects against KEDA's schemas: strict field
    # validation refuses an unknown field (a dry run of exactly what helm installs).
    rendered = _helm(cluster, "template", "gas", str(ROOT / "charts" / "gas")).stdout
    keda = [o for o in yaml.safe_load_all(rendered) if o and o["apiVersion"] == "keda.sh/v1alpha1"]
    assert sorted(o["kind"] for o in keda) == ["ScaledObject", "TriggerAuthentication"]
    for obj in keda:
        plural = {"ScaledObject": "scaledobjects", "TriggerAuthentication": "triggerauthentications"}[obj["kind"]]
        url = f"/apis/keda.sh/v1alpha1/namespaces/{NS}/{plural}?dryRun=All&fieldValidation=Strict"
        assert cluster.api(url, "POST", json=obj).status_code == 201
        bad = {**obj, "spec": {**obj["spec"], "cooldownPeriods": 5}}
        refused = cluster.api(url, "POST", json=bad)
        assert refused.status_code == 400 and "cooldownPeriods" in refused.text

    install = _helm(cluster, "install", "gas", str(ROOT / "charts" / "gas"))
    assert "unknown field" not in install.stderr, install.stderr
    so = cluster.api(f"/apis/keda.sh/v1alpha1/namespaces/{NS}/scaledobjects/gas-notifier").json()
    assert so["spec"]["triggers"][0]["metadata"]["queueURL"] == "lab-gas-notify"
    scalers = cluster.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers").json()["items"]
    assert "gas-notifier" not in {s["metadata"]["name"] for s in scalers}

    # KEDA's HPA scales the notifier to 3: an upgrade keeps 3, never replicaCount's 1.
    merge_patch(cluster, f"/apis/apps/v1/namespaces/{NS}/deployments/gas-notifier/scale", {"spec": {"replicas": 3}})
    _helm(cluster, "upgrade", "gas", str(ROOT / "charts" / "gas"), sets=[*REAL, "logLevel=DEBUG"])
    assert replicas(cluster, "gas-notifier", NS) == 3

    # The annotator's QueueScaler meets the HPA KEDA makes when the annotator is switched to
    # keda (the ScaledObject's labels are the release's): it stands down, no error.
    (notifier_so,) = [o for o in keda if o["kind"] == "ScaledObject"]
    labels = {**notifier_so["metadata"]["labels"], "app.kubernetes.io/component": "annotator"}
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "keda-hpa-gas-annotator",
            "namespace": NS,
            "labels": {**labels, "scaledobject.keda.sh/name": "gas-annotator"},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gas-annotator"},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "s0-aws-sqs-lab-gas-annotate"},
                        "target": {"type": "AverageValue", "averageValue": "5"},
                    },
                }
            ],
        },
    }
    apply(cluster, hpa, NS)
    kubeconfig = cluster.service_account_kubeconfig(NS, "gas-operator", tmp_path / "kubeconfig")
    ops = Operators({**aws_env, "KUBECONFIG": str(kubeconfig)}, tmp_path)
    op = ops.start(GAS_WATCH_NAMESPACE=NS)
    try:
        ready = wait_for(lambda: conditions(cluster, "gas-annotator", NS).get("Ready"), 60, "the annotator's scaler")
        assert (ready["status"], ready["reason"]) == ("False", "StoodDown"), ready
        assert "release gas's HorizontalPodAutoscaler keda-hpa-gas-annotator" in ready["message"]
        notes = [e for e in events(cluster, "gas-annotator", NS) if e["reason"] == "StoodDown"]
        assert [e["type"] for e in notes] == ["Normal"]
        assert op.value("gas_operator_errors_total", scaler=f"{NS}/gas-annotator", kind="conflict") == 0
    finally:
        ops.stop()
    _helm(cluster, "uninstall", "gas", sets=[])
