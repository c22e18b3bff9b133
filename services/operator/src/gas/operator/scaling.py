"""The replica calculation of a QueueScaler: KEDA's aws-sqs-queue semantics, plus what
GAS queues need. Pure: the reconcile loop feeds it observations and keeps its memory.

KEDA parity: work = visible (+ in-flight when countInFlight, default on) (+ delayed when
countDelayed, default off); active when work > activationMessages; desired =
ceil(work / messagesPerReplica) within [max(min, 1), max] while active; to minReplicas
(0 allowed) only after cooldownSeconds without activity; scale-down stabilised over a
window (the HPA's behaviour: the highest recommendation of the window wins); after
fallback.failureThreshold consecutive queue errors, fallback.replicas.

Beyond KEDA: messages a worker has deferred (made invisible until due, as the archiver
does) are counted as in-flight by SQS, yet nobody is working on them. Unless
countDeferred is set, in-flight counts only up to what the current replicas can hold
(replicas x inFlightPerReplica); the rest is deferred, not work. And a scale-down never
goes below what the in-flight work needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScalerSpec:
    messages_per_replica: int = 5
    activation_messages: int = 0
    min_replicas: int = 0
    max_replicas: int = 100
    cooldown_seconds: int = 300
    scale_down_stabilization_seconds: int = 300
    count_in_flight: bool = True
    count_delayed: bool = False
    count_deferred: bool = False
    in_flight_per_replica: int = 1
    fallback_failure_threshold: int = 3
    fallback_replicas: int = 1

    @classmethod
    def from_resource(cls, spec: dict) -> ScalerSpec:
        fallback = spec.get("fallback") or {}
        keys = {
            "messagesPerReplica": "messages_per_replica",
            "activationMessages": "activation_messages",
            "minReplicas": "min_replicas",
            "maxReplicas": "max_replicas",
            "cooldownSeconds": "cooldown_seconds",
            "scaleDownStabilizationSeconds": "scale_down_stabilization_seconds",
            "countInFlight": "count_in_flight",
            "countDelayed": "count_delayed",
            "countDeferred": "count_deferred",
            "inFlightPerReplica": "in_flight_per_replica",
        }
        values = {py: spec[k8s] for k8s, py in keys.items() if k8s in spec}
        if "failureThreshold" in fallback:
            values["fallback_failure_threshold"] = fallback["failureThreshold"]
        if "replicas" in fallback:
            values["fallback_replicas"] = fallback["replicas"]
        return cls(**values)


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int = 0
    delayed: int = 0


@dataclass
class Memory:
    """What the loop remembers between polls (kept in the resource's status)."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    last_active: float | None = None
    failures: int = 0


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str
    work: int | None = None
    active: bool = False


def decide(spec: ScalerSpec, depth: QueueDepth | None, current: int, memory: Memory, now: float) -> Decision:
    """The replica count to run now. `depth` is None when the queue could not be read."""
    if depth is None:
        memory.failures += 1
        if memory.failures >= spec.fallback_failure_threshold:
            # No running count in the text: it lands in status, and an unchanged status costs no write.
            return Decision(
                spec.fallback_replicas, f"queue unreadable {spec.fallback_failure_threshold}+ times in a row: fallback"
            )
        return Decision(current, f"queue unreadable ({memory.failures}/{spec.fallback_failure_threshold}): unchanged")
    memory.failures = 0

    in_flight = depth.in_flight
    if not spec.count_deferred:
        in_flight = min(in_flight, current * spec.in_flight_per_replica)
    work = depth.visible + (in_flight if spec.count_in_flight else 0) + (depth.delayed if spec.count_delayed else 0)
    active = work > spec.activation_messages
    if active:
        memory.last_active = now
        raw = min(spec.max_replicas, max(math.ceil(work / spec.messages_per_replica), spec.min_replicas, 1))
        reason = f"{work} messages / {spec.messages_per_replica} per replica"
    elif memory.last_active is not None and now - memory.last_active < spec.cooldown_seconds:
        raw = min(spec.max_replicas, max(spec.min_replicas, 1))
        reason = f"idle, in cooldown ({spec.cooldown_seconds}s)"
    else:
        raw = spec.min_replicas
        reason = "idle"

    window = spec.scale_down_stabilization_seconds
    memory.recommendations = [(t, r) for t, r in memory.recommendations if now - t < window] + [(now, raw)]
    if raw >= current:
        return Decision(raw, reason, work, active)
    stabilised = max(r for _, r in memory.recommendations)
    # Never below what the messages in hand need (they are being worked on right now).
    floor = min(spec.max_replicas, math.ceil(in_flight / spec.in_flight_per_replica)) if spec.count_in_flight else 0
    replicas = min(current, max(stabilised, raw, floor))
    if replicas > raw:
        reason += f"; scale-down held at {replicas} (stabilisation window {window}s / in-flight work)"
    return Decision(replicas, reason, work, active)
