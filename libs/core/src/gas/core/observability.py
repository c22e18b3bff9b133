"""structlog JSON logs on stdout and the Prometheus/health HTTP endpoint of workers."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


class _LineLogger:
    """One write (and flush) per line to the current sys.stdout. gunicorn's workers share
    one stdout: print()'s separate newline write let their lines interleave."""

    _lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            sys.stdout.write(message + "\n")
            sys.stdout.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = failure = err = msg


_LINE_LOGGER = _LineLogger()


def json_formatter() -> logging.Formatter:
    """Standard-library records (kopf, gunicorn, botocore, warnings) as the same JSON lines."""
    return structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
        ],
    )


def configure_logging(service: str, level: str = "INFO") -> structlog.stdlib.BoundLogger:
    """JSON lines on stdout; contextvars carry job_id / user_id / request_id."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    logging.basicConfig(handlers=[handler], level=level, force=True)
    logging.captureWarnings(True)  # e.g. urllib3's warnings: JSON too, not bare stderr text
    # boto's own DEBUG chatter would drown the service's lines.
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # "Found credentials in environment variables." would be a plain, non-JSON line.
    logging.getLogger("botocore.credentials").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=lambda *_: _LINE_LOGGER,
        cache_logger_on_first_use=True,
    )
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(service=service).bind(service=service)
    return logger


class _OpsHandler(BaseHTTPRequestHandler):
    ready: Callable[[], bool] = staticmethod(lambda: True)
    live: Callable[[], bool] = staticmethod(lambda: True)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/metrics":
            self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif self.path == "/healthz":
            ok = type(self).live()
            self._send(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n")
        elif self.path == "/readyz":
            ok = type(self).ready()
            self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
        else:
            self._send(404, b"not found\n")

    def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # probes every few seconds: keep logs clean
        pass


def serve_ops(host: str, port: int, live: Callable[[], bool], ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """/metrics, /healthz and /readyz for a worker, on a daemon thread."""
    handler = type("OpsHandler", (_OpsHandler,), {"live": staticmethod(live), "ready": staticmethod(ready)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ops-http", daemon=True).start()
    return server
