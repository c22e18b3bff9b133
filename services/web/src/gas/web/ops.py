"""/healthz, /readyz, /metrics and the per-request metrics, request id and access log."""

from __future__ import annotations

import os
import re
import time
import uuid
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Flask, Response, g, request, session
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

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


@bp.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
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
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ok else "not ready", "checks": checks}, 200 if ok else 503


@bp.get("/metrics")
def metrics() -> Any:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Under gunicorn every worker writes its own files; add them all up.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def install_request_hooks(app: Flask) -> None:
    """Request id in, request id out; user id bound; metrics and one access log line."""

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
