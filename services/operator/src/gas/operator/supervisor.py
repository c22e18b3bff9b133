"""The scaler loops: one thread per QueueScaler while this replica leads, fed the latest
object from kopf's watch. No kopf daemon, so no finalizer on the QueueScalers: a loop
is stopped when the watch reports the object gone, and nothing blocks the deletion.

Also: which scalers fight over a Deployment (a later QueueScaler or any
HorizontalPodAutoscaler on the same target; an HPA of the scaler's own GAS release is a
planned stand-down, not a fight), and whether every loop is moving
(/healthz fails when a pass outlives every timeout it could hit)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from gas.operator.metrics import ERRORS, LOOP_LAG, forget
from gas.operator.reconcile import Conflict, ScalerState
from gas.operator.scaling import Decision

log = structlog.get_logger()


class Pass(Protocol):
    def run_once(
        self, body: dict[str, Any], state: ScalerState, conflict: Conflict | None = None, now: float | None = None
    ) -> Decision | None: ...


@dataclass(frozen=True)
class HpaRef:
    namespace: str
    name: str
    target: str  # the Deployment it scales
    release: str | None = None  # the GAS release that rendered it (its labels), if one did


# Labels every object a GAS release renders carries; KEDA copies a ScaledObject's labels
# onto the HPA it makes, so they name the release there too.
PART_OF, INSTANCE = "app.kubernetes.io/part-of", "app.kubernetes.io/instance"


def gas_release(labels: dict[str, str] | None) -> str | None:
    """The GAS release an object's labels say rendered it, or None."""
    labels = labels or {}
    return labels.get(INSTANCE) if labels.get(PART_OF) == "gas" else None


def _target(body: dict[str, Any]) -> tuple[str, str]:
    return body["metadata"]["namespace"], body["spec"]["scaleTargetRef"]["name"]


def _drives(body: dict[str, Any]) -> tuple[Any, ...]:
    """What a change of wakes the loop: the spec and the annotations (pause), not status."""
    meta = body["metadata"]
    return meta.get("generation"), meta.get("annotations") or {}


class _Loop:
    def __init__(self, supervisor: Supervisor, uid: str, label: str):
        self.supervisor, self.uid, self.label = supervisor, uid, label
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.pass_started: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"scaler {label}", daemon=True)

    def _run(self) -> None:
        state = ScalerState(cancelled=self.stopping)
        due = time.monotonic()
        while not self.stopping.is_set():
            body = self.supervisor.body(self.uid)
            if body is None:
                return
            self.pass_started = time.monotonic()
            LOOP_LAG.labels(self.label).set(max(0.0, self.pass_started - due))
            try:
                self.supervisor.reconciler.run_once(body, state, self.supervisor.conflict(self.uid))
            except Exception as exc:  # noqa: BLE001 - a bug in one pass must not end the loop
                ERRORS.labels(self.label, "unexpected").inc()
                log.exception("operator.pass_crashed", scaler=self.label, error=repr(exc))
            finally:
                self.pass_started = None
            interval = float(body["spec"].get("pollingIntervalSeconds", 30))
            due = time.monotonic() + interval
            # A changed spec or pause annotation sets `wake`: it applies now, not after the interval.
            if self.wake.wait(interval):
                self.wake.clear()
                due = time.monotonic()


