"""Logs on stdout (structlog: JSON lines, or readable lines for a person at a terminal)
and the Prometheus/health HTTP endpoint of workers."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, MutableMapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from structlog.typing import Processor

LOG_FORMATS = ("console", "json")


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


def log_format(stream: TextIO | None = None, local: bool | None = None) -> str:
    """The renderer, "console" or "json", for the lines written to `stream` (stdout by default).

    GAS_LOG_FORMAT=console|json decides when set. Otherwise ("auto") the local stack
    (GAS_ENV=local, or `local=True`) writing to a terminal gets readable lines, and
    everything else JSON: containers, files, pipes, tests, whatever reads them next.
    """
    chosen = os.environ.get("GAS_LOG_FORMAT", "").strip().lower()
    if chosen in LOG_FORMATS:
        return chosen
    if chosen not in ("", "auto"):
        raise SystemExit(f"configuration error: GAS_LOG_FORMAT must be console, json or auto, not {chosen!r}")
    if local is None:
        local = os.environ.get("GAS_ENV") == "local"
    stream = stream if stream is not None else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream is no terminal
        terminal = False
    return "console" if local and terminal else "json"


# Prefix colours, given out in order of first appearance (as foreman/compose do).
_PREFIX_COLOURS = ("\x1b[36m", "\x1b[33m", "\x1b[35m", "\x1b[32m", "\x1b[34m", "\x1b[96m", "\x1b[93m", "\x1b[95m")
_RESET = "\x1b[0m"
PREFIX_WIDTH = 16  # "archiver-restore"


def _clock(timestamp: str) -> str:
    """An ISO timestamp as this machine's wall-clock time: the date is noise at a terminal."""
    try:
        return datetime.fromisoformat(timestamp).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return timestamp


class ConsoleLines:
    """structlog's ConsoleRenderer (level, padded event, sorted keys; colour unless
    NO_COLOR) behind the process name as a prefix, `web  | 12:00:01 [info ] ...`.
    One event is one string, so it is still one write."""

    def __init__(self, colors: bool | None = None):
        self._colors = not os.environ.get("NO_COLOR") if colors is None else colors
        self._inner = structlog.dev.ConsoleRenderer(colors=self._colors, pad_event_to=28)
        self._colour_of: dict[str, str] = {}

    def prefix(self, name: str) -> str:
        padded = f"{name:<{PREFIX_WIDTH}} |"
        if not self._colors:
            return padded
        colour = self._colour_of.setdefault(name, _PREFIX_COLOURS[len(self._colour_of) % len(_PREFIX_COLOURS)])
        return colour + padded + _RESET

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
        fields = dict(event_dict)
        name = str(fields.pop("service", None) or fields.pop("logger", None) or "")
        if fields.get("logger") == "gunicorn.error":  # gunicorn's general log, not errors
            del fields["logger"]
        if isinstance(fields.get("timestamp"), str):
            fields["timestamp"] = _clock(fields["timestamp"])
        return f"{self.prefix(name)} {self._inner(logger, method_name, fields)}"


def _renderer(fmt: str) -> Processor:
    return ConsoleLines() if fmt == "console" else structlog.processors.JSONRenderer()


def stdlib_formatter(fmt: str | None = None) -> logging.Formatter:
    """Standard-library records (kopf, gunicorn, botocore, warnings) rendered like the
    service's own lines (`fmt` as log_format() chooses by default)."""
    return structlog.stdlib.ProcessorFormatter(
        processor=_renderer(fmt or log_format()),
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
        ],
    )


def configure_logging(service: str, level: str = "INFO") -> structlog.stdlib.BoundLogger:
    """Lines on stdout as log_format() chooses; contextvars carry job_id / user_id / request_id."""
    fmt = log_format()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(stdlib_formatter(fmt))
    logging.basicConfig(handlers=[handler], level=level, force=True)
    logging.captureWarnings(True)  # e.g. urllib3's warnings: rendered too, not bare stderr text
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
            _renderer(fmt),
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
