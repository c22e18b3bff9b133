"""The options SREs expect of a well-kept chart (issue 14 items 2-5), rendered: every one set
to a non-default value in values/every-option.yaml (the good case; each has a bad case in
values/bad/), every object valid and within the policy, each option visibly in effect."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml
from chartlib import CRD_DIR, KEDA_CRDS, ROOT, VALUES, objects, policy_violations

EVERY = VALUES / "every-option.yaml"
GATEWAY_API = "sigs.k8s.io/gateway-api@v1.4.1"


@cache
def httproute_crd() -> Path:
    """The Gateway API's own HTTPRoute CRD, from its Go module (the Go proxy is reachable)."""
    proc = subprocess.run(["go", "mod", "download", "-json", GATEWAY_API], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return Path(json.loads(proc.stdout)["Dir"]) / "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"


@pytest.fixture(scope="module")
def every(chart_tools) -> list[dict]:
    return objects(chart_tools.render([EVERY], minimal=False).stdout)


def find(objs: list[dict], kind: str, name: str) -> dict:
    (obj,) = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def pod(objs: list[dict], name: str) -> dict:
    return find(objs, "Deployment", name)["spec"]["template"]["spec"]


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_every_option_renders_valid_objects_within_policy(chart_tools, every):
    manifest = yaml.safe_dump_all(every)
    crds = [*sorted(CRD_DIR.glob("*.yaml")), *KEDA_CRDS, httproute_crd()]
    proc = chart_tools.validate(manifest, crds)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert policy_violations(every) == []


def test_common_annotations_and_version_label_of_the_deployed_tag(every):
    for o in every:
        assert o["metadata"]["annotations"]["team.example.org/owner"] == "genomics", o["metadata"]["name"]
    # app.kubernetes.io/version is the tag each component deploys, not the chart's appVersion
    assert find(every, "Deployment", "gas-web")["metadata"]["labels"]["app.kubernetes.io/version"] == "2.0.2"
    web_pod_labels = find(every, "Deployment", "gas-web")["spec"]["template"]["metadata"]["labels"]
    assert web_pod_labels["app.kubernetes.io/version"] == "2.0.2"
    assert find(every, "Deployment", "gas-annotator")["metadata"]["labels"]["app.kubernetes.io/version"] == "2.0.1"
    assert find(every, "Deployment", "gas-operator")["metadata"]["labels"]["app.kubernetes.io/version"] == "2.0.1"


def test_version_label_keeps_the_tag_of_a_tag_at_digest_reference(chart_tools):
    digest = "sha256:" + "ab" * 32
    out = objects(chart_tools.render(sets=[f"web.image.tag=3.1.0@{digest}"]).stdout)
    web = find(out, "Deployment", "gas-web")
    assert web["metadata"]["labels"]["app.kubernetes.io/version"] == "3.1.0"
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == f"registry.genomics.test/gas-web:3.1.0@{digest}"


def test_web_ops_port_proxies_readiness_and_shutdown(every):
    spec = pod(every, "gas-web")
    web, sidecar = spec["containers"]
    assert sidecar["name"] == "log-shipper"
    assert {p["name"]: p["containerPort"] for p in web["ports"]} == {"http": 8080, "ops": 9200}
    env = env_of(web)
    assert env["GAS_WEB_BIND"] == "0.0.0.0:8080" and env["GAS_WEB_OPS_BIND"] == "0.0.0.0:9200"
    assert env["GAS_WEB_FORWARDED_ALLOW_IPS"] == "10.1.0.0/16,10.2.0.7"
    assert env["GAS_WEB_PROXY_HOPS"] == "2"
    assert (env["GAS_READYZ_CACHE_SECONDS"], env["GAS_READYZ_GRACE_SECONDS"]) == ("10", "120")
    assert env["GAS_WEB_GRACEFUL_TIMEOUT"] == "30"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert web[probe]["httpGet"]["port"] == "ops", probe
    assert web["startupProbe"]["periodSeconds"] == 5 and web["startupProbe"]["failureThreshold"] == 12
    # the ingress drains the pod during the preStop sleep, then gunicorn gets its graceful timeout
    assert web["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "15"]
    assert spec["terminationGracePeriodSeconds"] == 15 + 30 + 5
    assert spec["priorityClassName"] == "gas-web"
    assert {"name": "corporate-ca", "mountPath": "/etc/ssl/corporate", "readOnly": True} in web["volumeMounts"]
    assert {"name": "corporate-ca", "configMap": {"name": "corporate-ca"}} in spec["volumes"]
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_web_lifecycle_value_replaces_the_default_prestop(chart_tools):
    out = objects(chart_tools.render(sets=["web.lifecycle.postStart.exec.command={echo,started}"]).stdout)
    web = pod(out, "gas-web")["containers"][0]
    assert web["lifecycle"] == {"postStart": {"exec": {"command": ["echo", "started"]}}}


def test_ops_port_is_never_routed_to_users(every):
    """The Ingress, the HTTPRoute and the web Service reach the public port only; the ops
    port has its own -metrics Service (Prometheus, helm test)."""
    svc = find(every, "Service", "gas-web")["spec"]["ports"]
    assert [(p["name"], p["targetPort"]) for p in svc] == [("http", "http")]
    metrics = find(every, "Service", "gas-web-metrics")
    assert [(p["port"], p["targetPort"]) for p in metrics["spec"]["ports"]] == [(9200, "ops")]
    assert metrics["metadata"]["labels"]["gas.example.org/metrics"] == "true"
    ingress = find(every, "Ingress", "gas-web")
    (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
    assert path["backend"]["service"] == {"name": "gas-web", "port": {"name": "http"}}
    route = find(every, "HTTPRoute", "gas-web")
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "gas-web", "port": 80}]
    assert route["spec"]["hostnames"] == ["gas.example.org"]
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateways", "sectionName": "https"}]
    assert route["metadata"]["annotations"]["gateway.example.org/waf"] == "strict"
    test_pod = find(objects_of_hook(every, "test"), "Pod", "gas-test-readyz")
    assert "http://gas-web-metrics:9200/readyz" in json.dumps(test_pod)


def objects_of_hook(objs: list[dict], hook: str) -> list[dict]:
    return [o for o in objs if hook in (o["metadata"].get("annotations") or {}).get("helm.sh/hook", "")]


def test_httproute_defaults_to_the_ingress_host(chart_tools):
    out = objects(
        chart_tools.render(
            sets=["httpRoute.enabled=true", "httpRoute.parentRefs[0].name=gw", "ingress.enabled=false"]
        ).stdout
    )
    assert find(out, "HTTPRoute", "gas-web")["spec"]["hostnames"] == ["gas.genomics.test"]  # minimal.yaml's
    assert not [o for o in out if o["kind"] == "Ingress"]


def test_network_policies_peers_rules_and_api_server_egress(every):
    web = find(every, "NetworkPolicy", "gas-web")["spec"]["ingress"]
    public, probe, ops = web
    assert public["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert {"ipBlock": {"cidr": "10.0.0.0/16"}} in public["from"]  # an ALB in IP mode
    # the helm test probe (tests.probe) calls the API on the public port
    assert probe["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert probe["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "test"
    assert ops["ports"] == [{"port": 9200, "protocol": "TCP"}]
    deny = find(every, "NetworkPolicy", "gas-default-deny")["spec"]
    assert deny["ingress"][0]["ports"] == [{"port": 4191, "protocol": "TCP"}]
    assert {"to": [{"ipBlock": {"cidr": "10.50.0.0/16"}}], "ports": [{"port": 8125, "protocol": "UDP"}]} in deny[
        "egress"
    ]
    assert {"port": 9200, "protocol": "TCP"} in deny["egress"][-2]["ports"]  # helm test -> web's ops port
    assert {"port": 8080, "protocol": "TCP"} in deny["egress"][-2]["ports"]  # the probe -> web's public port
    api = find(every, "NetworkPolicy", "gas-kube-api-egress")["spec"]
    assert api["egress"] == [
        {"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "172.20.0.0/24"}}]}
    ]
    # the operator and the workers that set their own deletion cost, nothing else
    assert api["podSelector"]["matchLabels"]["gas.example.org/kube-api"] == "true"
    clients = {
        o["metadata"]["name"]
        for o in every
        if o["kind"] == "Deployment" and o["spec"]["template"]["metadata"]["labels"].get("gas.example.org/kube-api")
    }
    assert clients == {"gas-operator", "gas-annotator", "gas-notifier", "gas-archiver-archive"} | {
        "gas-archiver-restore",
        "gas-archiver-thaw",
    }


def test_helm_test_probe_pod(every):
    """tests.probe: the round-trip probe (decision 108) as a `helm test` hook pod, least privilege."""
    probe = find(every, "Pod", "gas-test-probe")
    assert probe["metadata"]["annotations"]["helm.sh/hook"] == "test"
    spec = probe["spec"]
    assert spec["automountServiceAccountToken"] is False and "serviceAccountName" not in spec
    assert spec["hostAliases"] == [{"ip": "10.0.0.10", "hostnames": ["s3.lab.genomics.test"]}]
    (container,) = spec["containers"]
    assert container["command"][:2] == ["python", "-c"]
    assert container["command"][2] == (ROOT / "charts/gas/files/helm-test-probe.py").read_text()
    env = {e["name"]: e.get("value") or e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env["GAS_PROBE_URL"] == "http://gas-web:80" and env["GAS_PROBE_TIMEOUT_SECONDS"] == "600"
    assert env["GAS_PROBE_TOKEN"] == {"name": "gas-probe-token", "key": "token"}
    assert env["SSL_CERT_FILE"] == "/etc/gas-probe-ca/ca.crt"
    assert spec["volumes"] == [
        {"name": "ca", "secret": {"secretName": "lab-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
    ]
    assert not any("AWS" in name for name in env)  # no AWS credentials: it goes through the API


def test_workers_shutdown_grace_probes_scratch_and_extras(every):
    annotator, sidecar = pod(every, "gas-annotator")["containers"]
    assert sidecar["name"] == "statsd"
    spec = pod(every, "gas-annotator")
    # the worker's own grace (GAS_SHUTDOWN_GRACE_SECONDS) always ends before Kubernetes kills it
    assert env_of(annotator)["GAS_SHUTDOWN_GRACE_SECONDS"] == "300" and spec["terminationGracePeriodSeconds"] == 315
    notifier_spec = pod(every, "gas-notifier")
    notifier = notifier_spec["containers"][0]
    assert (
        env_of(notifier)["GAS_SHUTDOWN_GRACE_SECONDS"] == "40" and notifier_spec["terminationGracePeriodSeconds"] == 55
    )
    assert notifier["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert notifier["startupProbe"]["failureThreshold"] == 20
    assert notifier["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "2"]}}}
    assert notifier_spec["priorityClassName"] == "gas-workers"
    assert notifier_spec["topologySpreadConstraints"][0]["maxSkew"] == 2
    assert {"name": "corporate-ca", "configMap": {"name": "corporate-ca"}} in notifier_spec["volumes"]
    # scratch space is requested from the scheduler (ephemeral-storage), not only limited
    assert annotator["resources"]["requests"]["ephemeral-storage"] == "4Gi"
    assert "ephemeral-storage" not in notifier["resources"]["requests"]


def test_operator_scheduling_pdb_anti_affinity_and_service_account(every):
    spec = pod(every, "gas-operator")
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "gas", "effect": "NoSchedule"}]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["priorityClassName"] == "gas-control"
    (term,) = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    pdb = find(every, "PodDisruptionBudget", "gas-operator")["spec"]
    assert pdb["maxUnavailable"] == 1 and pdb["selector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    # serviceAccount.create=false: no ServiceAccount rendered, the named one is used and bound
    assert spec["serviceAccountName"] == "gas-operator-external"
    assert not [o for o in every if o["kind"] == "ServiceAccount" and "operator" in o["metadata"]["name"]]
    assert find(every, "RoleBinding", "gas-operator")["subjects"][0]["name"] == "gas-operator-external"


def test_operator_defaults_soft_anti_affinity_and_own_service_account(rendered):
    objs = objects(rendered["production"])
    spec = pod(objs, "gas-operator")
    (pref,) = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert pref["weight"] == 100 and pref["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}  # the global one
    assert find(objs, "ServiceAccount", "gas-operator")
    assert find(objs, "PodDisruptionBudget", "gas-operator")


def test_every_process_reads_the_same_shard_count_and_the_notifier_its_send_rate(every):
    config = find(every, "ConfigMap", "gas")
    assert config["data"]["GAS_ACTIVE_SHARDS"] == "16"
    assert config["data"]["GAS_SES_MAX_SEND_RATE"] == "14"


def test_global_priority_class_reaches_provisioning(every):
    (job,) = [o for o in every if o["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["priorityClassName"] == "gas-default"


def test_alert_thresholds_from_values(every):
    rule = next(o for o in every if o["kind"] == "PrometheusRule")
    exprs = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "> 0.02\nand on (namespace)" in exprs["GasWebErrorRatioHigh"]
    assert exprs["GasWebErrorRatioHigh"].rstrip().endswith(">= 50")
    assert 'queue="annotate"}) > 900' in exprs["GasQueueOldestMessageOld"]
    assert 'queue="notify",kind="visible"}) > 1000' in exprs["GasQueueDepthHigh"]
    assert exprs["GasSweeperNotSucceeding"].count("> 3600") == 1
    burns = [r for g in rule["spec"]["groups"] for r in g["rules"] if r["alert"].endswith("BudgetBurn")]
    web = {r["labels"]["window"]: r["expr"] for r in burns if r["alert"] == "GasWebAvailabilityBudgetBurn"}
    jobs = {r["labels"]["window"]: r["expr"] for r in burns if r["alert"] == "GasJobLatencyBudgetBurn"}
    # budget 0.1 %: 14.4x and 6x of it; jobs: 1 % slower than 600 s
    assert web["1h"].count("> 0.0144") == 2 and web["6h"].count("> 0.006") == 2
    assert 'le="600.0"' in jobs["1h"] and jobs["1h"].count("> 0.144") == 2 and jobs["6h"].count("> 0.06") == 2
    assert exprs["GasDeadLetterMessagesAging"].rstrip().endswith("> 86400")
    lag = exprs["GasQueueBacklogOld"]
    assert re.search(r'service="gas-notifier-metrics".*> 120', lag) and re.search(
        r'service="gas-annotator-metrics".*> 300', lag
    )
    assert "gas-archiver-archive-metrics" not in lag  # 0 in the defaults: no backlog alert


# --- provisioning hooks --------------------------------------------------------------------


def test_provisioning_hooks_ordered_and_pre_install_outside_dev(rendered):
    for name, events in (("production", "pre-install,pre-upgrade"), ("dev", "post-install,pre-upgrade")):
        objs = objects(rendered[name])
        job = find(objs, "Job", "gas-provision")["metadata"]["annotations"]
        sa = find(objs, "ServiceAccount", "gas-provision")["metadata"]["annotations"]
        assert job["helm.sh/hook"] == sa["helm.sh/hook"] == events, name
        # the ServiceAccount is created before the Job (lower weight) and removed after success
        assert int(sa["helm.sh/hook-weight"]) < int(job["helm.sh/hook-weight"])
        assert "hook-succeeded" in sa["helm.sh/hook-delete-policy"]
    prod_sa = find(objects(rendered["production"]), "ServiceAccount", "gas-provision")["metadata"]["annotations"]
    assert prod_sa["eks.amazonaws.com/role-arn"].endswith("gas-prod-provision")  # IRSA kept beside the hook


# --- the session key ----------------------------------------------------------------------


def test_secret_key_required_outside_dev_mode(chart_tools):
    proc = chart_tools.render(sets=["secrets.existingSecret="], check=False)
    assert proc.returncode != 0
    assert "secrets.existingSecret (or secrets.secretKey" in proc.stderr and "helm template" in proc.stderr


def test_given_secret_key_renders_stable_and_rolls_pods_when_changed(chart_tools):
    key = ["secrets.secretKey=" + "k" * 40]
    key = ["secrets.existingSecret=", *key]  # minimal.yaml's Secret off: the chart makes one
    first, second = (chart_tools.render(sets=key).stdout for _ in range(2))
    assert first == second  # helm template twice: the same Secret, the same pods

    def checksums(manifest: str) -> dict[str, str]:
        return {
            o["metadata"]["name"]: o["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
            for o in objects(manifest)
            if o["kind"] == "Deployment"
        }

    rotated = checksums(chart_tools.render(sets=["secrets.existingSecret=", "secrets.secretKey=" + "r" * 40]).stdout)
    before = checksums(first)
    assert before.keys() == rotated.keys() and all(before[n] != rotated[n] for n in before)  # every pod rolls


def test_dev_mode_generates_a_key_when_none_is_given(chart_tools):
    dev = ROOT / "k8s" / "values-dev.yaml"
    out = objects(chart_tools.render([dev], sets=["secrets.secretKey="], minimal=False).stdout)
    secret = find(out, "Secret", "gas")
    assert len(secret["data"]["GAS_SECRET_KEY"]) >= 64  # base64 of 48 random characters


# --- shutdown grace comes from one value ----------------------------------------------------


def test_shutdown_grace_env_in_extra_env_is_refused(chart_tools, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("workers: {notifier: {extraEnv: [{name: GAS_SHUTDOWN_GRACE_SECONDS, value: '600'}]}}\n")
    proc = chart_tools.render([bad], check=False)
    assert proc.returncode != 0 and "set shutdownGraceSeconds, not GAS_SHUTDOWN_GRACE_SECONDS" in proc.stderr


# --- every new value has a good case here and a bad one in values/bad/ ----------------------

NEW_VALUES = {
    "commonAnnotations": "common-annotations-not-string",
    "priorityClassName": "priority-class-bad-name",
    "web.opsPort": "web-ops-port-privileged",
    "web.forwardedAllowIps": "web-forwarded-allow-ips-garbage",
    "web.proxyHops": "web-proxy-hops-negative",
    "web.readiness": "web-readiness-negative-grace",
    "web.shutdown": "web-prestop-too-long",
    "web.startupProbe": "web-startup-probe-zero-period",
    "web.priorityClassName": "web-priority-class-bad-name",
    "web.extraVolumes": "web-extra-volume-hostpath",
    "web.extraVolumeMounts": "web-extra-mount-relative",
    "web.sidecars": "web-sidecar-no-security-context",
    "web.topologySpreadConstraints": "web-topology-spread-no-key",
    "httpRoute.parentRefs": "httproute-without-parent",
    "httpRoute.hostnames": "httproute-bad-hostname",
    "workerDefaults.shutdownGraceSeconds": "worker-shutdown-grace-zero",
    "workerDefaults.startupProbe": "worker-startup-probe-typo",
    "workerDefaults.lifecycle": "worker-lifecycle-unknown",
    "workerDefaults.podDeletionCost": "worker-pod-deletion-cost-string",
    "workerDefaults.extraVolumes": "worker-extra-volume-hostpath",
    "workerDefaults.topologySpreadConstraints": "worker-topology-bad-when",
    "workerDefaults.priorityClassName": "worker-priority-class-bad",
    "workers.annotator.sidecars": "worker-sidecar-privileged",
    "operator.serviceAccount.name": "operator-sa-bad-name",
    "operator.pdb": "operator-pdb-zero",
    "operator.antiAffinity": "operator-anti-affinity-unknown",
    "operator.priorityClassName": "operator-priority-class-bad",
    "operator.topologySpreadConstraints": "operator-topology-no-skew",
    "networkPolicy.webExtraFrom": "networkpolicy-ipblock-not-cidr",
    "networkPolicy.extraIngress": "networkpolicy-extra-ingress-typo",
    "networkPolicy.egress.apiServer": "networkpolicy-apiserver-port",
    "networkPolicy.egress.extraEgress": "networkpolicy-extra-egress-not-list",
    "metrics.prometheusRule.webErrorRatio": "alert-web-error-ratio",
    "metrics.prometheusRule.deadLetterMaxAgeSeconds": "alert-dead-letter-age-beyond-retention",
    "metrics.prometheusRule.queueLagSeconds": "alert-queue-lag-zero",
    "metrics.prometheusRule.queueLagSecondsByWorker": "alert-queue-lag-by-worker-negative",
    "scale.activeShards": "scale-active-shards-zero",
    "scale.sesMaxSendRate": "scale-ses-rate-negative",
    "workers.archiver-thaw.autoscaler": "worker-autoscaler-unknown",
    "tests.probe.tokenSecret": "tests-probe-without-token",
}


@pytest.mark.parametrize("path", sorted(NEW_VALUES))
def test_new_value_has_a_good_and_a_bad_case(chart_tools, path):
    good = yaml.safe_load(EVERY.read_text())
    for part in path.split("."):
        assert isinstance(good, dict) and part in good, f"every-option.yaml does not set {path}"
        good = good[part]
    bad = VALUES / "bad" / f"{NEW_VALUES[path]}.yaml"
    proc = chart_tools.render([bad], check=False)
    assert proc.returncode != 0, f"{bad.name} was accepted"
    pointer = "/" + path.replace(".", "/")
    assert pointer in proc.stderr, f"{bad.name} was refused for another reason:\n{proc.stderr}"
