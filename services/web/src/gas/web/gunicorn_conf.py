"""gunicorn configuration: `gunicorn -c python:gas.web.gunicorn_conf 'gas.web.app:create_app()'`.

Sockets, workers, graceful timeout and trusted proxies come from GAS_WEB_BIND,
GAS_WEB_OPS_BIND, GAS_WEB_WORKERS, GAS_WEB_GRACEFUL_TIMEOUT and
GAS_WEB_FORWARDED_ALLOW_IPS. Prometheus runs in multiprocess mode: every worker writes
its samples under PROMETHEUS_MULTIPROC_DIR and /metrics adds them up, so a scrape sees
the whole server, not one random worker.
"""

from __future__ import annotations

import os
import shutil
import tempfile

# Must be set before prometheus_client is imported anywhere (it picks its value class
# at import time), i.e. here, before gunicorn loads the app in the workers.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gas-web-metrics-")
_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]

# The public socket (behind the Ingress) and, in a cluster, the ops socket (probes and
# /metrics, never routed by the Ingress): gas.web.ops tells them apart by port.
bind = [os.environ.get("GAS_WEB_BIND", "127.0.0.1:8080")]
if os.environ.get("GAS_WEB_OPS_BIND"):
    bind.append(os.environ["GAS_WEB_OPS_BIND"])
workers = int(os.environ.get("GAS_WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GAS_WEB_THREADS", "4"))
timeout = 60
# Seconds in-flight requests get after SIGTERM; the chart sets the pod's grace period to
# preStop sleep + this + a margin (web.shutdown in values).
graceful_timeout = int(os.environ.get("GAS_WEB_GRACEFUL_TIMEOUT", "25"))
keepalive = 5
accesslog = None  # the app logs every request as structlog JSON with its request id
errorlog = "-"
# Proxies whose X-Forwarded-Proto/-For gunicorn believes (comma-separated addresses or
# CIDR networks, "*" for any): behind an Ingress, its controller's pod network, so that
# request.is_secure is true and the HTTPS-only checks (CSRF Referer, Secure cookies) run.
forwarded_allow_ips = os.environ.get("GAS_WEB_FORWARDED_ALLOW_IPS") or os.environ.get(
    "FORWARDED_ALLOW_IPS", "127.0.0.1,::1"
)
# gunicorn 27's runtime control socket (one fixed path per user) is not used here, and
# two servers on one machine (local stack + tests) would fight over it.
control_socket_disable = True

# gunicorn's own lines (start, worker boot/exit) rendered like the app's (JSON, or console at a terminal).
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "lines": {"()": "gas.core.observability.stdlib_formatter"},
    },
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "lines", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        # The app's http.request line (with request id and user id) is the access log.
        "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}


def on_starting(server: object) -> None:
    # Samples of a previous run's dead workers would otherwise be summed in forever.
    if os.path.isdir(_METRICS_DIR):
        for entry in os.listdir(_METRICS_DIR):
            path = os.path.join(_METRICS_DIR, entry)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    os.makedirs(_METRICS_DIR, exist_ok=True)


def post_worker_init(worker: object) -> None:
    from gas.web.app import warm_up

    warm_up(worker.wsgi)  # type: ignore[attr-defined]


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def when_ready(server: object) -> None:
    """Refuse to serve when a listening socket breaks the configuration's rules (the local
    sign-in on a non-loopback address, however the bind was given)."""
    from gas.core.config import load_settings, refuse
    from gas.web.settings import WebSettings, listener_problem

    hosts = []
    for listener in server.LISTENERS:  # type: ignore[attr-defined]
        address = listener.sock.getsockname()
        hosts.append(address[0] if isinstance(address, tuple) else f"unix:{address}")
    problem = listener_problem(load_settings(WebSettings), hosts)
    if problem:
        refuse(problem)  # before any worker is spawned: the arbiter exits with it
