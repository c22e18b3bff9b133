"""One reconcile pass of a QueueScaler: read the target's scale and the queue, decide,
patch the scale subresource only when the count changes, record status and an Event.

Kept apart from kopf so the same pass runs under the operator and in tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from kubernetes.client.rest import ApiException
from prometheus_client import Counter, Gauge

from gas.operator.scaling import Decision, Memory, QueueDepth, ScalerSpec, decide

log = structlog.get_logger()

GROUP, VERSION, PLURAL = "gas.dev", "v1alpha1", "queuescalers"
# kopf puts it on every QueueScaler (its daemon must stop before the object goes).
FINALIZER = "gas.dev/queuescaler"
PAUSED_ANNOTATION = "gas.dev/paused"

DEPTH = Gauge("gas_operator_queue_messages", "Observed queue messages", ["scaler", "kind"])
DESIRED = Gauge("gas_operator_desired_replicas", "Replicas the scaler wants", ["scaler"])
ACTUAL = Gauge("gas_operator_actual_replicas", "Replicas the target has", ["scaler"])
SCALE_EVENTS = Counter("gas_operator_scale_events_total", "Scale changes made", ["scaler", "direction"])
ERRORS = Counter("gas_operator_errors_total", "Reconcile errors", ["scaler", "kind"])
API_CALLS = Counter("gas_operator_api_calls_total", "Calls to Kubernetes and SQS", ["api", "verb"])


@dataclass
class ScalerState:
    """A scaler's memory across passes; seeded from status after an operator restart."""

    memory: Memory = field(default_factory=Memory)
    last_status: dict[str, Any] | None = None

    @classmethod
    def resumed(cls, status: dict[str, Any] | None, now: float) -> ScalerState:
        state = cls()
        current = (status or {}).get("currentReplicas")
        if current:
            # Treat the running count as just recommended: a restart never causes an
            # immediate scale-down (no flapping), and cooldown starts afresh.
            state.memory.recommendations = [(now, int(current))]
            state.memory.last_active = now
        return state


def _condition(kind: str, ok: bool, reason: str, message: str) -> dict[str, str]:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}


class Reconciler:
    def __init__(self, apps_api: Any, custom_api: Any, sqs_factory: Any, post_event: Any):
        self.apps = apps_api
        self.custom = custom_api
        self.sqs_factory = sqs_factory  # (region, endpoint) -> boto3 SQS client
        self.post_event = post_event  # (body, reason, message) -> None
        self._queue_urls: dict[tuple[Any, ...], str] = {}

    def queue_depth(self, queue: dict[str, Any]) -> QueueDepth:
        sqs = self.sqs_factory(queue.get("region"), queue.get("endpoint"))
        key = (queue.get("region"), queue.get("endpoint"), queue.get("name"))
        url = queue.get("url") or self._queue_urls.get(key)
        if not url:
            API_CALLS.labels("sqs", "GetQueueUrl").inc()
            # Resolved once: a steady queue then costs one SQS read per poll.
            url = self._queue_urls[key] = sqs.get_queue_url(QueueName=queue["name"])["QueueUrl"]
        API_CALLS.labels("sqs", "GetQueueAttributes").inc()
        try:
            attrs = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
        except ClientError:
            self._queue_urls.pop(key, None)  # deleted or recreated: resolve the name again
            raise
        return QueueDepth(
            visible=int(attrs.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
        )

    def run_once(self, body: dict[str, Any], state: ScalerState, now: float | None = None) -> Decision | None:
        now = time.time() if now is None else now
        meta, spec = body["metadata"], body["spec"]
        name, namespace = meta["name"], meta["namespace"]
        label = f"{namespace}/{name}"
        target = spec["scaleTargetRef"]["name"]
        status: dict[str, Any] = {"observedGeneration": meta.get("generation")}
        previous = state.last_status or body.get("status") or {}

        if (meta.get("annotations") or {}).get(PAUSED_ANNOTATION) == "true":
            status.update({k: previous[k] for k in ("currentReplicas", "desiredReplicas") if k in previous})
            status["conditions"] = [_condition("Paused", True, "PausedByAnnotation", f"{PAUSED_ANNOTATION}=true")]
            self._record(body, state, status, previous)
            return None

        try:
            API_CALLS.labels("kubernetes", "get-scale").inc()
            scale = self.apps.read_namespaced_deployment_scale(target, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            ERRORS.labels(label, "target_missing").inc()
            status["conditions"] = [_condition("Ready", False, "TargetMissing", f"Deployment {target} not found")]
            self._record(body, state, status, previous)
            return None
        current = int(scale.spec.replicas or 0)

        try:
            depth = self.queue_depth(spec["queue"])
            queue_condition = _condition("QueueReadable", True, "QueueRead", "")
        except (ClientError, BotoCoreError, KeyError) as exc:
            ERRORS.labels(label, "queue").inc()
            depth = None
            code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
            missing = "NonExistentQueue" in code
            queue_condition = _condition(
                "QueueReadable", False, "QueueMissing" if missing else "QueueError", f"{code}: {exc}"[:300]
            )

        decision = decide(ScalerSpec.from_resource(spec), depth, current, state.memory, now)
        if decision.replicas != current:
            API_CALLS.labels("kubernetes", "patch-scale").inc()
            self.apps.patch_namespaced_deployment_scale(target, namespace, {"spec": {"replicas": decision.replicas}})
            direction = "up" if decision.replicas > current else "down"
            SCALE_EVENTS.labels(label, direction).inc()
            message = f"Scaled {target} from {current} to {decision.replicas}: {decision.reason}"
            self.post_event(body, "Scaled", message)
            log.info("operator.scaled", scaler=label, target=target, replicas=decision.replicas, reason=decision.reason)
            status["lastScaleTime"] = _iso(now)
        elif "lastScaleTime" in previous:
            status["lastScaleTime"] = previous["lastScaleTime"]

        if depth is not None:
            status.update(
                {
                    "visibleMessages": depth.visible,
                    "inFlightMessages": depth.in_flight,
                    "delayedMessages": depth.delayed,
                }
            )
            for kind, value in (("visible", depth.visible), ("in_flight", depth.in_flight), ("delayed", depth.delayed)):
                DEPTH.labels(label, kind).set(value)
        status.update({"desiredReplicas": decision.replicas, "currentReplicas": decision.replicas})
        DESIRED.labels(label).set(decision.replicas)
        ACTUAL.labels(label).set(current)
        status["conditions"] = [
            _condition(
                "Ready", depth is not None, "Scaling" if depth is not None else "QueueUnavailable", decision.reason
            ),
            queue_condition,
        ]
        self._record(body, state, status, previous)
        return decision

    def _record(
        self, body: dict[str, Any], state: ScalerState, status: dict[str, Any], previous: dict[str, Any]
    ) -> None:
        # No write when nothing changed: a steady queue costs reads only.
        if {k: v for k, v in previous.items()} == status:
            state.last_status = status
            return
        meta = body["metadata"]
        API_CALLS.labels("kubernetes", "patch-status").inc()
        self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], {"status": status}
        )
        state.last_status = status


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
