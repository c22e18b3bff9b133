"""Leader election on a coordination.k8s.io Lease, as client-go does it: one replica holds
the Lease and runs the scaler loops; the others watch it expire.

The leader renews every `renew` seconds and considers itself leader only until
`lease - renew` seconds after the start of its last successful renewal: a replica that
was frozen (SIGSTOP, a long GC pause, a partition) knows it is no longer leader before it
writes anything, because nobody else can take over before `lease` seconds have passed
without a change of the record. Expiry is judged on the local monotonic clock from when
the record last changed, never by comparing wall clocks across machines. A leader that
stops cleanly hands the Lease back (holder cleared) so a standby takes over at its next
attempt. The Lease object comes with the chart: the operator needs no right to create one.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from kubernetes.client.exceptions import ApiException

from gas.operator.metrics import API_CALLS, LEADER, LEASE_ERRORS

log = structlog.get_logger()


def _micro_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(
        self,
        coordination_api: Any,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: float,
        renew_seconds: float,
        request_timeout: float,
        on_change: Callable[[bool], None],
    ):
        self.api, self.namespace, self.name, self.identity = coordination_api, namespace, name, identity
        self.lease_seconds, self.renew_seconds, self.timeout = lease_seconds, renew_seconds, request_timeout
        self.on_change = on_change
        self._renewed_at: float | None = None  # monotonic start of the last successful renewal
        self._observed: tuple[Any, ...] | None = None  # (holder, renewTime) as last read
        self._observed_at = 0.0
        self._last_attempt = time.monotonic()
        self._leading = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    # -- what the rest of the operator asks ----------------------------------------------
    def is_leader(self) -> bool:
        renewed = self._renewed_at
        return renewed is not None and time.monotonic() - renewed < self.lease_seconds - self.renew_seconds

    def alive(self) -> bool:
        """False when the election loop itself is stuck (every call has a timeout)."""
        budget = self.renew_seconds + 3 * self.timeout + 5
        return self._thread.is_alive() and time.monotonic() - self._last_attempt < budget

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.timeout + self.renew_seconds + 1)

    # -- the loop -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._last_attempt = time.monotonic()
            try:
                self._try_acquire_or_renew()
            except Exception as exc:  # noqa: BLE001 - API down, timeout, RBAC: retried next period
                LEASE_ERRORS.inc()
                log.warning("operator.lease_failed", lease=self.name, error=str(exc)[:300])
            self._publish()
            self._stop.wait(self.renew_seconds)
        # Stop acting first (the scaler loops stop before anyone else may start), then hand back.
        was_leader = self.is_leader()
        self._renewed_at = None
        self._publish()
        if was_leader:
            self._release()

    def _publish(self) -> None:
        leading = self.is_leader()
        LEADER.set(1 if leading else 0)
        if leading != self._leading:
            self._leading = leading
            log.info("operator.leadership", leader=leading, identity=self.identity, lease=self.name)
            self.on_change(leading)

    def _read(self) -> dict[str, Any]:
        API_CALLS.labels("kubernetes", "get-lease").inc()
        resp = self.api.read_namespaced_lease(
            self.name, self.namespace, _request_timeout=self.timeout, _preload_content=False
        )
        lease: dict[str, Any] = json.loads(resp.data)
        return lease

    def _write(self, lease: dict[str, Any]) -> None:
        API_CALLS.labels("kubernetes", "update-lease").inc()
        # resourceVersion in the body: the API server refuses it (409) if anyone wrote since.
        self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=self.timeout)

    def _try_acquire_or_renew(self) -> None:
        started = time.monotonic()
        lease = self._read()
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed:
            self._observed, self._observed_at = record, started
        if holder and holder != self.identity:
            duration = float(spec.get("leaseDurationSeconds") or self.lease_seconds)
            if started - self._observed_at < duration:
                self._renewed_at = None  # someone else holds a live lease
                return
        now = time.time()
        if holder != self.identity:
            spec["acquireTime"] = _micro_time(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=math.ceil(self.lease_seconds),
            renewTime=_micro_time(now),
        )
        try:
            self._write(lease)
        except ApiException as exc:
            if exc.status == 409:  # another replica won this round
                self._renewed_at = None
                return
            raise
        self._renewed_at = started
        self._observed, self._observed_at = (self.identity, spec["renewTime"], spec["leaseDurationSeconds"]), started

    def _release(self) -> None:
        """Hand the Lease back on a clean stop, so a standby need not wait for it to expire."""
        try:
            lease = self._read()
            spec = lease.setdefault("spec", {})
            if spec.get("holderIdentity") == self.identity:
                spec.update(holderIdentity=None, leaseDurationSeconds=1, renewTime=_micro_time(time.time()))
                self._write(lease)
                log.info("operator.lease_released", lease=self.name, identity=self.identity)
        except Exception as exc:  # noqa: BLE001 - it expires on its own
            LEASE_ERRORS.inc()
            log.warning("operator.lease_release_failed", lease=self.name, error=str(exc)[:300])
