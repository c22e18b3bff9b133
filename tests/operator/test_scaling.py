"""The replica calculation, table-driven, with KEDA's documented aws-sqs-queue cases."""

import pytest

from gas.operator.scaling import Memory, QueueDepth, ScalerSpec, decide

KEDA = ScalerSpec()  # KEDA's defaults: queueLength 5, activation 0, in-flight on, delayed off


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
        ("idle with min 0 and no history goes to zero", KEDA, QueueDepth(0), 0, 0),
        ("gas: deferred in-flight beyond the replicas is not work", KEDA, QueueDepth(0, in_flight=500), 1, 1),
        ("gas: deferred messages with no replicas do not wake the workers", KEDA, QueueDepth(0, in_flight=500), 0, 0),
        (
            "gas: countDeferred counts them like KEDA",
            ScalerSpec(count_deferred=True),
            QueueDepth(0, in_flight=500),
            1,
            100,
        ),
    ],
)
def test_replicas(case, spec, depth, current, expected):
    assert decide(spec, depth, current, Memory(), now=1000.0).replicas == expected, case


def test_scale_up_is_immediate_and_scale_down_waits_for_the_stabilisation_window():
    spec, memory = ScalerSpec(scale_down_stabilization_seconds=60, cooldown_seconds=0), Memory()
    assert decide(spec, QueueDepth(50), 0, memory, now=0).replicas == 10
    assert decide(spec, QueueDepth(5), 10, memory, now=30).replicas == 10  # held
    assert decide(spec, QueueDepth(5), 10, memory, now=59).replicas == 10
    assert decide(spec, QueueDepth(5), 10, memory, now=61).replicas == 1  # window passed


def test_scale_to_zero_only_after_the_cooldown():
    spec, memory = ScalerSpec(scale_down_stabilization_seconds=0, cooldown_seconds=300), Memory()
    assert decide(spec, QueueDepth(3), 0, memory, now=0).replicas == 1
    assert decide(spec, QueueDepth(0), 1, memory, now=100).replicas == 1
    assert decide(spec, QueueDepth(0), 1, memory, now=301).replicas == 0


def test_scale_down_never_below_the_work_in_hand():
    spec = ScalerSpec(scale_down_stabilization_seconds=0, cooldown_seconds=0, messages_per_replica=10)
    # 4 replicas each hold a message; 0 visible: the raw target is 1, but 4 are busy.
    assert decide(spec, QueueDepth(0, in_flight=4), 4, Memory(), now=0).replicas == 4


def test_fallback_after_consecutive_queue_errors_then_recovery():
    spec, memory = ScalerSpec(fallback_failure_threshold=3, fallback_replicas=2), Memory()
    assert [decide(spec, None, 5, memory, now=t).replicas for t in range(3)] == [5, 5, 2]
    assert decide(spec, QueueDepth(10), 2, memory, now=4).replicas == 2 and memory.failures == 0


def test_spec_from_resource_reads_camel_case_fields_and_keeps_keda_defaults():
    spec = ScalerSpec.from_resource({"messagesPerReplica": 10, "minReplicas": 1, "fallback": {"replicas": 3}})
    assert (spec.messages_per_replica, spec.min_replicas, spec.fallback_replicas) == (10, 1, 3)
    assert (spec.count_in_flight, spec.count_delayed, spec.cooldown_seconds) == (True, False, 300)


def test_a_lasting_queue_outage_gives_one_stable_reason():
    """The reason becomes the Ready condition's message: if it counted failures, every poll
    of a broken queue would rewrite status (steady state must cost no writes)."""
    spec, memory = ScalerSpec.from_resource({"fallback": {"failureThreshold": 2, "replicas": 3}}), Memory()
    decisions = [decide(spec, None, 1, memory, float(t)) for t in range(10)]
    assert decisions[0].replicas == 1 and {d.replicas for d in decisions[1:]} == {3}
    assert len({d.reason for d in decisions[1:]}) == 1 and memory.failures == 10
