"""kopf wiring: one daemon per QueueScaler runs the reconcile pass every
pollingIntervalSeconds. Peering (kopf's KopfPeering) keeps two operator replicas from
fighting: only the highest-priority one is active."""

from __future__ import annotations

import functools
import os
import time
from typing import Any

import boto3
import kopf
from botocore.config import Config
from kubernetes import client, config
from prometheus_client import start_http_server

from gas.core.observability import configure_logging
from gas.operator.reconcile import FINALIZER, GROUP, PLURAL, VERSION, Reconciler, ScalerState

_reconciler: Reconciler | None = None


@functools.cache
def _sqs(region: str | None, endpoint: str | None) -> Any:
    return boto3.client(
        "sqs",
        region_name=region or os.environ.get("AWS_REGION", "us-east-1"),
        endpoint_url=endpoint or os.environ.get("AWS_ENDPOINT_URL") or None,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=5),
    )


def _post_event(body: dict[str, Any], reason: str, message: str) -> None:
    # kopf.event, not kopf.info: info obeys posting.level, which mutes kopf's own chatter.
    kopf.event(body, type="Normal", reason=reason, message=message)


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _reconciler
    configure_logging("operator", os.environ.get("GAS_LOG_LEVEL", "INFO"))
    settings.posting.level = 30  # kopf's own events: warnings and above only
    settings.persistence.finalizer = FINALIZER
    # No cluster-wide CRD scanning: the operator's RBAC stays namespaced.
    settings.scanning.disabled = True
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    _reconciler = Reconciler(client.AppsV1Api(), client.CustomObjectsApi(), _sqs, _post_event)
    port = int(os.environ.get("GAS_METRICS_PORT", "9100"))
    if port:
        start_http_server(port, addr=os.environ.get("GAS_METRICS_HOST", "0.0.0.0"))


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
def scale_to_queue(body: kopf.Body, stopped: kopf.DaemonStopped, logger: Any, **_: Any) -> None:
    assert _reconciler is not None
    # Let peering settle first: replicas starting together each begin with an empty view of
    # their peers; after a keepalive round they see each other and all but one pause (which
    # stops this daemon before it acts).
    if stopped.wait(float(os.environ.get("GAS_PEERING_GRACE_SECONDS", "3"))):
        return
    state = ScalerState.resumed(dict(body.get("status") or {}), time.time())
    while not stopped:
        live = {"metadata": dict(body.metadata), "spec": dict(body.spec), "status": dict(body.get("status") or {})}
        try:
            _reconciler.run_once(live, state)
        except Exception as exc:  # noqa: BLE001 - a pass that fails is retried next interval
            logger.warning(f"reconcile failed: {exc!r}")
        stopped.wait(float(body.spec.get("pollingIntervalSeconds", 30)))
