"""The gunicorn config module (imported in a child: it sets PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = (
    "import json, os, gas.web.gunicorn_conf as c; "
    "print(json.dumps({'bind': c.bind, 'workers': c.workers, 'graceful_timeout': c.graceful_timeout, "
    "'forwarded_allow_ips': c.forwarded_allow_ips, "
    "'dir': os.environ['PROMETHEUS_MULTIPROC_DIR'], 'child_exit': callable(c.child_exit)}))"
)


def _load(env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "PROMETHEUS_", "FORWARDED_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_sockets_workers_proxies_and_metrics_dir_from_environment(tmp_path):
    conf = _load(
        {
            "GAS_WEB_BIND": "127.0.0.1:9123",
            "GAS_WEB_OPS_BIND": "127.0.0.1:9124",
            "GAS_WEB_WORKERS": "3",
            "GAS_WEB_GRACEFUL_TIMEOUT": "40",
            "GAS_WEB_FORWARDED_ALLOW_IPS": "10.0.0.0/8,192.168.0.0/16",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        }
    )
    assert conf == {
        "bind": ["127.0.0.1:9123", "127.0.0.1:9124"],  # public socket, then the ops socket
        "workers": 3,
        "graceful_timeout": 40,
        "forwarded_allow_ips": "10.0.0.0/8,192.168.0.0/16",
        "dir": str(tmp_path),
        "child_exit": True,
    }


def test_defaults_one_socket_loopback_proxy_and_a_metrics_dir():
    conf = _load({})
    assert conf["bind"] == ["127.0.0.1:8080"] and conf["workers"] == 2 and conf["graceful_timeout"] == 25
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert os.path.isdir(conf["dir"])
    os.rmdir(conf["dir"])
