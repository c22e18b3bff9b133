"""KEDA as a worker's autoscaler (issue 27 item 1), rendered: a ScaledObject (aws-sqs-queue
trigger) and a TriggerAuthentication per worker with `autoscaler: keda`, valid against
KEDA's own CRDs and carrying the QueueScaler's targets, activation, cooldown and fallback.

The CRDs are KEDA v2.21.1's config/crd/bases, vendored under fixtures/keda-v2.21.1 from the
module github.com/kedacore/keda/v2@v2.21.1 on the Go proxy (`go mod download` fetches its
zip, but the module asks for Go >= 1.27.4, so CI's Go cannot unpack it: hence the copy)."""

from __future__ import annotations

import pytest
from chartlib import KEDA_CRDS, crd_schemas, objects, policy_violations, validate_custom

KEDA = ["workers.notifier.autoscaler=keda", "workers.notifier.scaler.maxReplicas=4"]


def by_kind(objs: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def test_keda_objects_are_valid_against_kedas_crds_and_carry_the_queuescalers_spec(chart_tools):
    out = chart_tools.render(sets=["operator.enabled=true", *KEDA]).stdout
    objs = objects(out)
    checked = chart_tools.validate(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "custom resources: 6 checked against their CRD schema, 0 problem(s)" in checked.stderr
    assert policy_violations(objs) == []

    (so,) = by_kind(objs, "ScaledObject").values()
    (auth,) = by_kind(objs, "TriggerAuthentication").values()
    scalers = by_kind(objs, "QueueScaler")
    assert "gas-notifier" not in scalers and len(scalers) == 4  # KEDA's, not the operator's
    spec = scalers["gas-annotator"]["spec"]  # the defaults the notifier's overrides merge over
    assert so["spec"]["scaleTargetRef"] == {"name": "gas-notifier"}
    assert so["spec"]["maxReplicaCount"] == 4  # the worker's own scaler override
    assert so["spec"]["minReplicaCount"] == spec["minReplicas"]
    assert so["spec"]["pollingInterval"] == spec["pollingIntervalSeconds"]
    assert so["spec"]["cooldownPeriod"] == spec["cooldownSeconds"]
    assert so["spec"]["fallback"] == spec["fallback"]
    behavior = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == spec["scaleDownStabilizationSeconds"]
    (trigger,) = so["spec"]["triggers"]
    assert trigger["type"] == "aws-sqs-queue" and trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
    assert trigger["metadata"] == {
        "queueURL": "lab-gas-notify",
        "awsRegion": "us-east-1",
        "queueLength": str(spec["messagesPerReplica"]),
        "activationQueueLength": str(spec["activationMessages"]),
        "scaleOnInFlight": "true",
        "scaleOnDelayed": "false",
    }
    assert auth["spec"] == {"podIdentity": {"provider": "aws"}}
    # the check can fail: a misspelt field and a wrong type are caught
    schemas = crd_schemas(KEDA_CRDS)
    bad = {**so, "spec": {**so["spec"], "cooldownPeriods": 1, "maxReplicaCount": "4"}}
    problems = validate_custom(bad, schemas[("keda.sh/v1alpha1", "ScaledObject")])
    assert any("cooldownPeriods" in p for p in problems) and any("maxReplicaCount" in p for p in problems)

    deployments = by_kind(objs, "Deployment")
    assert "replicas" not in deployments["gas-notifier"]["spec"]  # KEDA's count, never reset
    role = by_kind(objs, "Role")["gas-operator"]
    (scale_rule,) = [r for r in role["rules"] if r["resources"] == ["deployments/scale"]]
    assert "gas-notifier" not in scale_rule["resourceNames"]  # the operator may not scale it
    assert "gas-notifier" in by_kind(objs, "PodDisruptionBudget")  # KEDA's maxReplicas 4 > 1


def test_without_the_operator_keda_still_scales_its_worker_and_none_keeps_replica_count(chart_tools):
    objs = objects(chart_tools.render(sets=[*KEDA, "workers.annotator.autoscaler=none"]).stdout)
    assert list(by_kind(objs, "ScaledObject")) == ["gas-notifier"] and not by_kind(objs, "QueueScaler")
    deployments = by_kind(objs, "Deployment")
    assert "replicas" not in deployments["gas-notifier"]["spec"]
    assert deployments["gas-annotator"]["spec"]["replicas"] == 1
    on = objects(chart_tools.render(sets=["operator.enabled=true", "workers.annotator.autoscaler=none"]).stdout)
    assert "gas-annotator" not in by_kind(on, "QueueScaler")
    assert by_kind(on, "Deployment")["gas-annotator"]["spec"]["replicas"] == 1


def test_dev_mode_reads_moto_with_the_secrets_keys(chart_tools):
    out = chart_tools.render(
        sets=["devMode.enabled=true", "environment=dev", "workers.annotator.autoscaler=keda"], minimal=False
    ).stdout
    objs = objects(out)
    assert chart_tools.validate(out).returncode == 0
    (auth,) = by_kind(objs, "TriggerAuthentication").values()
    secret = next(iter(by_kind(objs, "Secret")))
    assert auth["spec"] == {
        "secretTargetRef": [
            {"parameter": "awsAccessKeyID", "name": secret, "key": "AWS_ACCESS_KEY_ID"},
            {"parameter": "awsSecretAccessKey", "name": secret, "key": "AWS_SECRET_ACCESS_KEY"},
        ]
    }
    (so,) = by_kind(objs, "ScaledObject").values()
    # KEDA's operator runs in its own namespace: moto's short name would not resolve there
    assert so["spec"]["triggers"][0]["metadata"]["awsEndpoint"] == "http://gas-moto.gas.svc:5000"


def test_an_endpoint_override_without_keys_is_refused(chart_tools):
    """The chart's own Secret without AWS keys (an existingSecret may hold them)."""
    own = ["secrets.existingSecret=", "secrets.secretKey=" + "k" * 40, "aws.endpointUrl=https://sqs.internal.test"]
    proc = chart_tools.render(sets=[*KEDA, *own], check=False)
    assert proc.returncode != 0 and "KEDA reads that endpoint with the Secret's AWS keys" in proc.stderr
    keyed = chart_tools.render(sets=[*KEDA, *own, "secrets.awsAccessKeyId=AKIAEXAMPLE"])
    (auth,) = by_kind(objects(keyed.stdout), "TriggerAuthentication").values()
    assert "secretTargetRef" in auth["spec"]


@pytest.mark.parametrize("bad", ["keda-operator", "hpa"])
def test_an_unknown_autoscaler_is_refused(chart_tools, bad):
    proc = chart_tools.render(sets=[f"workers.notifier.autoscaler={bad}"], check=False)
    assert proc.returncode != 0 and "autoscaler" in proc.stderr
