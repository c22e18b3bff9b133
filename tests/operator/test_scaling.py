"""The replica calculation, table-driven, with KEDA's documented aws-sqs-queue cases and
the HPA's behaviour (stabilisation windows, scale-up rate policies) in between."""

from __future__ import annotations

import dataclasses

import pytest

from gas.operator.scaling import Memory, QueueDepth, RatePolicy, ScalerSpec, decide

KEDA = ScalerSpec()  # KEDA's defaults: queueLength 5, activation 0, in-flight on, delayed off
IDLE_0_MIN_2 = ScalerSpec(min_replicas=2, idle_replicas=0)


@pytest.mark.parametrize(
    ("case", "spec", "depth", "current", "expected"),
    [
        # KEDA docs: "if one pod can handle 10 messages ... 30 messages, the scaler scales to 3 pods"
        ("keda: 30 messages / 10 per pod", ScalerSpec(messages_per_replica=10), QueueDepth(30), 1, 3),
        ("keda default queueLength 5", KEDA, QueueDepth(11), 1, 3),
        ("keda: in-flight counts by default", KEDA, QueueDepth(5, in_flight=5), 2, 2),
        ("keda: scaleOnInFlight=false", ScalerSpec(count_in_flight=False), QueueDepth(5, in_flight=5), 1, 1),
        ("keda: delayed ignored by default", KEDA, QueueDepth(0, delayed=50), 0, 0),
        ("keda: scaleOnDelayed=true", ScalerSpec(count_delayed=True), QueueDepth(0, delayed=50), 0, 10),
        ("keda: activation threshold not crossed", ScalerSpec(activation_messages=10), QueueDepth(10), 0, 0),
        ("keda: activation threshold crossed", ScalerSpec(activation_messages=10), QueueDepth(11), 0, 3),
        ("keda: active means at least one replica", KEDA, QueueDepth(1), 0, 1),
        ("max clamps", ScalerSpec(max_replicas=4), QueueDepth(1000), 1, 4),
        ("min clamps", ScalerSpec(min_replicas=2), QueueDepth(1), 0, 2),
        ("a lowered max applies at once", ScalerSpec(max_replicas=3), QueueDepth(100), 8, 3),
        ("idle with min 0 and no history goes to zero", KEDA, QueueDepth(0), 0, 0),
        # In flight means a worker holds it (deferred messages wait as delayed): it is work.
        ("in-flight messages are work, whatever the replica count", KEDA, QueueDepth(0, in_flight=500), 1, 100),
        ("deferred (delayed) messages do not wake the workers", KEDA, QueueDepth(0, delayed=500), 0, 0),
        ("keda: idleReplicaCount when idle", IDLE_0_MIN_2, QueueDepth(0), 3, 0),
        ("keda: idleReplicaCount, active: minReplicas", IDLE_0_MIN_2, QueueDepth(1), 0, 2),
    ],
)
def test_replicas(case, spec, depth, current, expected):
    assert decide(spec, depth, current, Memory(), now=1000.0).replicas == expected, case


def _run(spec, memory, current, polls):
    """Feed (time, depth) polls, applying each decision as the reconcile loop does."""
    out = []
    for t, depth in polls:
        current = decide(spec, depth, current, memory, float(t)).replicas
        out.append(current)
    return out


def test_scale_up_is_immediate_and_scale_down_waits_for_the_stabilisation_window():
    spec, memory = ScalerSpec(min_replicas=1, scale_down_stabilization_seconds=60), Memory()
    polls = [(0, QueueDepth(50)), (30, QueueDepth(5)), (59, QueueDepth(5)), (61, QueueDepth(5))]
    assert _run(spec, memory, 0, polls) == [10, 10, 10, 1]


def test_deferred_messages_hold_no_replicas_a_spike_to_10_with_30_deferred_goes_to_zero():
    """Issue 16 item 1: the archiver defers retention messages. They wait in SQS as
    delayed (the worker loop re-sends them with DelaySeconds), so once the spike is
    worked off nothing holds the 10 replicas: 0 at the cooldown."""
    memory, spike = Memory(), QueueDepth(50, delayed=30)
    deferred_only = QueueDepth(0, delayed=30)
    replicas = _run(KEDA, memory, 0, [(0, spike)] + [(t, deferred_only) for t in range(30, 301, 30)])
    assert replicas[0] == 10 and replicas[-1] == 0


