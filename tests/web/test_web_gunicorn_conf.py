"""The gunicorn config module (imported in a child: it sets PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = (
    "import json, os, gas.web.gunicorn_conf as c; "
    "print(json.dumps({'bind': c.bind, 'workers': c.workers, "
    "'dir': os.environ['PROMETHEUS_MULTIPROC_DIR'], 'child_exit': callable(c.child_exit)}))"
)


def _load(env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "PROMETHEUS_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_bind_workers_and_metrics_dir_from_environment(tmp_path):
    conf = _load({"GAS_WEB_BIND": "127.0.0.1:9123", "GAS_WEB_WORKERS": "3", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert conf == {"bind": "127.0.0.1:9123", "workers": 3, "dir": str(tmp_path), "child_exit": True}


def test_defaults_create_a_metrics_dir():
    conf = _load({})
    assert conf["bind"] == "127.0.0.1:8080" and conf["workers"] == 2
    assert os.path.isdir(conf["dir"])
    os.rmdir(conf["dir"])
