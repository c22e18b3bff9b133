"""The replica calculation of a QueueScaler: KEDA's aws-sqs-queue scaler and ScaledObject,
with the HorizontalPodAutoscaler's behaviour for the replicas in between. Pure: the
reconcile loop feeds it observations and keeps its memory.

Work = visible (+ in-flight when countInFlight, default on) (+ delayed when countDelayed,
default off). In-flight means "a worker holds it": the GAS worker loop hands a deferred
(not yet due) message back to SQS delayed, so deferred work is delayed, not in flight
(docs/operator.md). Active when work > activationMessages.

Two parts, as in KEDA:
- Activation and idling (KEDA's own): from idle (0, or idleReplicas) an active queue
  brings at least max(minReplicas, 1) at once; an inactive queue goes back to idle once
  cooldownSeconds have passed since it was last active, whatever the windows say.
- In between (KEDA hands this to an HPA): recommendation = ceil(work / messagesPerReplica)
  within [max(minReplicas, 1), maxReplicas] while active, max(minReplicas, 1) while not;
  scale up to the lowest recommendation of the scale-up window (0 s by default: at once),
  limited by the scale-up rate policies; scale down to the highest recommendation of the
  scale-down window.
Always: never below the work in hand on a scale-down (ceil(in-flight / inFlightPerReplica));
within [minReplicas, maxReplicas]. After fallback.failureThreshold consecutive queue
errors the fallback count is the recommendation, through the same clamps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

FallbackBehavior = Literal["static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower"]


@dataclass(frozen=True)
class RatePolicy:
    """The HPA's scaling policy: at most `value` pods (or percent) added per `period_seconds`."""

    type: Literal["Pods", "Percent"]
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalerSpec:
    messages_per_replica: int = 5
    activation_messages: int = 0
    min_replicas: int = 0
    max_replicas: int = 100
    idle_replicas: int | None = None
    cooldown_seconds: int = 300
    scale_down_stabilization_seconds: int = 300
    scale_up_stabilization_seconds: int = 0
    scale_up_policies: tuple[RatePolicy, ...] = ()
    scale_up_select_policy: Literal["Max", "Min"] = "Max"
    count_in_flight: bool = True
    count_delayed: bool = False
    in_flight_per_replica: int = 1
    fallback_failure_threshold: int = 3
    fallback_replicas: int = 1
    fallback_behavior: FallbackBehavior = "static"

    @classmethod
    def from_resource(cls, spec: dict[str, Any]) -> ScalerSpec:
        keys = {
            "messagesPerReplica": "messages_per_replica",
            "activationMessages": "activation_messages",
            "minReplicas": "min_replicas",
            "maxReplicas": "max_replicas",
            "idleReplicas": "idle_replicas",
            "cooldownSeconds": "cooldown_seconds",
            "scaleDownStabilizationSeconds": "scale_down_stabilization_seconds",
            "scaleUpStabilizationSeconds": "scale_up_stabilization_seconds",
            "scaleUpSelectPolicy": "scale_up_select_policy",
            "countInFlight": "count_in_flight",
            "countDelayed": "count_delayed",
            "inFlightPerReplica": "in_flight_per_replica",
        }
        values: dict[str, Any] = {py: spec[k8s] for k8s, py in keys.items() if k8s in spec}
        values["scale_up_policies"] = tuple(
            RatePolicy(p["type"], int(p["value"]), int(p["periodSeconds"])) for p in spec.get("scaleUpPolicies") or ()
        )
        fallback = spec.get("fallback") or {}
        for k8s, py in (
            ("failureThreshold", "fallback_failure_threshold"),
            ("replicas", "fallback_replicas"),
            ("behavior", "fallback_behavior"),
        ):
            if k8s in fallback:
                values[py] = fallback[k8s]
        return cls(**values)


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int = 0
    delayed: int = 0


