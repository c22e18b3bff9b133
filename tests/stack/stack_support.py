"""Helpers of the stack tests: one local stack (moto server, gunicorn, workers as real
processes) started through the same code as `make run`; boto3 clients on its moto; the
sample files; `make run` itself under a pseudo-terminal or a pipe; a copy of the tree to
edit. Fixtures are in conftest.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from devstack import DevStack
from siteclient import User, job_id_of  # noqa: F401 - re-exported for the tests
from support import ROOT, SAMPLES, sign_in_locally, start_dev_stack


def started_stack(tmp_path_factory: Any, iam: bool = False, env: dict[str, str] | None = None) -> Iterator[DevStack]:
    # A killed worker's message comes back within 10 s; the heartbeat covers long jobs.
    env = {"GAS_VISIBILITY_TIMEOUT": "10", "GAS_LOG_LEVEL": "INFO", **(env or {})}
    dev = start_dev_stack(tmp_path_factory.mktemp("stack-logs"), "stack", env, iam=iam)
    yield dev
    dev.stop()


def aws_clients(stack: DevStack) -> Callable[[str], Any]:
    """boto3 clients on the stack's moto, for looking behind the scenes (as its admin
    when the stack enforces IAM)."""
    admin = stack.credentials.get("admin", {})
    session = boto3.session.Session(
        aws_access_key_id=admin.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=admin.get("AWS_SECRET_ACCESS_KEY", "local"),
        region_name="us-east-1",
    )
    return lambda name: session.client(name, endpoint_url=stack.moto_url)


def sample(name: str) -> bytes:
    return (Path(SAMPLES) / name).read_bytes()


# -- `make run` as a person runs it ---------------------------------------------------


def run_env(port: int, moto_port: int, **extra: str) -> dict[str, str]:
    """The environment of `make run` on these ports, without the test's GAS_ settings, and as a
    person's shell has it even when the suite itself runs under `make test` (a sub-make would
    print "Entering directory" lines)."""
    drop = ("GAS_", "AWS_", "MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "GAS_PORT": str(port), "GAS_MOTO_PORT": str(moto_port), "TERM": "xterm-256color", **extra}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of `text` as JSON; fails on the first line that is not a JSON object."""
    events = []
    for line in text.splitlines():
        if line.strip():
            event = json.loads(line)
            assert isinstance(event, dict), line
            events.append(event)
    return events


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


# Build products the source tree runs with (git-ignored): the engine's compiled kernels, which
# `uv sync` (the annotator's build hook) writes next to native.c.
BUILT_IN_TREE = ("services/annotator/src/gas/annotator/engine/_native.so",)


def copy_tree(dest: Path) -> Path:
    """The checkout's files (tracked and new, not ignored, and BUILT_IN_TREE) copied to
    `dest`, to edit without touching the real tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in [*filter(None, (n.decode() for n in listed)), *BUILT_IN_TREE]:
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def source_path(tree: Path) -> str:
    """PYTHONPATH that makes the shared virtualenv import gas.* from `tree` (ahead of the
    checkout its editable install points at)."""
    return os.pathsep.join(str(p) for p in sorted((tree / "services").glob("*/src")) + [tree / "libs" / "core" / "src"])


class Piped:
    """A command whose output goes to a pipe (as under CI or `| less`), read line by
    line as JSON events; the lines that are not JSON objects are kept apart."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path = ROOT):
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.not_json: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, name="piped-reader", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # drained to the end: children must never block on it
            with self._changed:
                self.lines.append(line)
                try:
                    event = json.loads(line)
                    assert isinstance(event, dict)
                    self.events.append(event)
                except (ValueError, AssertionError):
                    self.not_json.append(line)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait_for(self, event: str, timeout: float, **fields: Any) -> dict[str, Any]:
        """The first event named `event` (with these field values), waiting for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for e in self.events:
                    if e.get("event") == event and all(e.get(k) == v for k, v in fields.items()):
                        return e
                left = deadline - time.monotonic()
                assert left > 0 and not self.ended, (
                    f"no {event} {fields} {'before the output ended' if self.ended else f'within {timeout} s'}; "
                    f"last lines:\n{''.join(self.lines[-30:])}"
                )
                self._changed.wait(min(1.0, left))

    def interrupt(self, supervisor: int | None = None, timeout: float = 90) -> int:
        """Ctrl-C to `supervisor` (the command itself by default; for `make run`, the
        devstack process make started); the command's exit code."""
        os.kill(supervisor or self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            for pid in [*children(self.proc.pid), self.proc.pid]:
                os.kill(pid, signal.SIGTERM)
            self.proc.wait(90)


def premium_job_in_browser(page: Any, stack: DevStack, stack_aws: Callable[[str], Any], name: str, email: str) -> dict:
    """Sign in as a new premium user, upload premium_2.vcf (GRCh37) through the form and wait
    until the job page says COMPLETED; the job's DynamoDB item."""
    sign_in_locally(page, stack.url, name, email)
    page.goto(f"{stack.url}/subscribe")
    page.click("#upgrade")  # premium_2.vcf is over the free limit
    page.goto(f"{stack.url}/annotate")
    page.select_option("#assembly", "GRCh37")
    page.set_input_files("#file", str(SAMPLES / "premium_2.vcf"))
    page.click("#upload-button")
    page.wait_for_url(re.compile(rf"{re.escape(stack.url)}/annotations/[0-9a-f-]{{36}}$"))
    job_id = page.url.rsplit("/", 1)[-1]
    page.locator('#job-status [data-status="COMPLETED"]').wait_for(timeout=120_000)
    return stack_aws("dynamodb").get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}})["Item"]
