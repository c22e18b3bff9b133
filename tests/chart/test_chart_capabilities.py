"""Installable where it will run (issue 27 item 4): the workers' deletion-cost fence (a
ValidatingAdmissionPolicy, Kubernetes 1.30) is rendered only where the API exists, and
without it the workers get no `pods: patch` Role, no token and no deletion cost, which
NOTES.txt says. `helm template --kube-version` stands for the cluster's version; a live
cluster's discovery (kinds listed) is what `--api-versions` gives."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml
from chartlib import CHART, MINIMAL, objects, policy_violations

NOTES_AS_OBJECT = """apiVersion: v1
kind: ConfigMap
metadata: {name: rendered-notes}
data:
  notes: |
{{- include (print .Template.BasePath "/NOTES.txt") . | nindent 4 }}
"""


def fence(out: str) -> tuple[list[str], list[str], list[str]]:
    objs = objects(out)
    policies = [o["metadata"]["name"] for o in objs if o["kind"].startswith("ValidatingAdmissionPolicy")]
    roles = [
        o["metadata"]["name"] for o in objs if o["kind"] == "Role" and "pod-deletion-cost" in o["metadata"]["name"]
    ]
    costing = [
        o["metadata"]["name"]
        for o in objs
        if o["kind"] == "Deployment"
        and any(e["name"] == "GAS_POD_DELETION_COST" for e in o["spec"]["template"]["spec"]["containers"][0]["env"])
    ]
    return policies, roles, costing


def test_before_kubernetes_1_30_no_policy_no_pods_patch_role_no_deletion_cost(chart_tools):
    out = chart_tools.render(extra=["--kube-version", "1.28.0"]).stdout
    assert fence(out) == ([], [], [])
    workers = [
        o
        for o in objects(out)
        if o["kind"] == "Deployment" and o["spec"]["template"]["metadata"]["labels"].get("gas.example.org/worker")
    ]
    assert len(workers) == 5
    assert all(w["spec"]["template"]["spec"]["automountServiceAccountToken"] is False for w in workers)
    assert policy_violations(objects(out)) == []
    assert chart_tools.validate(out).returncode == 0


def test_kube_version_is_what_the_defaults_need(chart_tools):
    """1.27: the PDBs' unhealthyPodEvictionPolicy is beta and on from then (GA in 1.31); the
    chart's kubeVersion refuses an older cluster rather than drop the field silently."""
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"] == ">=1.27.0-0"
    old = chart_tools.render(extra=["--kube-version", "1.26.15"], check=False)
    assert old.returncode != 0 and "kubeVersion" in old.stderr, old.stderr
    out = chart_tools.render(extra=["--kube-version", "1.27.0"]).stdout
    assert any(o["kind"] == "PodDisruptionBudget" and o["spec"]["unhealthyPodEvictionPolicy"] for o in objects(out))


def test_from_kubernetes_1_30_the_fence_and_deletion_cost_render(chart_tools):
    for extra in ([], ["--kube-version", "1.30.0"]):  # helm's own default is newer
        policies, roles, costing = fence(chart_tools.render(extra=extra).stdout)
        assert len(policies) == 2 and roles == ["gas-pod-deletion-cost"] and len(costing) == 5, extra


@pytest.mark.parametrize(
    ("discovered", "fenced"),
    [
        ("admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy", True),
        ("admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration", False),  # a cluster without it
    ],
)
def test_a_live_clusters_discovery_decides(chart_tools, discovered, fenced):
    out = chart_tools.render(extra=["--kube-version", "1.30.0", "--api-versions", discovered]).stdout
    assert bool(fence(out)[0]) is fenced


def test_notes_say_deletion_cost_is_off(chart_tools, tmp_path):
    chart = tmp_path / "gas"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "zz-notes.yaml").write_text(NOTES_AS_OBJECT)

    def notes(*extra: str) -> str:
        out = chart_tools.render(extra=list(extra), chart=chart).stdout
        (cm,) = [o for o in objects(out) if o["metadata"]["name"] == "rendered-notes"]
        return cm["data"]["notes"]

    old = notes("--kube-version", "1.28.0")
    assert "pod deletion cost is off" in old and "Kubernetes v1.28.0" in old
    assert "pod deletion cost is off" not in notes("--kube-version", "1.30.0")
    # nobody asked for it: nothing to say
    assert "pod deletion cost is off" not in notes(
        "--kube-version", "1.28.0", "--set", "workerDefaults.podDeletionCost=false"
    )


