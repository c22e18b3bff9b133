"""Starting, waiting for and stopping GAS's processes on this machine: the one way the
local stack (`make run`), the tests and the benchmarks run moto server, gunicorn and the
workers as real processes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

# The virtualenv's scripts: moto_server, gas-web, gas-annotator, ...
BIN = Path(sys.executable).parent


# Every port free_port() has handed out in this process.
_GIVEN: set[int] = set()
_GIVEN_LOCK = threading.Lock()


def free_port() -> int:
    """A loopback port free now, never one this process was given before: ports chosen
    together (a stack's web and its workers' metrics ports) are bound later, and the kernel
    may hand a released port out again meanwhile — a web whose port a worker took fails to
    bind while its readiness check gets the worker's 200."""
    with _GIVEN_LOCK:
        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in _GIVEN:
                _GIVEN.add(port)
                return port


def spawn(argv: list[str], env: Mapping[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `argv` with its stdout and stderr appended to `log` (inherited when None).

    Each process gets its own session: a Ctrl-C at the terminal reaches only the parent,
    which stops its children in order (workers before the moto they talk to)."""
    out = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")  # noqa: SIM115 - the child holds it; ours closes right after the fork
    try:
        return subprocess.Popen(
            argv,
            env=dict(env) if env is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
        )
    finally:
        if out is not None:
            out.close()


def stop(procs: Iterable[subprocess.Popen[bytes]], grace: float = 30) -> None:
    """SIGTERM every process still running, wait for all of them together for up to
    `grace` seconds, then SIGKILL whatever is left."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until `url` answers 200; fails early if `proc` (the server behind it) exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server of {url} exited with {proc.returncode} before it answered")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)