def test_scale_to_zero_at_the_cooldown_with_the_default_window():
    """Issue 16 item 4: KEDA goes to zero at cooldownPeriod after the last activity; the
    HPA's 300 s scale-down window does not add to it (it was ~585 s)."""
    assert (KEDA.cooldown_seconds, KEDA.scale_down_stabilization_seconds) == (300, 300)
    memory = Memory()
    polls = [(0, QueueDepth(50))] + [(t, QueueDepth(0)) for t in range(30, 331, 30)]
    replicas = _run(KEDA, memory, 0, polls)
    times = [t for t, _ in polls]
    assert replicas[times.index(270)] == 10  # the window holds the count during cooldown
    assert replicas[times.index(300)] == 0  # and zero comes at the cooldown, not cooldown + window


def test_with_min_replicas_the_window_governs_the_way_down():
    spec, memory = ScalerSpec(min_replicas=1), Memory()
    replicas = _run(spec, memory, 0, [(0, QueueDepth(50))] + [(t, QueueDepth(0)) for t in range(30, 331, 30)])
    assert replicas[-3:] == [10, 1, 1]  # t=270: held; t=300: window passed; never 0


def test_idle_replicas_apply_at_the_cooldown_and_activity_brings_min_replicas():
    spec, memory = ScalerSpec(min_replicas=3, idle_replicas=1, cooldown_seconds=60), Memory()
    polls = [(0, QueueDepth(40)), (30, QueueDepth(0)), (60, QueueDepth(0)), (90, QueueDepth(2))]
    assert _run(spec, memory, 3, polls) == [8, 8, 1, 3]


def test_scale_down_never_below_the_work_in_hand():
    spec = ScalerSpec(scale_down_stabilization_seconds=0, cooldown_seconds=0, messages_per_replica=10)
    # 4 replicas each hold a message; 0 visible: the raw target is 1, but 4 are busy.
    decision = decide(spec, QueueDepth(0, in_flight=4), 4, Memory(), now=0)
    assert decision.replicas == 4 and "held at 4 by 4 in-flight" in decision.reason
    spec = ScalerSpec(scale_down_stabilization_seconds=0, activation_messages=5, min_replicas=0)
    decision = decide(spec, QueueDepth(0, in_flight=3), 6, Memory(), now=0)
    assert decision.replicas == 3 and "3 in-flight" in decision.reason  # inactive, yet 3 are held


# -- fallback (issue 16 item 2): the same clamps as any other recommendation ---------------


def _resumed(current, now=0.0):
    """The memory the reconcile loop seeds after a restart: the running count was just recommended."""
    return Memory(recommendations=[(now, current)], last_active=now)


def test_fallback_after_consecutive_queue_errors_respects_the_stabilisation_window():
    """A restart at 10 replicas plus AccessDenied: not 1 within 45 s, but after the window."""
    spec = ScalerSpec(fallback_failure_threshold=3, fallback_replicas=1)
    memory = _resumed(10)
    replicas = _run(spec, memory, 10, [(t, None) for t in (15, 30, 45, 150, 299)])
    assert replicas == [10] * 5
    decision = decide(spec, None, 10, memory, now=300.0)
    assert (decision.replicas, decision.fallback, decision.active) == (1, True, None)


def test_fallback_is_clamped_to_min_and_max_and_keeps_the_in_flight_floor():
    up = ScalerSpec(fallback_failure_threshold=1, fallback_replicas=50, max_replicas=20)
    assert decide(up, None, 2, Memory(), now=0).replicas == 20
    low = ScalerSpec(fallback_failure_threshold=1, fallback_replicas=0, min_replicas=2)
    assert decide(low, None, 5, Memory(), now=0).replicas == 2
    held = ScalerSpec(fallback_failure_threshold=1, fallback_replicas=1, scale_down_stabilization_seconds=0)
    memory = Memory()
    decide(held, QueueDepth(0, in_flight=4), 4, memory, now=0)  # last seen: 4 messages held by workers
    assert decide(held, None, 4, memory, now=10).replicas == 4


@pytest.mark.parametrize(
    ("behavior", "current", "expected"),
    [
        ("static", 6, 2),
        ("currentReplicas", 6, 6),
        ("currentReplicasIfHigher", 6, 6),
        ("currentReplicasIfHigher", 1, 2),
        ("currentReplicasIfLower", 6, 2),
        ("currentReplicasIfLower", 1, 1),
    ],
)
def test_keda_fallback_behaviours(behavior, current, expected):
    spec = ScalerSpec(fallback_failure_threshold=1, fallback_replicas=2, fallback_behavior=behavior)
    spec = dataclasses.replace(spec, scale_down_stabilization_seconds=0)
    assert decide(spec, None, current, Memory(), now=0).replicas == expected