# --- production mode refuses placeholders -----------------------------------------------

SCHEMA_REFUSES = "values don't meet the specifications of the schema"
# Every GAS image with a registry of its own, so that image.registry may be empty.
OWN_REGISTRIES = [
    "image.registry=",
    "web.image.repository=ghcr.io/acme/gas-web",
    "workers.annotator.image.repository=localhost:5000/gas-annotator",
    "workers.notifier.image.repository=localhost/gas-notifier",
    *(f"workers.archiver-{w}.image.repository=ghcr.io/acme/archiver" for w in ("archive", "restore", "thaw")),
]


def refused_paths(stderr: str) -> list[str]:
    """The values a schema error names (its leaves: the `at '/...'` lines)."""
    return re.findall(r"- at '(/[^']*)': (?!validation failed|'allOf' failed)", stderr)


def without(key: str) -> list[str]:
    """OWN_REGISTRIES less the one image under test (back to the chart's default)."""
    return [s for s in OWN_REGISTRIES if not s.startswith(f"{key}=")]


@pytest.mark.parametrize(
    ("sets", "path"),
    [
        (["ingress.host=gas.example.org"], "/ingress/host"),
        (["ingress.enabled=false", "ingress.host=gas.example.org"], "/ingress/host"),  # publicUrl empty: its host
        (["publicUrl=https://gas.acme.test", "ingress.host=gas.example.org"], "/ingress/host"),  # the Ingress serves it
        (["publicUrl=https://lab.example.com:8443"], "/publicUrl"),
        (["sesSender=jobs@example.org"], "/sesSender"),
        (["sesSender=jobs@mail.example.net"], "/sesSender"),
        (["prefix=gas"], "/prefix"),
        (without("web.image.repository"), "/web/image/repository"),
        (without("workers.annotator.image.repository"), "/workers/annotator/image/repository"),
        (without("workers.notifier.image.repository"), "/workers/notifier/image/repository"),
        (without("workers.archiver-thaw.image.repository"), "/workers/archiver-thaw/image/repository"),
        ([*OWN_REGISTRIES, "operator.enabled=true"], "/operator/image/repository"),
        ([*OWN_REGISTRIES, "workers.extra.queue=extra"], "/workers/extra"),  # would be gas-extra
        ([*OWN_REGISTRIES, "workerDefaults.image.repository=gas-worker"], "/workerDefaults/image/repository"),
        (["tests.image=curlimages/curl:8.11.1"], "/tests/image"),
    ],
)
def test_production_schema_refuses_each_placeholder(chart_tools, sets, path):
    """helm template and helm lint stop at the schema, which names the one value."""
    proc = chart_tools.render(sets=sets, check=False)
    assert proc.returncode != 0 and SCHEMA_REFUSES in proc.stderr, proc.stderr
    assert refused_paths(proc.stderr) == [path], proc.stderr
    lint = chart_tools.helm("lint", str(CHART), *chart_tools.values_args([MINIMAL], sets), check=False)
    assert lint.returncode != 0 and SCHEMA_REFUSES in lint.stdout + lint.stderr, lint.stdout
    assert f"- at '{path}'" in lint.stdout + lint.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("ingress.host=gas.example.org", 'the public host "gas.example.org" (ingress.host)'),
        ("publicUrl=https://lab.example.com:8443", 'the public host "lab.example.com" (publicUrl)'),
        ("sesSender=jobs@example.org", 'sesSender "jobs@example.org"'),
        ("sesSender=jobs@mail.example.net", 'sesSender "jobs@mail.example.net"'),
        ("prefix=gas", 'prefix "gas" names buckets gas-inputs'),
        ("image.registry=", 'web.image.repository "gas-web" has no registry'),
        ("tests.image=curlimages/curl:8.11.1", 'tests.image "curlimages/curl:8.11.1" has no registry'),
    ],
)
def test_without_the_schema_the_templates_list_each_placeholder(chart_tools, override, message):
    """--skip-schema-validation: the template's one readable list still refuses."""
    proc = chart_tools.render(sets=[override], check=False, extra=["--skip-schema-validation"])
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert "environment: production refuses placeholder values" in proc.stderr


