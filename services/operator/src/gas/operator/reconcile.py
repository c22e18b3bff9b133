"""One reconcile pass of a QueueScaler: read the target's scale and the queue, decide,
patch the scale subresource only when the count changes, record status and Events.

Kept apart from kopf so the same pass runs under the operator and in tests. Every
Kubernetes call has a timeout; every failure ends in a condition, an
`gas_operator_errors_total` count and a log line, never in an exception that escapes.
Status follows the Kubernetes API conventions: observed values, conditions with
`lastTransitionTime` and `observedGeneration`, and nothing stale (a field that could not
be observed this pass is removed)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from kubernetes.client.exceptions import ApiException

from gas.core.aws import queue_counts
from gas.operator.metrics import (
    ACTIVE,
    ACTUAL,
    API_CALLS,
    DEPTH,
    DESIRED,
    ERRORS,
    FALLBACK,
    PASS_SECONDS,
    PAUSED,
    SCALE_EVENTS,
)
from gas.operator.scaling import Decision, Memory, QueueDepth, ScalerSpec, decide

log = structlog.get_logger()

GROUP, VERSION, PLURAL, KIND = "gas.dev", "v1alpha1", "queuescalers", "QueueScaler"
PAUSED_ANNOTATION = "gas.dev/paused"
PAUSED_REPLICAS_ANNOTATION = "gas.dev/paused-replicas"  # KEDA's autoscaling.keda.sh/paused-replicas
# Put there by the kopf daemons of earlier versions; it did no cleanup and blocked uninstalls.
LEGACY_FINALIZER = "gas.dev/queuescaler"
# What a Kubernetes call can raise: an answer with an error status, or no answer in time.
KUBE_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)

Condition = tuple[str, str, str]  # (status, reason, message)


@dataclass(frozen=True)
class Conflict:
    """Why a QueueScaler must not act: another controller scales its Deployment. `planned`:
    GAS's own release rendered that controller (web's HPA, a worker with `autoscaler: keda`,
    whose HPA KEDA makes from the release's ScaledObject): standing down is what was asked,
    not an error."""

    message: str
    planned: bool = False


@dataclass
class ScalerState:
    """A scaler's memory across passes, for the life of its loop."""

    memory: Memory = field(default_factory=Memory)
    seeded: bool = False
    last_status: dict[str, Any] | None = None
    # Set when the loop is told to stop: a pass still running then writes nothing more.
    cancelled: threading.Event = field(default_factory=threading.Event)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def describe_kube_error(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        try:
            detail = json.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            detail = ""
        return f"{exc.status} {exc.reason}: {detail}".strip(": ")
    return f"{type(exc).__name__}: {exc}"


class Reconciler:
    def __init__(
        self,
        apps_api: Any,
        core_api: Any,
        custom_api: Any,
        sqs_client: Callable[[str | None, str | None], Any],
        request_timeout: float,
        may_write: Callable[[], bool],
        reporter: str,
    ):
        self.apps, self.core, self.custom = apps_api, core_api, custom_api
        self.sqs_client = sqs_client  # (region, endpoint) -> boto3 SQS client
        self.timeout = request_timeout
        self.may_write = may_write  # False once this replica is not (surely) the leader
        self.reporter = reporter
        self._queue_urls: dict[tuple[str | None, ...], str] = {}

    # -- the queue ------------------------------------------------------------------------
    def queue_depth(self, queue: dict[str, Any]) -> QueueDepth:
        sqs = self.sqs_client(queue.get("region"), queue.get("endpoint"))
        key = (queue.get("region"), queue.get("endpoint"), queue.get("name"))
        url = queue.get("url") or self._queue_urls.get(key)
        if not url:
            API_CALLS.labels("sqs", "GetQueueUrl").inc()
            # Resolved once: a steady queue then costs one SQS read per poll.
            url = self._queue_urls[key] = sqs.get_queue_url(QueueName=queue["name"])["QueueUrl"]
        API_CALLS.labels("sqs", "GetQueueAttributes").inc()
        try:
            visible, in_flight, delayed = queue_counts(sqs, url)
        except ClientError:
            self._queue_urls.pop(key, None)  # deleted or recreated: resolve the name again
            raise
        return QueueDepth(visible=visible, in_flight=in_flight, delayed=delayed)

    # -- one pass -------------------------------------------------------------------------
    def run_once(
        self, body: dict[str, Any], state: ScalerState, conflict: Conflict | None = None, now: float | None = None
    ) -> Decision | None:
        """Returns the decision, or None when this pass did not decide (paused, conflict, error)."""
        meta = body["metadata"]
        label = f"{meta['namespace']}/{meta['name']}"
        started = time.monotonic()
        try:
            return self._pass(body, state, conflict, time.time() if now is None else now, label)
        finally:
            PASS_SECONDS.labels(label).observe(time.monotonic() - started)

    def _pass(
        self, body: dict[str, Any], state: ScalerState, conflict: Conflict | None, now: float, label: str
    ) -> Decision | None:
        if not self._writable(state):
            return None
        meta, spec = body["metadata"], body["spec"]
        namespace, target = meta["namespace"], spec["scaleTargetRef"]["name"]
        previous = state.last_status if state.last_status is not None else dict(body.get("status") or {})
        status: dict[str, Any] = {"observedGeneration": meta.get("generation")}
        if "lastScaleTime" in previous:
            status["lastScaleTime"] = previous["lastScaleTime"]
        self._drop_legacy_finalizer(meta)
        annotations = meta.get("annotations") or {}
        paused = annotations.get(PAUSED_ANNOTATION) == "true" or PAUSED_REPLICAS_ANNOTATION in annotations
        paused_cond: Condition = (
            ("True", "PausedByAnnotation", _pause_message(annotations)) if paused else ("False", "NotPaused", "")
        )
        PAUSED.labels(label).set(1 if paused else 0)

        def finish(ready: Condition, active: Condition, fallback: Condition, queue: Condition) -> None:
            ACTIVE.labels(label).set(1 if active[0] == "True" else 0)
            FALLBACK.labels(label).set(1 if fallback[0] == "True" else 0)
            wanted = {
                "Ready": ready,
                "Active": active,
                "Fallback": fallback,
                "Paused": paused_cond,
                "QueueReadable": queue,
            }
            status["conditions"] = _conditions(previous.get("conditions") or [], wanted, meta.get("generation"), now)
            self._record(body, state, status, previous)

        def unknown(reason: str) -> Condition:
            return ("Unknown", reason, "")

        if conflict and conflict.planned:  # no error: GasOperatorErrors stays silent
            if _condition_reason(previous, "Ready") != "StoodDown":
                self._event(body, state, "Normal", "StoodDown", conflict.message)
                log.info("operator.stood_down", scaler=label, target=target, reason=conflict.message)
            finish(("False", "StoodDown", conflict.message), *[unknown("StoodDown")] * 3)
            return None
        if conflict:
            ERRORS.labels(label, "conflict").inc()
            if _condition_reason(previous, "Ready") != "Conflict":
                self._event(body, state, "Warning", "Conflict", conflict.message)
            log.warning("operator.conflict", scaler=label, target=target, conflict=conflict.message)
            finish(("False", "Conflict", conflict.message), *[unknown("Conflict")] * 3)
            return None

        try:
            API_CALLS.labels("kubernetes", "get-scale").inc()
            scale = self.apps.read_namespaced_deployment_scale(target, namespace, _request_timeout=self.timeout)
        except KUBE_ERRORS as exc:
            missing = isinstance(exc, ApiException) and exc.status == 404
            kind, reason = ("target_missing", "TargetMissing") if missing else ("kubernetes", "KubernetesError")
            message = f"Deployment {target} not found" if missing else f"get {target}/scale: {describe_kube_error(exc)}"
            ERRORS.labels(label, kind).inc()
            log.warning("operator.target_unreadable", scaler=label, target=target, error=message)
            finish(("False", reason, message[:1000]), unknown(reason), unknown(reason), unknown(reason))
            return None
        current = int(scale.spec.replicas or 0)
        status["currentReplicas"] = int(getattr(scale.status, "replicas", 0) or 0)
        ACTUAL.labels(label).set(status["currentReplicas"])
        if not state.seeded:
            # After a (re)start the running count counts as just recommended: a restart
            # never scales down inside the stabilisation window, and cooldown starts afresh.
            state.seeded = True
            state.memory.recommendations = [(now, current)]
            state.memory.last_active = now if current > 0 else None

        if paused:
            wanted, invalid = _paused_replicas(annotations, current)
            if invalid:
                ERRORS.labels(label, "invalid").inc()
                finish(("False", "InvalidAnnotation", invalid), unknown("Paused"), unknown("Paused"), unknown("Paused"))
                return None
            status["desiredReplicas"] = wanted
            DESIRED.labels(label).set(wanted)
            if wanted != current and not self._scale(body, state, status, label, target, current, wanted, "paused"):
                return None
            message = f"paused at {wanted} replicas"
            finish(("True", "Paused", message), unknown("Paused"), ("False", "Paused", ""), unknown("Paused"))
            return None

        try:
            depth: QueueDepth | None = self.queue_depth(spec["queue"])
            queue_cond: Condition = ("True", "QueueRead", "")
        except (ClientError, BotoCoreError, KeyError) as exc:
            ERRORS.labels(label, "queue").inc()
            depth = None
            code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
            reason = "QueueMissing" if "NonExistentQueue" in code else "QueueError"
            queue_cond = ("False", reason, f"{code}: {exc}"[:300])
            log.warning("operator.queue_unreadable", scaler=label, error=queue_cond[2])

        decision = decide(ScalerSpec.from_resource(spec), depth, current, state.memory, now)
        status["desiredReplicas"] = decision.replicas
        DESIRED.labels(label).set(decision.replicas)
        if depth is not None:
            status.update(
                visibleMessages=depth.visible, inFlightMessages=depth.in_flight, delayedMessages=depth.delayed
            )
            for kind, value in (("visible", depth.visible), ("in_flight", depth.in_flight), ("delayed", depth.delayed)):
                DEPTH.labels(label, kind).set(value)
        else:
            for kind in ("visible", "in_flight", "delayed"):
                try:
                    DEPTH.remove(label, kind)  # unknown now: no stale figure either
                except KeyError:
                    pass
        if decision.replicas != current and not self._scale(
            body, state, status, label, target, current, decision.replicas, decision.reason
        ):
            return None
        if depth is None:
            ready: Condition = ("False", "QueueUnavailable", decision.reason)
            active = unknown("QueueUnavailable")
        else:
            ready = ("True", "Scaling", decision.reason)
            above = f"more than {spec.get('activationMessages', 0)} messages (activationMessages)"
            active = ("True", "QueueHasWork", above) if decision.active else ("False", "QueueIdle", f"not {above}")
        fallback: Condition = (
            ("True", "QueueUnreadable", decision.reason) if decision.fallback else ("False", "NoFallback", "")
        )
        finish(ready, active, fallback, queue_cond)
        return decision

    # -- writes ---------------------------------------------------------------------------
    def _scale(
        self,
        body: dict[str, Any],
        state: ScalerState,
        status: dict[str, Any],
        label: str,
        target: str,
        current: int,
        replicas: int,
        reason: str,
    ) -> bool:
        namespace = body["metadata"]["namespace"]
        if not self._writable(state):
            return False
        try:
            API_CALLS.labels("kubernetes", "patch-scale").inc()
            self.apps.patch_namespaced_deployment_scale(
                target, namespace, {"spec": {"replicas": replicas}}, _request_timeout=self.timeout
            )
        except KUBE_ERRORS as exc:
            message = f"patch {target}/scale to {replicas}: {describe_kube_error(exc)}"
            ERRORS.labels(label, "kubernetes").inc()
            log.warning("operator.scale_failed", scaler=label, target=target, error=message)
            previous = state.last_status if state.last_status is not None else dict(body.get("status") or {})
            status.pop("desiredReplicas", None)
            failed: Condition = ("False", "KubernetesError", message[:1000])
            wanted = {"Ready": failed}
            status["conditions"] = _conditions(
                previous.get("conditions") or [], wanted, body["metadata"].get("generation"), time.time()
            )
            self._record(body, state, status, previous)
            return False
        direction = "up" if replicas > current else "down"
        SCALE_EVENTS.labels(label, direction).inc()
        self._event(body, state, "Normal", "Scaled", f"Scaled {target} from {current} to {replicas}: {reason}")
        log.info("operator.scaled", scaler=label, target=target, replicas=replicas, reason=reason)
        status["lastScaleTime"] = _iso(time.time())
        return True

    def _writable(self, state: ScalerState) -> bool:
        return self.may_write() and not state.cancelled.is_set()

    def _event(self, body: dict[str, Any], state: ScalerState, kind: str, reason: str, message: str) -> None:
        meta = body["metadata"]
        if not self._writable(state):
            return
        stamp = _iso(time.time())
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{time.time_ns():x}", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": kind,
            "reason": reason,
            "message": message[:1000],
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "source": {"component": "gas-operator"},
            "reportingComponent": "gas.dev/operator",
            "reportingInstance": self.reporter,
        }
        try:
            API_CALLS.labels("kubernetes", "create-event").inc()
            self.core.create_namespaced_event(meta["namespace"], event, _request_timeout=self.timeout)
        except KUBE_ERRORS as exc:
            ERRORS.labels(f"{meta['namespace']}/{meta['name']}", "kubernetes").inc()
            log.warning("operator.event_failed", reason=reason, error=describe_kube_error(exc)[:300])

    def _record(
        self, body: dict[str, Any], state: ScalerState, status: dict[str, Any], previous: dict[str, Any]
    ) -> None:
        # Only what changed, and an explicit null for what is no longer observed (a merge
        # patch keeps absent keys). No write at all when nothing changed.
        patch = {k: v for k, v in status.items() if previous.get(k) != v}
        patch.update({k: None for k in previous if k not in status})
        if not patch:
            state.last_status = status
            return
        meta = body["metadata"]
        if not self._writable(state):
            return
        error = self._patch_scaler(meta, "status", {"status": patch})
        if error is not None:
            # Nothing else to write it to: log, and retry the whole status next pass.
            log.warning("operator.status_failed", scaler=meta["name"], error=error)
            return
        state.last_status = status

    def _drop_legacy_finalizer(self, meta: dict[str, Any]) -> None:
        finalizers = list(meta.get("finalizers") or [])
        if LEGACY_FINALIZER not in finalizers:
            return
        index = finalizers.index(LEGACY_FINALIZER)
        path = f"/metadata/finalizers/{index}"
        error = self._patch_scaler(
            meta,
            "finalizers",
            [{"op": "test", "path": path, "value": LEGACY_FINALIZER}, {"op": "remove", "path": path}],
            _content_type="application/json-patch+json",
        )
        if error is None:
            log.info("operator.legacy_finalizer_removed", scaler=meta["name"])
        else:
            log.warning("operator.finalizer_removal_failed", scaler=meta["name"], error=error)

    def _patch_scaler(self, meta: dict[str, Any], what: str, body: Any, **options: Any) -> str | None:
        """Patch the QueueScaler's status (`what` "status") or the object itself ("finalizers"),
        counting the call; on failure, count the error and return it described."""
        API_CALLS.labels("kubernetes", f"patch-{what}").inc()
        if what == "status":
            patch = self.custom.patch_namespaced_custom_object_status
        else:
            patch = self.custom.patch_namespaced_custom_object
        try:
            patch(
                GROUP, VERSION, meta["namespace"], PLURAL, meta["name"], body, _request_timeout=self.timeout, **options
            )
        except KUBE_ERRORS as exc:
            ERRORS.labels(f"{meta['namespace']}/{meta['name']}", "kubernetes").inc()
            return describe_kube_error(exc)[:300]
        return None


