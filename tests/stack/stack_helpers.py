"""One local stack (moto server, gunicorn, workers as real processes) for the stack and
browser tests, started through the same code as `make run`, and an HTTP client that
does what a browser does: sign in, fill the upload form, POST the file to S3."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pytest
from devstack import DevStack, free_port
from siteclient import User, job_id_of  # noqa: F401 - re-exported for the tests


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    yield from started_stack(tmp_path_factory)


def started_stack(tmp_path_factory, iam: bool = False, env: dict[str, str] | None = None):
    logs = tmp_path_factory.mktemp("stack-logs")
    dev = DevStack(
        web_port=free_port(),
        moto_port=free_port(),
        prefix=f"stack{uuid.uuid4().hex[:6]}",
        log_dir=logs,
        # A killed worker's message comes back within 10 s; the heartbeat covers long jobs.
        extra_env={"GAS_VISIBILITY_TIMEOUT": "10", "GAS_LOG_LEVEL": "INFO", **(env or {})},
        iam=iam,
    )
    try:
        dev.start()
    except Exception:
        for log in sorted(logs.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        dev.stop()
        raise
    yield dev
    dev.stop()


@pytest.fixture
def stack_aws(stack):
    """boto3 clients on the stack's moto, for looking behind the scenes."""
    admin = stack.credentials.get("admin", {})  # set when the stack enforces IAM
    session = boto3.session.Session(
        aws_access_key_id=admin.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=admin.get("AWS_SECRET_ACCESS_KEY", "local"),
        region_name="us-east-1",
    )
    return lambda name: session.client(name, endpoint_url=stack.moto_url)


@pytest.fixture
def user(stack):
    return User(stack.url).sign_in()


def sample(name: str) -> bytes:
    from support import SAMPLES

    return (Path(SAMPLES) / name).read_bytes()
