"""A worker keeps its own pod's deletion cost current, so a scale-down removes idle pods first.

A hook of the worker loop (gas.core.worker.WorkerHook): the services pass
``worker_hooks(settings, queue)`` to their QueueWorker.

When a ReplicaSet scales down it deletes the pods with the lowest
``controller.kubernetes.io/pod-deletion-cost`` first. Each worker sets the annotation on
its own pod: BUSY_COST when it takes a message after being idle, IDLE_COST when a poll
finds its queue empty — two API calls per burst of work, none per message.

The pod's token may do nothing else: the chart grants its ServiceAccount `pods` patch and
fences it with a ValidatingAdmissionPolicy that admits only a change of this one annotation
on the pod named in the token's own binding (docs/operator.md, "Deletion cost").

A failed update never stops the worker (a pod keeps its last cost; a missing annotation
counts as 0): it is logged once per streak, counted, and not retried for BACKOFF_SECONDS.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

import structlog
from prometheus_client import Counter, Gauge

from gas.core.config import WorkerSettings, refuse

log = structlog.get_logger()

ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
BUSY_COST = 1000
IDLE_COST = 0
BACKOFF_SECONDS = 30.0
TIMEOUT_SECONDS = 3.0

COST = Gauge("gas_worker_pod_deletion_cost", "The deletion cost this worker last set on its pod", ["queue"])
UPDATES = Counter(
    "gas_worker_pod_deletion_cost_updates_total", "Updates of the pod's deletion cost, by outcome", ["queue", "outcome"]
)


def worker_hooks(settings: WorkerSettings, queue: str) -> list[DeletionCost]:
    """The worker hooks this process's settings ask for: the pod's deletion cost, or none.
    Called before the worker starts, so a half-configured pod refuses to start (exit 2)."""
    cost = DeletionCost.from_settings(settings, queue)
    return [cost] if cost else []


class DeletionCost:
    def __init__(self, queue: str, api_url: str, namespace: str, pod: str, service_account_dir: Path):
        self.queue = queue
        self.url = f"{api_url.rstrip('/')}/api/v1/namespaces/{namespace}/pods/{pod}"
        self._token_file = service_account_dir / "token"
        self._tls = ssl.create_default_context(cafile=str(service_account_dir / "ca.crt"))
        self._current: int | None = None
        self._retry_at = 0.0
        self._failing = False
        for outcome in ("ok", "error"):
            UPDATES.labels(queue, outcome)

    @classmethod
    def from_settings(cls, settings: WorkerSettings, queue: str) -> DeletionCost | None:
        """None unless enabled; a half-configured pod refuses to start (exit 2)."""
        if not settings.pod_deletion_cost:
            return None
        api_url = settings.kubernetes_api_url
        if not api_url:
            host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
            if not (host and port):
                refuse("GAS_POD_DELETION_COST needs KUBERNETES_SERVICE_HOST/PORT or GAS_KUBERNETES_API_URL")
            api_url = f"https://{f'[{host}]' if ':' in host else host}:{port}"
        if not (settings.pod_name and settings.pod_namespace):
            refuse("GAS_POD_DELETION_COST needs GAS_POD_NAME and GAS_POD_NAMESPACE (the downward API)")
        account = Path(settings.service_account_dir)
        if not ((account / "token").is_file() and (account / "ca.crt").is_file()):
            refuse(f"GAS_POD_DELETION_COST needs the pod's service account token and ca.crt in {account}")
        return cls(queue, api_url, settings.pod_namespace, settings.pod_name, account)

    def busy(self) -> None:
        self._set(BUSY_COST)

    def idle(self) -> None:
        self._set(IDLE_COST)

    def _set(self, cost: int) -> None:
        if cost == self._current or time.monotonic() < self._retry_at:
            return
        body = json.dumps({"metadata": {"annotations": {ANNOTATION: str(cost)}}}).encode()
        request = urllib.request.Request(self.url, data=body, method="PATCH")
        request.add_header("Content-Type", "application/merge-patch+json")
        # Read each time: the kubelet rotates the projected token.
        request.add_header("Authorization", f"Bearer {self._token_file.read_text().strip()}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=self._tls):
                pass
        except (urllib.error.URLError, OSError) as exc:
            UPDATES.labels(self.queue, "error").inc()
            self._retry_at = time.monotonic() + BACKOFF_SECONDS
            if not self._failing:
                log.warning("worker.deletion_cost_failed", queue=self.queue, cost=cost, error=_describe(exc))
            self._failing = True
            return
        UPDATES.labels(self.queue, "ok").inc()
        COST.labels(self.queue).set(cost)
        if self._failing:
            log.info("worker.deletion_cost_recovered", queue=self.queue)
        self._current, self._failing = cost, False


def _describe(exc: Exception) -> str:
    """The API server's own reason (an admission denial names the policy), else the error."""
    if isinstance(exc, urllib.error.HTTPError):
        try:
            return f"HTTP {exc.code}: {json.loads(exc.read()).get('message', '')}"[:500]
        except (ValueError, OSError):
            return f"HTTP {exc.code}"
    return str(exc)