@pytest.mark.parametrize(
    "sets",
    [
        OWN_REGISTRIES,  # repositories naming their own registry need no image.registry
        [*OWN_REGISTRIES, "workers.extra.queue=extra", "workerDefaults.image.repository=ghcr.io/acme/gas"],
        [*OWN_REGISTRIES, "workers.extra.queue=extra", "workers.extra.enabled=false"],  # not pulled
        ["prefix=gasx", "sesSender=gas@example.org.genomics.test", "tests.image=docker.io/curlimages/curl:8.11.1"],
        ["ingress.enabled=false", "ingress.host=gas.example.org", "publicUrl=https://gas.acme.test"],  # unused
        ["httpRoute.enabled=true", "httpRoute.parentRefs[0].name=gw", "httpRoute.hostnames[0]=gas.example.org"],
    ],
)
def test_what_is_not_a_placeholder_passes(chart_tools, sets):
    for extra in ([], ["--skip-schema-validation"]):  # the schema and the template agree
        proc = chart_tools.render(sets=sets, check=False, extra=extra)
        assert proc.returncode == 0, proc.stderr


def test_dev_mode_keeps_the_placeholders(chart_tools):
    defaults = ["prefix=gas", "image.registry=", "ingress.host=gas.example.org", "sesSender=gas-noreply@example.org"]
    for sets in (["devMode.enabled=true", "environment=dev"], ["devMode.enabled=true"], ["environment=dev"]):
        dev = chart_tools.render(sets=[*sets, *defaults], check=False)
        assert dev.returncode == 0, dev.stderr
    assert chart_tools.render(sets=["devMode.enabled=true", "environment=dev"], minimal=False).returncode == 0


# --- values-eks.yaml ------------------------------------------------------------------------


def test_values_eks_names_what_to_fill_in_then_installs_on_1_28_and_current(chart_tools, tmp_path):
    eks = CHART / "values-eks.yaml"
    refused = chart_tools.render([eks], minimal=False, check=False)
    assert refused.returncode != 0 and SCHEMA_REFUSES in refused.stderr
    assert sorted(refused_paths(refused.stderr)) == ["/ingress/host", "/prefix", "/sesSender"], refused.stderr
    yours = tmp_path / "yours.yaml"
    yours.write_text(
        "prefix: acme-gas-prod\nsesSender: gas-noreply@genomics.acme.test\ningress: {host: gas.genomics.acme.test}\n"
    )
    for extra in (["--kube-version", "1.28.0"], []):
        out = chart_tools.render([eks, yours], minimal=False, extra=extra).stdout
        objs = objects(out)
        assert policy_violations(objs) == []
        assert chart_tools.validate(out).returncode == 0
        assert bool(fence(out)[0]) is (not extra)  # the policy only where the API is
        (ing,) = [o for o in objs if o["kind"] == "Ingress"]
        assert ing["spec"]["ingressClassName"] == "alb"
        assert ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/target-type"] == "ip"
        (web_np,) = [o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "gas-web"]
        peers = [p for rule in web_np["spec"]["ingress"] for p in rule.get("from", [])]
        assert {"ipBlock": {"cidr": "10.0.0.0/16"}} in peers  # the ALB's subnets, IP mode
        (annotator,) = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-annotator"]
        (scratch,) = [v for v in annotator["spec"]["template"]["spec"]["volumes"] if v["name"] == "scratch"]
        assert scratch["ephemeral"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3"
        assert any(o["kind"] == "PrometheusRule" for o in objs) and any(o["kind"] == "QueueScaler" for o in objs)