def test_fallback_then_recovery():
    spec, memory = ScalerSpec(fallback_failure_threshold=3, fallback_replicas=2), Memory()
    assert [decide(spec, None, 0, memory, now=t).replicas for t in range(3)] == [0, 0, 2]
    decision = decide(spec, QueueDepth(10), 2, memory, now=4)
    assert decision.replicas == 2 and memory.failures == 0 and not decision.fallback and decision.active


def test_a_lasting_queue_outage_gives_one_stable_reason():
    """The reason becomes the Ready condition's message: if it counted failures, every poll
    of a broken queue would rewrite status (steady state must cost no writes)."""
    spec, memory = ScalerSpec.from_resource({"fallback": {"failureThreshold": 2, "replicas": 3}}), Memory()
    decisions = [decide(spec, None, 1, memory, float(t)) for t in range(10)]
    assert decisions[0].replicas == 1 and {d.replicas for d in decisions[1:]} == {3}
    assert len({d.reason for d in decisions[2:]}) == 1 and memory.failures == 10


# -- scale-up behaviour (issue 16 item 10) ---------------------------------------------------


def test_scale_up_rate_policy_pods_per_period():
    spec = ScalerSpec(min_replicas=1, scale_up_policies=(RatePolicy("Pods", 4, 60),))
    polls = [(0, QueueDepth(100)), (15, QueueDepth(100)), (61, QueueDepth(100)), (125, QueueDepth(100))]
    assert _run(spec, Memory(), 1, polls) == [5, 5, 9, 13]


def test_scale_up_rate_policies_select_max_or_min():
    policies = (RatePolicy("Pods", 1, 60), RatePolicy("Percent", 100, 60))
    most = ScalerSpec(min_replicas=1, scale_up_policies=policies)
    assert _run(most, Memory(), 4, [(0, QueueDepth(500))]) == [8]  # 100 % of 4 beats 1 pod
    strictest = ScalerSpec(min_replicas=1, scale_up_policies=policies, scale_up_select_policy="Min")
    assert _run(strictest, Memory(), 4, [(0, QueueDepth(500)), (30, QueueDepth(500))]) == [5, 5]


def test_activation_from_zero_is_never_rate_limited_below_min_replicas():
    spec = ScalerSpec(min_replicas=0, scale_up_policies=(RatePolicy("Percent", 100, 60),))
    assert decide(spec, QueueDepth(100), 0, Memory(), now=0).replicas == 1  # 100 % of 0 is 0
    spec = ScalerSpec(min_replicas=3, idle_replicas=0, scale_up_policies=(RatePolicy("Pods", 1, 60),))
    assert decide(spec, QueueDepth(100), 0, Memory(), now=0).replicas == 3


def test_scale_up_stabilisation_window_takes_the_lowest_recommendation():
    spec = ScalerSpec(min_replicas=1, scale_up_stabilization_seconds=60)
    polls = [(0, QueueDepth(1)), (30, QueueDepth(50)), (59, QueueDepth(50)), (61, QueueDepth(50))]
    assert _run(spec, Memory(), 1, polls) == [1, 1, 1, 10]


def test_active_flag_and_reason():
    decision = decide(KEDA, QueueDepth(3), 0, Memory(), now=0)
    assert decision.active is True and decision.work == 3 and "3 messages" in decision.reason
    assert decide(KEDA, QueueDepth(0), 0, Memory(), now=0).active is False
    assert decide(KEDA, None, 0, Memory(), now=0).active is None


def test_spec_from_resource_reads_camel_case_fields_and_keeps_keda_defaults():
    spec = ScalerSpec.from_resource(
        {
            "messagesPerReplica": 10,
            "minReplicas": 1,
            "idleReplicas": 0,
            "scaleUpPolicies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
            "scaleUpSelectPolicy": "Min",
            "fallback": {"replicas": 3, "behavior": "currentReplicasIfHigher"},
        }
    )
    assert (spec.messages_per_replica, spec.min_replicas, spec.idle_replicas) == (10, 1, 0)
    assert spec.scale_up_policies == (RatePolicy("Pods", 4, 15),) and spec.scale_up_select_policy == "Min"
    assert (spec.fallback_replicas, spec.fallback_behavior) == (3, "currentReplicasIfHigher")
    assert (spec.count_in_flight, spec.count_delayed, spec.cooldown_seconds) == (True, False, 300)
