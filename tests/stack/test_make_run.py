"""`make run`'s supervisor as a developer uses it: prints the URL, serves, stops every
process it started on Ctrl-C, and starts again on the same ports."""

import signal
import subprocess
import sys
import threading
import time

import requests
from support import ROOT, free_port


def _start(port, moto_port):
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "local" / "devstack.py"), "--port", str(port), "--moto-port", str(moto_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 600
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "GAS is running: open" in line:
            # Keep draining: the children share this pipe and must never block on it.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, line
        assert time.monotonic() < deadline
    raise AssertionError("".join(seen[-40:]))


def _listening(port):
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=1)
        return True
    except requests.ConnectionError:
        return False


def test_run_prints_the_url_stops_everything_on_ctrl_c_and_starts_again():
    port, moto_port = free_port(), free_port()
    for _ in range(2):
        proc, line = _start(port, moto_port)
        assert f"http://127.0.0.1:{port}" in line
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).ok
        assert "Sign in" in requests.get(f"http://127.0.0.1:{port}/", timeout=5).text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        assert not _listening(port) and not _listening(moto_port)