def _pause_message(annotations: dict[str, str]) -> str:
    if PAUSED_REPLICAS_ANNOTATION in annotations:
        return f"{PAUSED_REPLICAS_ANNOTATION}={annotations[PAUSED_REPLICAS_ANNOTATION]}"
    return f"{PAUSED_ANNOTATION}=true"


def _paused_replicas(annotations: dict[str, str], current: int) -> tuple[int, str | None]:
    """The count a paused scaler holds: paused-replicas if set (KEDA), else the current one."""
    raw = annotations.get(PAUSED_REPLICAS_ANNOTATION)
    if raw is None:
        return current, None
    try:
        wanted = int(raw)
    except ValueError:
        wanted = -1
    if wanted < 0:
        return current, f"{PAUSED_REPLICAS_ANNOTATION} must be a whole number >= 0, not {raw!r}"
    return wanted, None


def _condition_reason(status: dict[str, Any], kind: str) -> str | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("reason"))
    return None


def _conditions(
    previous: list[dict[str, Any]], wanted: dict[str, Condition], generation: int | None, now: float
) -> list[dict[str, Any]]:
    """Conditions as the API conventions have them; lastTransitionTime moves only when the
    status does. `wanted` names the conditions this pass knows; the others keep theirs."""
    before = {c.get("type"): c for c in previous}
    out = []
    for kind, (state, reason, message) in wanted.items():
        old = before.pop(kind, None)
        same = old is not None and old.get("status") == state and old.get("lastTransitionTime")
        out.append(
            {
                "type": kind,
                "status": state,
                "observedGeneration": generation,
                "lastTransitionTime": old["lastTransitionTime"] if same and old else _iso(now),
                "reason": reason,
                "message": message,
            }
        )
    return out + list(before.values())
