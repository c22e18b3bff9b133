"""The password-less local sign-in is served only from loopback sockets, checked on the
sockets gunicorn really listens on (not on GAS_WEB_BIND): `gas-web --bind ...` and
GUNICORN_CMD_ARGS cannot expose it.

The refused listener here is a unix socket (loopback cannot be proven for it, exactly
like 0.0.0.0), so the test never listens on a network address."""

from __future__ import annotations

import os
import subprocess

import pytest
from support import BIN, free_port, wait_http
from web_support import PUBLIC_URL

from gas.web.settings import WebSettings, listener_problem

SECRET = "listener-test-secret-" + "k" * 32


def _env(moto_url: str, port: int, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "PROMETHEUS_", "GUNICORN_"))}
    return {
        **clean,
        "GAS_ENV": "local",
        "GAS_LOCAL_SIGNIN": "true",
        "GAS_SECRET_KEY": SECRET,
        "GAS_WEB_BIND": f"127.0.0.1:{port}",
        "GAS_PUBLIC_URL": PUBLIC_URL,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        **extra,
    }


@pytest.mark.parametrize("how", ["argument", "GUNICORN_CMD_ARGS"])
def test_local_signin_on_a_socket_that_is_not_loopback_is_refused(moto_url, tmp_path, how):
    sock = tmp_path / "web.sock"
    port = free_port()
    extra = {"GUNICORN_CMD_ARGS": f"--bind unix:{sock}"} if how == "GUNICORN_CMD_ARGS" else {}
    args = [str(BIN / "gas-web")] + (["--bind", f"unix:{sock}"] if how == "argument" else [])
    proc = subprocess.run(args, env=_env(moto_url, port, **extra), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "GAS_LOCAL_SIGNIN=true is refused on unix:" in proc.stdout + proc.stderr


def test_loopback_listeners_serve(moto_url, tmp_path):
    port = free_port()
    proc = subprocess.Popen([str(BIN / "gas-web")], env=_env(moto_url, port), stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "192.168.0.7", "unix:/run/web.sock", "gas.example"])
def test_every_address_that_is_not_loopback_is_a_problem(host):
    settings = WebSettings(secret_key=SECRET, env="local", local_signin=True)
    assert listener_problem(settings, ["127.0.0.1", host])
    assert listener_problem(settings, ["127.0.0.1", "::1", "127.0.0.2"]) is None
    assert listener_problem(settings.model_copy(update={"local_signin": False}), [host]) is None