@dataclass
class Memory:
    """What the loop remembers between polls."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_ups: list[tuple[float, int]] = field(default_factory=list)  # (when, replicas added)
    last_active: float | None = None
    failures: int = 0
    last_in_flight: int = 0  # the floor while the queue cannot be read


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str
    work: int | None = None
    active: bool | None = None  # None: unknown (queue unreadable)
    fallback: bool = False


def decide(spec: ScalerSpec, depth: QueueDepth | None, current: int, memory: Memory, now: float) -> Decision:
    """The replica count to run now. `depth` is None when the queue could not be read."""
    hpa_min = min(spec.max_replicas, max(spec.min_replicas, 1))
    if depth is None:
        memory.failures += 1
        if memory.failures < spec.fallback_failure_threshold:
            reason = f"queue unreadable ({memory.failures}/{spec.fallback_failure_threshold}): unchanged"
            return Decision(current, reason)
        raw = _clamp(_fallback(spec, current), spec.min_replicas, spec.max_replicas)
        # No running count in the text: it lands in status, and an unchanged status costs no write.
        reason = f"queue unreadable {spec.fallback_failure_threshold}+ times in a row: fallback {raw}"
        in_flight, active, work = memory.last_in_flight, None, None
    else:
        memory.failures = 0
        in_flight = depth.in_flight if spec.count_in_flight else 0
        memory.last_in_flight = in_flight
        work = depth.visible + in_flight + (depth.delayed if spec.count_delayed else 0)
        active = work > spec.activation_messages
        if active:
            memory.last_active = now
            raw = _clamp(math.ceil(work / spec.messages_per_replica), hpa_min, spec.max_replicas)
            reason = f"{work} messages / {spec.messages_per_replica} per replica"
        else:
            raw = hpa_min
            reason = "idle"
    fallback = depth is None
    floor = min(spec.max_replicas, math.ceil(in_flight / spec.in_flight_per_replica))
    horizon = max(spec.scale_down_stabilization_seconds, spec.scale_up_stabilization_seconds)
    memory.recommendations = [(t, r) for t, r in memory.recommendations if now - t < horizon] + [(now, raw)]

    idle = spec.idle_replicas if spec.idle_replicas is not None else (0 if spec.min_replicas == 0 else None)
    if idle is not None and active is False:
        cooled = memory.last_active is None or now - memory.last_active >= spec.cooldown_seconds
        if cooled:
            # KEDA's own step, not the HPA's: idle at cooldownSeconds, the windows do not hold it.
            replicas = max(min(current, max(idle, floor)), idle)
            reason += f" for {spec.cooldown_seconds}s (cooldown)"
            if replicas > idle:
                reason += f"; scale-down held at {replicas} by {in_flight} in-flight messages"
            return Decision(replicas, reason, work, active)
        if current <= idle:
            return Decision(current, reason, work, active)
        reason += f", in cooldown ({spec.cooldown_seconds}s)"

    replicas = _stabilised(spec, memory, current, raw, now)
    if replicas > current:
        limit = _scale_up_limit(spec, memory, current, now)
        if limit < replicas:
            reason += f"; scale-up limited to {limit} by the rate policies"
            replicas = limit
        if active and current < hpa_min:
            replicas = max(replicas, hpa_min)  # activation is KEDA's step: never rate-limited
    elif replicas < current and replicas < floor:
        replicas = min(current, floor)
        reason += f"; scale-down held at {replicas} by {in_flight} in-flight messages"
    elif replicas > raw:
        reason += f"; scale-down held at {replicas} (stabilisation window {spec.scale_down_stabilization_seconds}s)"
    replicas = _clamp(replicas, spec.min_replicas, spec.max_replicas)
    longest = max((p.period_seconds for p in spec.scale_up_policies), default=0)
    memory.scale_ups = [(t, n) for t, n in memory.scale_ups if now - t < longest]
    if replicas > current and longest:
        memory.scale_ups.append((now, replicas - current))
    return Decision(replicas, reason, work, active, fallback)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _fallback(spec: ScalerSpec, current: int) -> int:
    """KEDA's fallback behaviours."""
    if spec.fallback_behavior == "currentReplicas":
        return current
    if spec.fallback_behavior == "currentReplicasIfHigher":
        return max(current, spec.fallback_replicas)
    if spec.fallback_behavior == "currentReplicasIfLower":
        return min(current, spec.fallback_replicas)
    return spec.fallback_replicas


def _stabilised(spec: ScalerSpec, memory: Memory, current: int, raw: int, now: float) -> int:
    """The HPA's stabilisation: up to the lowest recommendation of the scale-up window,
    down to the highest of the scale-down window, else stay."""

    def within(window: int) -> list[int]:
        return [r for t, r in memory.recommendations if now - t < window] + [raw]

    up_to = min(within(spec.scale_up_stabilization_seconds))
    down_to = max(within(spec.scale_down_stabilization_seconds))
    return min(max(current, up_to), down_to)


def _scale_up_limit(spec: ScalerSpec, memory: Memory, current: int, now: float) -> int:
    """The HPA's scale-up rate policies: replicas at the start of each policy's period plus
    what it allows; selectPolicy Max takes the most permissive, Min the strictest."""
    if not spec.scale_up_policies:
        return spec.max_replicas
    limits = []
    for policy in spec.scale_up_policies:
        added = sum(n for t, n in memory.scale_ups if now - t < policy.period_seconds)
        start = max(0, current - added)
        if policy.type == "Pods":
            limits.append(start + policy.value)
        else:
            limits.append(math.ceil(start * (1 + policy.value / 100)))
    return max(limits) if spec.scale_up_select_policy == "Max" else min(limits)
