"""Scratch that matches the node (issue 27 item 3), rendered: the annotator is told its
scratch volume's size (its free-space check counts against it, not the node's disk), the
chart refuses a premium upload cap that scratch cannot hold by the annotator's own
estimate, and scratch can be a generic ephemeral volume (gp3) instead of an emptyDir."""

from __future__ import annotations

import pytest
from chartlib import objects, policy_violations

from gas.annotator.worker import scratch_needed

GIB = 1 << 30


def annotator(out: str) -> dict:
    (dep,) = [o for o in objects(out) if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-annotator"]
    return dep["spec"]["template"]["spec"]


def env(spec: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}


@pytest.mark.parametrize(
    ("size", "expected"),
    [("4Gi", 4 * GIB), ("1500M", 1_500_000_000), ("0.5Ti", GIB * 512), ("32e9", 32_000_000_000), ("64Mi", 64 << 20)],
)
def test_the_annotator_is_told_its_scratch_size(chart_tools, size, expected):
    out = chart_tools.render(sets=[f"workers.annotator.scratch.sizeLimit={size}", "web.premiumUploadLimit=1024"]).stdout
    spec = annotator(out)
    assert env(spec)["GAS_SCRATCH_LIMIT_BYTES"] == str(expected)
    (scratch,) = [v for v in spec["volumes"] if v["name"] == "scratch"]
    assert scratch["emptyDir"]["sizeLimit"] == size


def test_a_premium_cap_scratch_cannot_hold_is_refused_by_the_annotators_estimate(chart_tools):
    """1 GiB .vcf.gz: scratch_needed says 31 GiB; the chart accepts exactly that and no less."""
    need = scratch_needed(GIB, "big.vcf.gz", 3.0)
    assert need == 31 * GIB
    cap = [f"web.premiumUploadLimit={GIB}"]
    refused = chart_tools.render(sets=cap, check=False)  # the default 4Gi
    assert refused.returncode != 0
    assert "cannot hold an upload of web.premiumUploadLimit (1024 MiB)" in refused.stderr
    assert "needs about 31744 MiB" in refused.stderr
    exact = f"workers.annotator.scratch.sizeLimit={need // (1 << 20)}Mi"
    assert chart_tools.render(sets=[*cap, exact]).returncode == 0
    short = f"workers.annotator.scratch.sizeLimit={need // (1 << 20) - 1}Mi"
    assert chart_tools.render(sets=[*cap, short], check=False).returncode != 0
    # the output factor the annotator is given counts too
    factor = "workers.annotator.env.GAS_SCRATCH_OUTPUT_FACTOR=2"
    assert chart_tools.render(sets=[*cap, factor, "workers.annotator.scratch.sizeLimit=21Gi"]).returncode == 0
    # the default cap fits the default scratch
    assert chart_tools.render().returncode == 0


def test_scratch_on_a_generic_ephemeral_volume(chart_tools):
    sets = [
        f"web.premiumUploadLimit={GIB}",
        "workers.annotator.scratch.sizeLimit=40Gi",
        "workers.annotator.scratch.storageClassName=gp3",
    ]
    out = chart_tools.render(sets=sets).stdout
    spec = annotator(out)
    (scratch,) = [v for v in spec["volumes"] if v["name"] == "scratch"]
    claim = scratch["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert "emptyDir" not in scratch
    assert claim["storageClassName"] == "gp3" and claim["resources"]["requests"]["storage"] == "40Gi"
    assert claim["accessModes"] == ["ReadWriteOnce"]
    # not on the node's disk: no ephemeral-storage request for it
    assert "ephemeral-storage" not in spec["containers"][0]["resources"]["requests"]
    assert env(spec)["GAS_SCRATCH_LIMIT_BYTES"] == str(40 * GIB)
    assert spec["securityContext"]["fsGroup"]  # the fresh volume is writable by the non-root user
    assert policy_violations(objects(out)) == []
    assert chart_tools.validate(out).returncode == 0
