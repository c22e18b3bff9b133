"""Secrets and availability (issue 27 item 6), rendered: web and workers spread over zones
and nodes by default, PodDisruptionBudgets only where they protect something (more than one
pod possible; an unready pod never blocks a drain), and Stakater Reloader's annotation for
an existing Secret rotated in place."""

from __future__ import annotations

from chartlib import VALUES, objects, policy_violations

WORKERS = ["gas-annotator", "gas-archiver-archive", "gas-archiver-restore", "gas-archiver-thaw", "gas-notifier"]


def deployments(out: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects(out) if o["kind"] == "Deployment"}


def pdbs(out: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects(out) if o["kind"] == "PodDisruptionBudget"}


def test_web_and_workers_spread_over_zones_then_nodes_by_default(chart_tools):
    deps = deployments(chart_tools.render().stdout)
    for name in ["gas-web", *WORKERS]:
        spread = deps[name]["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert [c["topologyKey"] for c in spread] == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        component = deps[name]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for c in spread:
            assert c["maxSkew"] == 1 and c["whenUnsatisfiable"] == "ScheduleAnyway"  # one node still schedules
            assert c["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
            assert c["labelSelector"]["matchLabels"].items() <= deps[name]["spec"]["selector"]["matchLabels"].items()


def test_own_constraints_replace_the_default_and_it_can_be_off(chart_tools):
    own = chart_tools.render(
        sets=["web.topologySpreadConstraints[0].maxSkew=2", "web.topologySpreadConstraints[0].topologyKey=rack"]
        + ["web.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule"]
    ).stdout
    (c,) = deployments(own)["gas-web"]["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert c["topologyKey"] == "rack"
    off = deployments(chart_tools.render(sets=["defaultTopologySpread=false"]).stdout)
    assert not any("topologySpreadConstraints" in d["spec"]["template"]["spec"] for d in off.values())


def test_pdbs_only_where_more_than_one_pod_can_run(chart_tools):
    # defaults: web's HPA runs 2-10 pods, each worker one
    assert list(pdbs(chart_tools.render().stdout)) == ["gas-web"]
    # one web pod and no HPA: nothing to keep
    single = chart_tools.render(sets=["web.autoscaling.enabled=false", "web.replicaCount=1"]).stdout
    assert "gas-web" not in pdbs(single)
    # the production values: an operator scaling every worker up to 20, annotator 4 replicas
    prod = chart_tools.render([VALUES / "production.yaml"]).stdout
    budgets = pdbs(prod)
    assert set(budgets) >= {"gas-web", "gas-operator", *WORKERS}
    deps = deployments(prod)
    for name, pdb in budgets.items():
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        if name in deps:
            assert pdb["spec"]["selector"]["matchLabels"] == deps[name]["spec"]["selector"]["matchLabels"]
    # a worker the operator may not scale past one gets none
    one = chart_tools.render([VALUES / "production.yaml"], sets=["workers.notifier.scaler.maxReplicas=1"]).stdout
    assert "gas-notifier" not in pdbs(one) and "gas-annotator" in pdbs(one)
    assert policy_violations(objects(prod)) == []
    assert chart_tools.validate(prod).returncode == 0


def test_reloader_rolls_what_reads_a_rotated_existing_secret(chart_tools):
    key = "secret.reloader.stakater.com/reload"
    # every Deployment that reads it: web, the workers, and the operator (its AWS keys)
    on = deployments(chart_tools.render(sets=["secrets.reloader=true", "operator.enabled=true"]).stdout)
    assert {n: d["metadata"]["annotations"][key] for n, d in on.items()} == dict.fromkeys(
        ["gas-web", *WORKERS, "gas-operator"], "gas-secrets"
    )
    off = deployments(chart_tools.render().stdout)
    assert not any(key in (d["metadata"].get("annotations") or {}) for d in off.values())
    # the chart's own Secret rolls the pods through checksum/secret: no Reloader needed
    own = chart_tools.render(sets=["secrets.reloader=true", "secrets.existingSecret=", "secrets.secretKey=" + "s" * 40])
    assert not any(key in (d["metadata"].get("annotations") or {}) for d in deployments(own.stdout).values())
