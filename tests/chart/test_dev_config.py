"""skaffold.yaml and k8s/ agree with the chart and the Dockerfiles (no skaffold/kind here:
their own schemas are not reachable offline, so check what can go stale)."""

from __future__ import annotations

import re

import yaml
from chartlib import ROOT, objects

SKAFFOLD = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
KIND = yaml.safe_load((ROOT / "k8s" / "kind-config.yaml").read_text())


def test_skaffold_builds_every_service_image():
    arts = {a["image"]: a for a in SKAFFOLD["build"]["artifacts"]}
    services = {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")} - {"cli"}  # a client
    assert set(arts) == {f"gas-{s}" for s in services} and len(services) == 5
    stages = re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "services" / "Dockerfile").read_text(), re.M)
    for image, art in arts.items():
        service = image.removeprefix("gas-")
        assert art["context"] == "." and art["docker"]["dockerfile"] == "services/Dockerfile"
        assert art["docker"]["buildArgs"]["SERVICE"] == service
        # the annotator image carries the annotation database; the others the plain runtime
        assert art["docker"].get("target", stages[-1]) == ("annotator" if service == "annotator" else "service")


def test_skaffold_deploys_the_chart_with_dev_values_as_a_real_helm_release(chart_tools):
    (release,) = SKAFFOLD["deploy"]["helm"]["releases"]
    assert release["chartPath"] == "charts/gas" and (ROOT / release["chartPath"] / "Chart.yaml").is_file()
    assert release["valuesFiles"] == ["k8s/values-dev.yaml"]
    assert release.get("wait") is False  # see docs/kubernetes.md: the provisioning hook runs after install
    # every value skaffold sets exists in the chart (the schema rejects unknown keys)
    sets = [f"{k}=example" for k in release["setValueTemplates"]]
    out = chart_tools.render([ROOT / f for f in release["valuesFiles"]], sets, minimal=False).stdout
    # every GAS Deployment runs the image skaffold built (moto is the only outside image)
    images = {
        o["metadata"]["name"]: c["image"]
        for o in objects(out)
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images.pop("gas-moto").startswith("motoserver/moto:")
    assert len(images) == 7 and set(images.values()) == {"example:example"}, images


def test_skaffold_port_forwards_web_and_has_a_kind_profile():
    (pf,) = SKAFFOLD["portForward"]
    assert pf["resourceName"] == "gas-web" and pf["namespace"] == "gas"
    kind = next(p for p in SKAFFOLD["profiles"] if p["name"] == "kind")
    assert kind["deploy"]["kubeContext"] == f"kind-{KIND['name']}"
    assert SKAFFOLD["build"]["local"]["push"] is False


def test_kind_maps_ingress_ports_to_loopback():
    (node,) = KIND["nodes"]
    ports = {(m["containerPort"], m["hostPort"], m.get("listenAddress")) for m in node["extraPortMappings"]}
    assert ports == {(80, 80, "127.0.0.1"), (443, 443, "127.0.0.1")}
    assert "ingress-ready=true" in node["kubeadmConfigPatches"][0]
