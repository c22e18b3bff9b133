"""The operator against a real Kubernetes API server (etcd, kube-apiserver with RBAC,
controller-manager, scheduler, kwok) and moto server: it runs as a process with a
ServiceAccount token that has exactly the chart's RBAC, so it may scale only the
chart's worker Deployments (gas-annotator, gas-notifier, gas-archiver-*)."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from operator_support import (
    NS,
    POLL,
    apply,
    conditions,
    deployment,
    events,
    merge_patch,
    replicas,
    scaler,
    scaler_path,
    send,
    status,
    wait_for,
)
from support import TcpProxy


def test_scales_to_queue_depth_then_to_zero_at_the_cooldown(cluster, operators, provisioned, moto_url):
    name, queue = "gas-annotator", provisioned.names.queue("annotate")
    deployment(cluster, name)
    # A window ten times the cooldown: zero must still come at the cooldown (issue 16 item 4).
    scaler(cluster, name, name, queue, moto_url, cooldownSeconds=6, scaleDownStabilizationSeconds=60)
    operators.start()
    wait_for(lambda: replicas(cluster, name) == 0, 6 + 3 * POLL + 10, "idle at start: zero after the cooldown")
    url = send(provisioned, queue, 23)
    t = time.monotonic()
    wait_for(lambda: replicas(cluster, name) == 5, 2 * POLL + 5, "ceil(23/5) = 5 replicas")
    reaction = time.monotonic() - t
    # currentReplicas is observed: the pods the Deployment has (kwok runs them), not the wish.
    st = wait_for(lambda: (s := status(cluster, name)).get("currentReplicas") == 5 and s, 20, "5 pods observed")
    assert st["desiredReplicas"] == 5 and st["visibleMessages"] == 23 and st["observedGeneration"] == 1
    cond = {c["type"]: c for c in st["conditions"]}
    assert {k: cond[k]["status"] for k in cond} == {
        "Ready": "True",
        "Active": "True",
        "Fallback": "False",
        "Paused": "False",
        "QueueReadable": "True",
    }
    assert all(c["lastTransitionTime"].endswith("Z") and c["observedGeneration"] == 1 for c in cond.values())
    assert any(e["reason"] == "Scaled" and "to 5" in e["message"] for e in events(cluster, name))

    provisioned.client("sqs").purge_queue(QueueUrl=url)
    drained = time.monotonic()
    wait_for(lambda: replicas(cluster, name) == 0, 6 + 3 * POLL + 5, "zero at the cooldown")
    to_zero = time.monotonic() - drained
    assert to_zero >= 6 - POLL, f"zero after {to_zero:.1f}s: before the cooldown"
    cond = wait_for(lambda: (c := conditions(cluster, name))["Active"]["status"] == "False" and c, 10, "Active=False")
    assert cond["Ready"]["status"] == "True"
    print(f"reaction {reaction:.2f}s; last message gone -> 0 replicas {to_zero:.1f}s (cooldown 6 s, window 60 s)")


def test_pause_paused_at_n_fallback_and_missing_target(cluster, operators, provisioned, moto_url):
    notify = provisioned.names.queue("notify")
    deployment(cluster, "gas-annotator")
    # A 30 s poll: a pause change must apply at once, not at the next poll.
    scaler(
        cluster,
        "paused",
        "gas-annotator",
        notify,
        moto_url,
        pollingIntervalSeconds=30,
        annotations={"gas.dev/paused": "true"},
    )
    send(provisioned, notify, 40)
    deployment(cluster, "gas-notifier")
    fallback = {"failureThreshold": 2, "replicas": 3}
    scaler(cluster, "noqueue", "gas-notifier", "does-not-exist", moto_url, fallback=fallback)
    scaler(cluster, "notarget", "gas-archiver-thaw", notify, moto_url)
    operators.start()

    wait_for(lambda: replicas(cluster, "gas-notifier") == 3, 4 * POLL + 20, "fallback replicas after queue errors")
    cond = wait_for(
        lambda: (c := conditions(cluster, "noqueue")).get("Fallback", {}).get("status") == "True" and c, 10, "Fallback"
    )
    assert cond["QueueReadable"]["status"] == "False" and cond["QueueReadable"]["reason"] == "QueueMissing"
    assert cond["Ready"]["reason"] == "QueueUnavailable" and cond["Active"]["status"] == "Unknown"
    assert "visibleMessages" not in status(cluster, "noqueue")  # nothing stale while the queue is unreadable

    ready = wait_for(lambda: conditions(cluster, "notarget").get("Ready"), 20, "Ready of notarget")
    assert (ready["status"], ready["reason"]) == ("False", "TargetMissing")

    cond = wait_for(lambda: (c := conditions(cluster, "paused")).get("Paused") and c, 20, "Paused condition")
    assert cond["Paused"]["status"] == "True" and cond["Ready"]["status"] == "True"  # Paused beside Ready
    time.sleep(POLL)
    assert replicas(cluster, "gas-annotator") == 1, "a paused scaler changed its target"

    merge_patch(cluster, scaler_path("paused"), {"metadata": {"annotations": {"gas.dev/paused-replicas": "3"}}})
    t = time.monotonic()
    wait_for(lambda: replicas(cluster, "gas-annotator") == 3, 10, "paused at 3 (KEDA paused-replicas)")
    assert time.monotonic() - t < 10, "waited for the 30 s poll"
    merge_patch(
        cluster,
        scaler_path("paused"),
        {"metadata": {"annotations": {"gas.dev/paused-replicas": None, "gas.dev/paused": None}}},
    )
    wait_for(lambda: replicas(cluster, "gas-annotator") == 8, 10, "unpaused at once: ceil(40/5) = 8")
    cond = wait_for(lambda: (c := conditions(cluster, "paused"))["Paused"]["status"] == "False" and c, 10, "unpaused")
    assert cond["Active"]["status"] == "True"


def test_kubernetes_errors_become_conditions_and_every_call_times_out(
    cluster, operators, operator_env, provisioned, moto_url, tmp_path
):
    notify = provisioned.names.queue("notify")
    # gas-web is not a worker of the release: the chart's Role does not let the operator scale it.
    deployment(cluster, "gas-web")
    scaler(cluster, "web", "gas-web", notify, moto_url)
    deployment(cluster, "gas-notifier")
    scaler(cluster, "notifier", "gas-notifier", notify, moto_url)
    server = urlsplit(cluster.server)
    proxy = TcpProxy(server.hostname, server.port)
    kubeconfig = tmp_path / "proxied.kubeconfig"
    kubeconfig.write_text(
        open(operator_env["KUBECONFIG"]).read().replace(cluster.server, f"https://127.0.0.1:{proxy.port}")
    )
    try:
        op = operators.start(KUBECONFIG=str(kubeconfig))
        ready = wait_for(lambda: conditions(cluster, "web").get("Ready"), 20, "Ready of the forbidden scaler")
        assert (ready["status"], ready["reason"]) == ("False", "KubernetesError") and "403" in ready["message"]
        assert op.value("gas_operator_errors_total", scaler=f"{NS}/web", kind="kubernetes") >= 1
        send(provisioned, notify, 7)
        wait_for(lambda: replicas(cluster, "gas-notifier") == 2, 2 * POLL + 10, "the other scaler unaffected")

        proxy.hang()  # the API server stops answering, connections stay open
        hung = time.monotonic()
        errors_before = op.value("gas_operator_lease_errors_total")
        wait_for(lambda: not op.leader(), 4 + 3 + 5, "the leader to stand down when it cannot renew")
        assert time.monotonic() - hung < 4 + 3 + 5
        wait_for(lambda: op.value("gas_operator_lease_errors_total") >= errors_before + 2, 15, "timed-out renewals")
        # Every call timed out: the loops and the elector keep moving, so the process is healthy.
        assert op.healthz() == 200
        send(provisioned, notify, 8)  # 15 messages: 3 replicas once the API answers again
        proxy.resume()
        wait_for(op.leader, 15, "leadership back")
        wait_for(lambda: replicas(cluster, "gas-notifier") == 3, 2 * POLL + 10, "scaling resumed")
    finally:
        operators.stop()
        proxy.close()


def test_restart_does_not_flap_and_steady_state_makes_no_writes(cluster, operators, provisioned, moto_url):
    name, queue = "gas-archiver-archive", provisioned.names.queue("archive")
    deployment(cluster, name)
    scaler(cluster, name, name, queue, moto_url, scaleDownStabilizationSeconds=60, cooldownSeconds=60)
    send(provisioned, queue, 12)
    op = operators.start()
    wait_for(lambda: replicas(cluster, name) == 3, 2 * POLL + 20, "3 replicas")
    operators.stop(op)
    provisioned.client("sqs").purge_queue(QueueUrl=provisioned.queue_url(queue))
    op = operators.start()
    time.sleep(4 * POLL)
    assert replicas(cluster, name) == 3, "restart scaled down inside the stabilisation window"
    before = op.scaler_writes()
    time.sleep(3 * POLL)
    assert op.scaler_writes() == before, "writes while nothing changed"


CPU_80 = {"type": "Utilization", "averageUtilization": 80}


def test_fights_are_refused_the_later_scaler_or_any_hpa_stands_down(cluster, operators, provisioned, moto_url):
    queue = provisioned.names.queue("annotate")
    deployment(cluster, "gas-annotator")
    scaler(cluster, "first", "gas-annotator", queue, moto_url)
    time.sleep(1.1)  # creationTimestamp has one-second resolution
    scaler(cluster, "second", "gas-annotator", queue, moto_url)
    deployment(cluster, "gas-notifier")
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "notifier-cpu", "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gas-notifier"},
            "minReplicas": 1,
            "maxReplicas": 2,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": CPU_80}}],
        },
    }
    apply(cluster, hpa)
    scaler(cluster, "notifier", "gas-notifier", queue, moto_url)
    send(provisioned, queue, 12)
    op = operators.start()

    wait_for(lambda: replicas(cluster, "gas-annotator") == 3, 2 * POLL + 20, "the first scaler scales")
    second = wait_for(lambda: conditions(cluster, "second").get("Ready"), 20, "Ready of the second")
    assert (second["status"], second["reason"]) == ("False", "Conflict") and "QueueScaler first" in second["message"]
    ready = wait_for(lambda: conditions(cluster, "notifier").get("Ready"), 20, "Ready of the HPA's rival")
    assert (ready["status"], ready["reason"]) == ("False", "Conflict") and "HorizontalPodAutoscaler" in ready["message"]
    time.sleep(2 * POLL)
    for loser in ("second", "notifier"):
        warnings = [e for e in events(cluster, loser) if e["reason"] == "Conflict"]
        assert len(warnings) == 1 and warnings[0]["type"] == "Warning", warnings  # one Event, not one per poll
        assert op.value("gas_operator_scale_events_total", scaler=f"{NS}/{loser}") == 0
    assert op.value("gas_operator_errors_total", scaler=f"{NS}/second", kind="conflict") >= 1

    # The first goes: the second takes over its Deployment, and the first's series go too.
    assert cluster.api(scaler_path("first"), "DELETE").status_code == 200
    wait_for(lambda: conditions(cluster, "second")["Ready"]["status"] == "True", 2 * POLL + 10, "second takes over")
    send(provisioned, queue, 10)
    wait_for(lambda: replicas(cluster, "gas-annotator") == 5, 2 * POLL + 10, "the second scales")
    assert f'scaler="{NS}/first"' not in op.metrics()
    cluster.api(f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/notifier-cpu", "DELETE")
    wait_for(lambda: conditions(cluster, "notifier")["Ready"]["status"] == "True", 2 * POLL + 10, "no HPA, no conflict")


def test_operator_logs_are_json_lines(cluster, operators, provisioned, moto_url):
    deployment(cluster, "gas-notifier")
    scaler(cluster, "notifier", "gas-notifier", provisioned.names.queue("notify"), moto_url)
    op = operators.start()
    wait_for(lambda: conditions(cluster, "notifier").get("Ready"), 20, "a first pass")
    operators.stop()
    for line in op.log.read_text().splitlines():  # kopf's own lines too
        assert line.startswith("{") and json.loads(line)["event"], line[:200]
