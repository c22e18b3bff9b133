"""The chart's alert rules, unit-tested with Prometheus' own rule engine.

The PrometheusRule is rendered with values/alerts.yaml; its `spec` (a Prometheus rule file)
is written beside copies of rules/*.test.yaml (`promtool test rules` format) and
gas-promtool-test (tools/promrules: promtool's own test runner on Prometheus' rules and
promqltest packages) runs them. Every alert has a case where it must fire and one where it
must stay silent; the docs list every alert; and the runner is shown to fail on a wrong rule.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from chartlib import ROOT, VALUES, objects

RULE_TESTS = sorted((Path(__file__).resolve().parent / "rules").glob("*.test.yaml"))
ALERT_VALUES = VALUES / "alerts.yaml"


@pytest.fixture(scope="session")
def promtool() -> Path:
    """gas-promtool-test, built by tools/install-promrules.sh (cached in ~/.cache/gas/tools/bin)."""
    proc = subprocess.run([str(ROOT / "tools" / "install-promrules.sh")], capture_output=True, text=True)
    if proc.returncode != 0:  # `make test` builds it first: a failed build is a failure, not a skip
        pytest.fail(f"tools/install-promrules.sh failed:\n{proc.stderr[-2000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def rule_spec(chart_tools, sets: list[str] = (), files: list[Path] = ()) -> dict:
    out = chart_tools.render([ALERT_VALUES, *files], sets=list(sets)).stdout
    (rule,) = [o for o in objects(out) if o["kind"] == "PrometheusRule"]
    return rule["spec"]


def run_rule_tests(promtool: Path, spec: dict, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "gas-rules.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    for t in RULE_TESTS:
        shutil.copy(t, workdir / t.name)
    return subprocess.run(
        [str(promtool), *args, *(t.name for t in RULE_TESTS)], cwd=workdir, capture_output=True, text=True
    )


def alert_names(spec: dict) -> set[str]:
    return {r["alert"] for g in spec["groups"] for r in g["rules"] if "alert" in r}


def test_every_alert_passes_its_rule_tests(chart_tools, promtool, tmp_path):
    proc = run_rule_tests(promtool, rule_spec(chart_tools), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_has_a_firing_and_a_silent_case(chart_tools):
    fires: set[str] = set()
    silent: set[str] = set()
    for t in RULE_TESTS:
        for group in yaml.safe_load(t.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = alert_names(rule_spec(chart_tools))
    assert len(alerts) == 18
    assert alerts - fires == set(), "alerts without a case where they must fire"
    assert alerts - silent == set(), "alerts without a case where they must stay silent"
    assert (fires | silent) - alerts == set(), "tests of alerts that no longer exist"


def test_rule_tests_fail_on_a_wrong_rule(chart_tools, promtool, tmp_path):
    """The runner can fail: the old GasWorkerDown (absent() over every -metrics Service)
    stays silent for one crashed worker and fires with no labels when none is scraped."""
    spec = rule_spec(chart_tools)
    for group in spec["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "GasWorkerDown":
                rule["expr"] = 'absent(up{namespace="gas",service=~"gas-.*-metrics"} == 1)'
    proc = run_rule_tests(promtool, spec, tmp_path, "--run", "worker|kube-state-metrics")
    assert proc.returncode == 1
    assert "a crash-looping worker that must run" in proc.stderr  # silent while another worker is up
    assert "never got scheduled" in proc.stderr
    # nothing scraped: it fires, but with no label saying which worker
    assert 'Labels:{alertname="GasWorkerDown", severity="critical"}' in proc.stderr, proc.stderr


def test_thresholds_come_from_values(chart_tools, promtool, tmp_path):
    """webErrorRatio 0.2: the 10 % case must no longer fire, so its rule test fails."""
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text("metrics: {prometheusRule: {webErrorRatio: 0.2}}\n")
    spec = rule_spec(chart_tools, files=[stricter])
    proc = run_rule_tests(promtool, spec, tmp_path / "run", "--run", "5xx above webErrorRatio")
    assert proc.returncode == 1 and "GasWebErrorRatioHigh" in proc.stderr, proc.stdout + proc.stderr


def test_web_error_alert_has_a_traffic_floor(chart_tools, promtool, tmp_path):
    """Without the floor (webErrorMinRequests: 0) 1 error in 10 requests fires again."""
    spec = rule_spec(chart_tools, ["metrics.prometheusRule.webErrorMinRequests=0"])
    proc = run_rule_tests(promtool, spec, tmp_path, "--run", "below the traffic floor")
    assert proc.returncode == 1 and "GasWebErrorRatioHigh" in proc.stderr, proc.stdout + proc.stderr


def test_burn_rate_alerts_need_both_windows(chart_tools, promtool, tmp_path):
    """With the short window dropped, a 5xx spike that ended 30 minutes ago still pages."""
    spec = rule_spec(chart_tools)
    for group in spec["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "GasWebAvailabilityBudgetBurn":
                rule["expr"] = rule["expr"].split("\nand\n")[0]
    proc = run_rule_tests(promtool, spec, tmp_path, "--run", "spike of 5xx that ended")
    assert proc.returncode == 1 and "GasWebAvailabilityBudgetBurn" in proc.stderr, proc.stdout + proc.stderr


def test_queue_alerts_follow_the_per_worker_thresholds(chart_tools):
    spec = rule_spec(chart_tools, ["metrics.prometheusRule.queueOldestMessageSecondsByWorker.annotator=0"])
    (age,) = [r for g in spec["groups"] for r in g["rules"] if r.get("alert") == "GasQueueOldestMessageOld"]
    assert 'queue="annotate"' not in age["expr"] and 'queue="notify"' in age["expr"]
    (depth,) = [r for g in spec["groups"] for r in g["rules"] if r.get("alert") == "GasQueueDepthHigh"]
    assert 'queue="archive"' in depth["expr"]  # every worker's queue, whatever scales it


def test_alerts_without_the_operator_are_refused_and_it_exports_for_keda_workers(chart_tools):
    """The operator exports every queue's figures: alerts without it would be silent on stuck
    work (decision 132), so the chart refuses them; with every worker on KEDA or none it
    scales nothing but still exports, and the stuck-work alerts cover every queue."""
    refused = chart_tools.render([ALERT_VALUES], sets=["operator.enabled=false"], check=False)
    assert refused.returncode != 0 and "metrics.prometheusRule.enabled needs operator.enabled" in refused.stderr
    keda = [f"workers.{w}.autoscaler=keda" for w in ("annotator", "notifier")]
    keda += [f"workers.archiver-{w}.autoscaler=none" for w in ("archive", "restore", "thaw")]
    out = chart_tools.render([ALERT_VALUES], sets=keda).stdout
    objs = objects(out)
    assert not [o for o in objs if o["kind"] == "QueueScaler"]
    (op,) = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "gas-operator"]
    env = {e["name"]: e.get("value") for e in op["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert set(json.loads(env["GAS_WATCH_QUEUES"])) >= {"annotate", "annotate-dlq", "thaw", "thaw-dlq"}
    (rule,) = [o for o in objs if o["kind"] == "PrometheusRule"]
    (depth,) = [r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == "GasQueueDepthHigh"]
    assert 'queue="annotate"' in depth["expr"] and 'queue="restore"' in depth["expr"]


def test_docs_list_every_alert(chart_tools):
    """docs/kubernetes.md and docs/runbook.md name every alert, and no alert that is gone."""
    alerts = alert_names(rule_spec(chart_tools))
    for doc in ("kubernetes.md", "runbook.md"):
        text = (ROOT / "docs" / doc).read_text()
        named = set(re.findall(r"`(Gas[A-Z][A-Za-z]+)`", text))
        assert alerts - named == set(), f"docs/{doc} does not list these alerts"
        assert named - alerts == set(), f"docs/{doc} lists alerts the chart does not have"
    # every runbook_url lands on a section of the runbook (GitHub's heading anchors)
    headings = re.findall(r"^#+ (.+)$", (ROOT / "docs" / "runbook.md").read_text(), re.M)
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    spec = rule_spec(chart_tools)
    urls = {r["alert"]: r["annotations"]["runbook_url"] for g in spec["groups"] for r in g["rules"]}
    assert {a: u for a, u in urls.items() if u.split("#")[1] not in anchors} == {}


def test_dashboard_shows_dead_letters_and_the_operator(chart_tools):
    out = chart_tools.render([VALUES / "production.yaml"]).stdout
    (dash,) = [o for o in objects(out) if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "gas-dashboard"]
    board = yaml.safe_load(dash["data"]["gas.json"])
    panels = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in board["panels"]}
    assert "gas_worker_dlq_messages" in panels["Dead-letter queue depth"]
    assert 'gas_queue_messages{namespace="$namespace",queue=~".+-dlq"' in panels["Dead-letter queue depth"]
    assert "gas_operator_queue_messages" in panels["Queue depth by scaler (operator)"]
    assert "gas_queue_oldest_message_age_seconds" in panels["Oldest message by queue (operator, CloudWatch)"]
    assert "gas_queue_messages" in panels["Visible messages by queue (operator)"]
    replicas = panels["Desired vs actual replicas (operator)"]
    assert "gas_operator_desired_replicas" in replicas and "gas_operator_actual_replicas" in replicas


def defined_metrics() -> set[str]:
    """Every metric name the code exports (prometheus_client Counter/Gauge/Histogram)."""
    names: set[str] = set()
    for src in [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        for kind, name in re.findall(r"\b(Counter|Gauge|Histogram)\(\s*\"(gas_[a-z_]+)\"", src.read_text()):
            if kind == "Counter" and not name.endswith("_total"):
                name += "_total"
            names.add(name)
    return names


def test_alerts_and_dashboard_use_metrics_the_code_exports(chart_tools):
    out = chart_tools.render([VALUES / "production.yaml"]).stdout
    used = set(re.findall(r"\b(gas_[a-z_]+)", out)) - {"gas_dashboard"}
    used = {re.sub(r"_(bucket|count|sum)$", "", n) for n in used}
    assert used - defined_metrics() == set()
