"""`gas-iam-policy`: the policy documents SREs attach to each component's role. That the
policies are sufficient and tight is proven on an IAM-enforcing moto (tests/stack/test_iam.py)."""

from __future__ import annotations

import json
import subprocess

import pytest
from support import BIN

from gas.core.iam import COMPONENTS


@pytest.mark.parametrize("component", COMPONENTS)
def test_cli_prints_a_policy_scoped_to_the_prefix_account_and_region(component):
    env = {
        "GAS_PREFIX": "gas-prod",
        "AWS_REGION": "eu-west-1",
        "GAS_SES_SENDER": "jobs@gas.example.org",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [str(BIN / "gas-iam-policy"), component, "--account", "123456789012"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    doc = json.loads(out)
    assert doc["Version"] == "2012-10-17"
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow" and "*" not in statement["Action"]
        if statement["Resource"] == ["*"]:  # only actions IAM cannot scope to a resource
            assert statement["Action"] in (["cloudwatch:GetMetricData"], ["ses:GetSendQuota"])
            continue
        for resource in statement["Resource"]:
            assert "gas-prod" in resource or resource.endswith(":identity/jobs@gas.example.org")
            assert resource.startswith("arn:aws:s3:::") or ":eu-west-1:123456789012:" in resource


def test_unknown_component_is_refused():
    proc = subprocess.run(
        [str(BIN / "gas-iam-policy"), "everything", "--account", "123456789012"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
