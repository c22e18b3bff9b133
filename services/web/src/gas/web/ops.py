"""/healthz, /readyz, /metrics on the ops port; per-request metrics, request id, access log; HSTS.

In a cluster gunicorn listens on two sockets: the public one (GAS_WEB_BIND, behind the
Ingress) and the ops one (GAS_WEB_OPS_BIND: probes and Prometheus, never routed by the
Ingress). Requests are told apart by the listening socket's port (gunicorn's SERVER_PORT
comes from the socket, not from the Host header): ops paths answer 404 on the public port
and everything else 404 on the ops port. Without GAS_WEB_OPS_BIND (the laptop stack, the
in-process tests) one port serves both.

/readyz checks DynamoDB and S3, but a short AWS hiccup must not take every pod out of the
Service at once: a check result is reused for GAS_READYZ_CACHE_SECONDS (probes and
scrapes of all pods do not hammer AWS), and a pod that passed once stays ready while its
checks fail for up to GAS_READYZ_GRACE_SECONDS. A pod that never passed is not ready.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Flask, Response, abort, current_app, g, request, session
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gas.core.config import load_settings
from gas.web.context import services

bp = Blueprint("ops", __name__)
log = structlog.get_logger()

# Labelled by route template (/annotations/<job_id>), never the raw path: bounded cardinality.
REQUESTS = Counter("gas_web_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"])
LATENCY = Histogram(
    "gas_web_request_duration_seconds",
    "HTTP request latency by route and method",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
OPS_ENDPOINTS = frozenset({"ops.healthz", "ops.readyz", "ops.metrics"})
# Browsers remember for a year to use HTTPS only (GAS_ENV=production is always behind TLS).
HSTS = "max-age=31536000; includeSubDomains"


class OpsSettings(BaseSettings):
    """The web process's ops port and probe settings (env prefix GAS_)."""

    model_config = SettingsConfigDict(env_prefix="GAS_", extra="ignore", frozen=True)

    # host:port of the ops listener; empty: ops endpoints on the public port.
    web_ops_bind: str = Field("", pattern=r"^$|^\S+:[0-9]{1,5}$")
    readyz_cache_seconds: float = Field(5.0, ge=0, le=300)
    readyz_grace_seconds: float = Field(60.0, ge=0, le=3600)

    @property
    def ops_port(self) -> str | None:
        return self.web_ops_bind.rsplit(":", 1)[1] if self.web_ops_bind else None


@dataclass
class Readiness:
    """The dependency check of one process: cached, and tolerant of short failures."""

    check: Callable[[], dict[str, str]]
    cache_seconds: float
    grace_seconds: float
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _checked_at: float | None = None
    _checks: dict[str, str] = field(default_factory=dict)
    _last_ok: float | None = None

    def status(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:  # one check at a time; concurrent probes share its result
            now = self.clock()
            if self._checked_at is None or now - self._checked_at >= self.cache_seconds:
                self._checks = self.check()
                self._checked_at = now
                if all(v == "ok" for v in self._checks.values()):
                    self._last_ok = now
            passing = self._last_ok == self._checked_at
            ready = self._last_ok is not None and now - self._last_ok <= self.grace_seconds
            body: dict[str, Any] = {
                "status": "ready" if ready else "not ready",
                "checks": dict(self._checks),
                "checked_seconds_ago": round(now - self._checked_at, 1),
            }
            if not passing and self._last_ok is not None:
                body["failing_for_seconds"] = round(now - self._last_ok, 1)
            return ready, body


def _check_dependencies() -> dict[str, str]:
    svc = services()
    checks: dict[str, str] = {}
    probes = {
        "dynamodb": lambda: svc.aws.probe_client("dynamodb").describe_table(TableName=svc.aws.names.jobs_table),
        "s3": lambda: svc.aws.probe_client("s3").head_bucket(Bucket=svc.aws.names.inputs_bucket),
    }
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except (BotoCoreError, ClientError) as exc:
            checks[name] = type(exc).__name__
            log.warning("readyz.failed", check=name, error=str(exc))
    return checks


@bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    ready, body = current_app.extensions["gas_readiness"].status()
    return body, 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Any:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Under gunicorn every worker writes its own files; add them all up.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def install_request_hooks(app: Flask, ops: OpsSettings | None = None) -> None:
    """Ops port split; request id in, request id out; user id bound; metrics and one access
    log line; HSTS in production."""
    ops = ops or load_settings(OpsSettings)
    app.extensions["gas_readiness"] = Readiness(_check_dependencies, ops.readyz_cache_seconds, ops.readyz_grace_seconds)
    production = app.extensions["gas"].settings.env == "production"

    @app.before_request
    def _ports() -> None:
        if ops.ops_port is None:
            return
        on_ops_port = request.environ.get("SERVER_PORT") == ops.ops_port
        if on_ops_port != (request.endpoint in OPS_ENDPOINTS):
            abort(404)  # ops endpoints only on the ops port, the site only on the public one

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)
        if session.get("user_id"):
            structlog.contextvars.bind_contextvars(user_id=session["user_id"])

    @app.after_request
    def _finish(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        LATENCY.labels(route, request.method).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if route not in ("/healthz", "/readyz", "/metrics"):  # probes every few seconds
            log.info(
                "http.request",
                method=request.method,
                route=route,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 1),
            )
        return response

    @app.teardown_request
    def _clear(_exc: BaseException | None) -> None:
        structlog.contextvars.clear_contextvars()
