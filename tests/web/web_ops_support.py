"""Helpers of the ops tests: gas-web under gunicorn as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from support import free_port

from gas.web.app import create_app
from gas.web.settings import WebSettings


def local_web_env(web_aws, moto_url: str, secret: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a gas-web with the local sign-in against the tests' moto server."""
    return {
        "GAS_ENV": "local",
        "GAS_LOCAL_SIGNIN": "true",
        "GAS_PREFIX": web_aws.settings.prefix,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "GAS_SECRET_KEY": secret,
        "GAS_RESULT_CACHE_DIR": str(workdir / "cache"),
        **extra,
    }


class GunicornWeb:
    """`gas-web` (serve.py -> gunicorn) with a public and an ops socket on loopback."""

    def __init__(self, env: dict[str, str], workdir: Path):
        self.port, self.ops_port = free_port(), free_port()
        self.url, self.ops_url = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.ops_port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "PROMETHEUS_", "AWS_"))}
        self.env = {
            **clean,
            "GAS_WEB_BIND": f"127.0.0.1:{self.port}",
            "GAS_WEB_OPS_BIND": f"127.0.0.1:{self.ops_port}",
            "GAS_WEB_WORKERS": "1",  # one process: one readiness state, deterministic
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
            **env,
        }
        (workdir / "prometheus").mkdir(parents=True, exist_ok=True)
        self.log = workdir / "gunicorn.log"
        gas_web = Path(sys.executable).parent / "gas-web"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([str(gas_web)], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        try:
            self._wait()
        except BaseException:
            self.stop()  # never leave a server behind when it did not come up
            raise

    def _wait(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gas-web exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.ops_url}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise TimeoutError(f"gas-web did not listen:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def local_gunicorn_web(web_aws, moto_url: str, secret: str, workdir: Path, **extra: str) -> Iterator[GunicornWeb]:
    """A GunicornWeb with the local sign-in (`local_web_env`), stopped on the way out."""
    server = GunicornWeb(local_web_env(web_aws, moto_url, secret, workdir, **extra), workdir)
    try:
        yield server
    finally:
        server.stop()


def anonymous_csrf(settings: WebSettings) -> tuple[str, str]:
    """(session cookie value, CSRF token) as the app itself issues them to a signed-out
    visitor (the same secret key as the server under test)."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    app = create_app(settings)
    with app.test_request_context("/"):
        token = generate_csrf()
        response = app.make_response("")
        app.session_interface.save_session(app, session, response)
    cookie = response.headers["Set-Cookie"].split(";", 1)[0]
    name, value = cookie.split("=", 1)
    assert name == app.config["SESSION_COOKIE_NAME"]
    return value, token