class Supervisor:
    def __init__(self, reconciler: Pass, pass_budget_seconds: float, is_leader: Callable[[], bool]):
        self.reconciler = reconciler
        self.pass_budget = pass_budget_seconds
        self.is_leader = is_leader
        self._lock = threading.Lock()
        self._bodies: dict[str, dict[str, Any]] = {}
        self._hpas: dict[str, HpaRef] = {}
        self._loops: dict[str, _Loop] = {}
        self._leading = False
        # Until kopf has listed every QueueScaler and HPA, a first pass could miss a rival.
        self._synced = False
        self._stopped: list[_Loop] = []

    # -- what kopf's watches report ---------------------------------------------------------
    def scaler_seen(self, body: dict[str, Any]) -> None:
        uid = body["metadata"]["uid"]
        with self._lock:
            before = self._bodies.get(uid)
            self._bodies[uid] = body
            loop = self._loops.get(uid)
            if loop is None and self._leading and self._synced:
                self._start(uid, body)
            elif loop is not None and before is not None and _drives(before) != _drives(body):
                loop.wake.set()

    def scaler_gone(self, uid: str) -> None:
        with self._lock:
            body = self._bodies.pop(uid, None)
            loop = self._loops.pop(uid, None)
        if loop is not None:
            loop.stopping.set()
            loop.wake.set()
            loop.thread.join(self.pass_budget)
        if body is not None:
            forget(f"{body['metadata']['namespace']}/{body['metadata']['name']}")
            self._wake_rivals(body)

    def hpa_seen(self, uid: str, hpa: HpaRef | None) -> None:
        """An HPA added, changed (hpa) or deleted (None)."""
        with self._lock:
            before = self._hpas.pop(uid, None)
            if hpa is not None:
                self._hpas[uid] = hpa
            touched = {(h.namespace, h.target) for h in (before, hpa) if h is not None}
            for loop_uid, body in self._bodies.items():
                if _target(body) in touched and loop_uid in self._loops:
                    self._loops[loop_uid].wake.set()

    def mark_synced(self) -> None:
        """kopf has listed every watched object once: loops may start."""
        with self._lock:
            if self._synced:
                return
            self._synced = True
        self.set_leader(self._leading)

    # -- leadership -------------------------------------------------------------------------
    def set_leader(self, leading: bool) -> None:
        with self._lock:
            self._leading = leading
            if leading:
                if self._synced:
                    for uid, body in self._bodies.items():
                        if uid not in self._loops:
                            self._start(uid, body)
                return
            loops, self._loops = list(self._loops.values()), {}
        # Not joined here: the elector calls this and must keep its own schedule. A pass in
        # progress writes nothing more (every write asks is_leader first).
        for loop in loops:
            loop.stopping.set()
            loop.wake.set()
        self._stopped = [loop for loop in self._stopped if loop.thread.is_alive()] + loops

    def stop(self) -> None:
        self.set_leader(False)
        for loop in self._stopped:
            loop.thread.join(self.pass_budget)
        self._stopped.clear()

    # -- what a loop asks -------------------------------------------------------------------
    def body(self, uid: str) -> dict[str, Any] | None:
        with self._lock:
            return self._bodies.get(uid)

    def conflict(self, uid: str) -> Conflict | None:
        """Why this scaler must not act, if another controller already scales its target:
        any HPA (the operator cannot make it stand down; planned when the scaler's own GAS
        release rendered it), or a QueueScaler created earlier."""
        with self._lock:
            body = self._bodies.get(uid)
            if body is None:
                return None
            namespace, target = _target(body)
            release = gas_release(body["metadata"].get("labels"))
            for hpa in self._hpas.values():
                if (hpa.namespace, hpa.target) == (namespace, target):
                    planned = release is not None and hpa.release == release
                    owner = f"release {release}'s " if planned else ""
                    return Conflict(
                        f"{owner}HorizontalPodAutoscaler {hpa.name} also scales Deployment {target}", planned
                    )

            def age(b: dict[str, Any]) -> tuple[str, str]:
                return str(b["metadata"].get("creationTimestamp") or ""), b["metadata"]["name"]

            rivals = sorted(
                (b for u, b in self._bodies.items() if u != uid and _target(b) == (namespace, target)), key=age
            )
            if rivals and age(rivals[0]) < age(body):
                return Conflict(f"QueueScaler {rivals[0]['metadata']['name']} already scales Deployment {target}")
            return None

    def alive(self) -> bool:
        """False when a pass has run longer than every timeout it could hit, or a loop died."""
        now = time.monotonic()
        with self._lock:
            loops = list(self._loops.values())
        for loop in loops:
            started = loop.pass_started
            if started is not None and now - started > self.pass_budget:
                log.error("operator.loop_stalled", scaler=loop.label, seconds=round(now - started))
                return False
            if not loop.thread.is_alive() and not loop.stopping.is_set():
                log.error("operator.loop_died", scaler=loop.label)
                return False
        return True

    # -- internals --------------------------------------------------------------------------
    def _start(self, uid: str, body: dict[str, Any]) -> None:
        label = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
        loop = self._loops[uid] = _Loop(self, uid, label)
        loop.thread.start()

    def _wake_rivals(self, gone: dict[str, Any]) -> None:
        """A deleted scaler frees its target: the next in line acts now."""
        with self._lock:
            for uid, body in self._bodies.items():
                if _target(body) == _target(gone) and uid in self._loops:
                    self._loops[uid].wake.set()
