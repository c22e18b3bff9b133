"""Helpers shared by the tests (fixtures live in conftest.py). `tests/` and `local/` are
on sys.path through pytest's `pythonpath` option (pyproject.toml)."""

from __future__ import annotations

import errno
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devstack import ROOT, SAMPLES, DevStack  # noqa: F401 - re-exported for the tests
from processes import BIN, free_port, spawn, stop, wait_http  # noqa: F401 - the one way to run processes

# bcftools is the engine's oracle and the sample filter's peer; `make system-deps` installs it.
needs_bcftools = pytest.mark.skipif(
    shutil.which("bcftools") is None, reason="bcftools not installed (apt-get install bcftools)"
)


def sent_emails(moto_url: str) -> list[dict]:
    """Emails moto's SES has accepted, read through moto's own API."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json") as resp:
        return json.load(resp)["ses"].get("Message", [])


ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Terminal:
    """A command under a pseudo-terminal (its own session, the pty its controlling
    terminal): what it prints, and Ctrl-C typed at it."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: exec at once, nothing else in the forked copy
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.output = b""
        self.status: int | None = None

    def read(self, seconds: float) -> bool:
        """Read what arrives within `seconds`; False once the terminal is closed."""
        ready, _, _ = select.select([self.fd], [], [], seconds)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError as exc:  # EIO: every process holding the terminal has exited
            if exc.errno != errno.EIO:
                raise
            return False
        self.output += chunk
        return bool(chunk)

    def read_until(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.text():
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{self.text()[-4000:]}"
            assert self.read(0.5), f"the terminal closed before {text!r}:\n{self.text()[-4000:]}"
        return self.text()

    def text(self) -> str:
        return ANSI.sub("", self.output.decode("utf-8", "replace")).replace("\r\n", "\n")

    def ctrl_c(self, timeout: float) -> int:
        os.write(self.fd, b"\x03")
        deadline = time.monotonic() + timeout
        while self.read(0.5):
            assert time.monotonic() < deadline, f"still running {timeout} s after Ctrl-C:\n{self.text()[-4000:]}"
        return self.wait(max(1.0, deadline - time.monotonic()))

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            else:
                assert time.monotonic() < deadline, "the command did not exit"
                time.sleep(0.1)
        os.close(self.fd)
        return self.status

    def kill(self) -> None:
        """Last resort in a failing test: the session and everything in it."""
        if self.status is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.wait(60)
            except (ProcessLookupError, AssertionError):
                os.killpg(self.pid, signal.SIGKILL)


# moto answers each request on a thread and checks a DynamoDB write's condition before
# applying it with no lock between, so two concurrent conditional puts on one item can both
# succeed, which DynamoDB never allows. The tests' server holds a lock around each write:
# conditions are atomic as on DynamoDB, requests otherwise as concurrent as before.
_ATOMIC_WRITES_MOTO = """
import sys, threading
from moto.dynamodb.models import DynamoDBBackend
from moto.server import main
lock = threading.RLock()  # transact_write_items calls put_item and update_item itself
for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
    def atomic(self, *args, _original=getattr(DynamoDBBackend, name), **kwargs):
        with lock:
            return _original(self, *args, **kwargs)
    setattr(DynamoDBBackend, name, atomic)
main(sys.argv[1:])
"""


def moto_server(log_dir: Path, host: str = "127.0.0.1", env: dict[str, str] | None = None) -> Iterator[str]:
    """A moto server (atomic DynamoDB writes) on a free port of `host` (`env`: more of its
    environment), for as long as the generator lives."""
    port = free_port()
    argv = [str(BIN / "python"), "-c", _ATOMIC_WRITES_MOTO, "-H", host, "-p", str(port)]
    proc = spawn(argv, env={**os.environ, **(env or {})}, log=log_dir / "moto.log")
    url = f"http://{host}:{port}"
    try:
        wait_http(f"{url}/moto-api/", 30, proc)
        yield url
    finally:
        stop([proc], 10)


def start_dev_stack(log_dir: Path, name: str, env: dict[str, str], iam: bool = False) -> DevStack:
    """A local stack (as `make run` starts it) on free ports, its resources named
    `name` plus a random suffix; on a failed start, the tail of every log is printed."""
    dev = DevStack(
        web_port=free_port(),
        moto_port=free_port(),
        prefix=f"{name}{uuid.uuid4().hex[:6]}",
        log_dir=log_dir,
        extra_env=env,
        iam=iam,
    )
    try:
        dev.start()
    except Exception:
        for log in sorted(log_dir.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        dev.stop()
        raise
    return dev


def sign_in_locally(page: Any, url: str, name: str, email: str) -> None:
    """Sign a Playwright page in through the local stack's sign-in form."""
    page.goto(f"{url}/auth/local")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()


# The two widths every page is looked at in (a laptop and a phone: 1280 px and 390 px).
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def browser_page(browser: Any, accept_dialogs: bool = False, **context: Any) -> tuple[Any, Any]:
    """(context, page): a page in a new browser context (`context`: Playwright's new_context
    options) that waits up to 30 s for anything (the shared machine is slow);
    `accept_dialogs` says yes to every confirm() ("Delete this job?")."""
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    if accept_dialogs:
        page.on("dialog", lambda dialog: dialog.accept())
    return ctx, page


def signed_in_page(
    browser: Any, url: str, name: str, email: str, accept_dialogs: bool = False, **context: Any
) -> tuple[Any, Any]:
    """browser_page(), signed in as `name` through the local sign-in form."""
    ctx, page = browser_page(browser, accept_dialogs, **context)
    sign_in_locally(page, url, name, email)
    return ctx, page


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright (never a downloaded browser), for as long as
    the generator lives."""
    import pytest

    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    with playwright.sync_playwright() as p:
        flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]
        flags += ["--no-first-run", "--disable-component-update", "--disable-sync"]
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        yield browser
        browser.close()


class TcpProxy:
    """A TCP proxy on loopback to `host:port` that plays two network faults: `cut` (while
    set, every connection is closed at once: what boto sees when AWS resets connections)
    and `hang()` (bytes stop flowing, the peer neither answers nor closes) until `resume()`."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.cut = False
        self.flowing = threading.Event()
        self.flowing.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hang(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self._closed = True
        self.flowing.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                if self.cut:
                    raise ConnectionResetError
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self.cut and (data := src.recv(65536)):
                self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
