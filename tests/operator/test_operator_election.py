"""Two operator replicas on the control plane: one leader through the chart's Lease, a
takeover when the leader freezes or stops, and a frozen leader that wakes up again writes
nothing (issue 16 item 7: kopf's peering froze every replica on a priority tie)."""

from __future__ import annotations

import signal
import time

from operator_support import NS, POLL, deployment, replicas, scaler, send, wait_for

LEASE = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/gas-operator"


def _holder(cluster) -> str:
    return str(cluster.api(LEASE).json()["spec"].get("holderIdentity") or "")


def test_one_leader_takes_over_from_a_frozen_or_stopped_one(cluster, operators, provisioned, moto_url):
    queue = provisioned.names.queue("notify")
    deployment(cluster, "gas-notifier")
    scaler(cluster, "notifier", "gas-notifier", queue, moto_url)
    a, b = operators.start("op-a"), operators.start("op-b")
    wait_for(lambda: a.leader() != b.leader(), 15, "exactly one leader")
    leader, standby = (a, b) if a.leader() else (b, a)
    assert _holder(cluster).startswith(f"{leader.name}_")
    send(provisioned, queue, 7)
    wait_for(lambda: replicas(cluster, "gas-notifier") == 2, 2 * POLL + 10, "2 replicas")
    assert leader.value("gas_operator_scale_events_total") >= 1
    assert standby.value("gas_operator_scale_events_total") == 0 and standby.scaler_writes() == 0

    # The leader freezes (SIGSTOP: no renewals, no exit): the standby takes over once the
    # Lease has gone unrenewed for its duration (4 s here).
    leader.proc.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    wait_for(standby.leader, 4 + 1 + 6, "the standby to take over")
    takeover = time.monotonic() - frozen
    assert _holder(cluster).startswith(f"{standby.name}_")
    send(provisioned, queue, 8)
    wait_for(lambda: replicas(cluster, "gas-notifier") == 3, 2 * POLL + 10, "the new leader scales")

    # The old leader wakes: it knows its lease ran out before it writes anything.
    leader.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: not leader.leader(), 5, "the woken leader to report standby")
    writes = leader.scaler_writes()
    provisioned.client("sqs").purge_queue(QueueUrl=provisioned.queue_url(queue))
    time.sleep(3 * POLL)
    assert leader.scaler_writes() == writes, "a frozen-then-woken leader wrote"
    assert leader.value("gas_operator_leader") == 0 and standby.value("gas_operator_leader") == 1

    # A clean stop hands the Lease back: the other takes over at its next attempt, well
    # before the Lease would have expired.
    stopping = time.monotonic()
    operators.stop(standby)
    wait_for(leader.leader, 4, "takeover after a clean stop")
    handover = time.monotonic() - stopping  # includes the old leader's own shutdown
    print(f"takeover from a frozen leader {takeover:.1f}s (lease 4 s); after a clean stop {handover:.1f}s")
