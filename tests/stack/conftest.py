"""Fixtures of the stack tests: stacks of real processes, clients on them, a browser."""

from __future__ import annotations

import pytest
from stack_support import User, aws_clients, started_stack
from support import chromium


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    yield from started_stack(tmp_path_factory)


@pytest.fixture(scope="module")
def faults_stack(tmp_path_factory):
    """A stack of test_faults' own: the killed worker's multipart upload leaves moto's
    /moto-api/data.json answering 500 (a moto bug in FakeKey.status), so the emails there
    are counted with SES's own GetSendQuota, and no other module shares this moto."""
    yield from started_stack(tmp_path_factory)


@pytest.fixture(scope="module")
def iam_stack(tmp_path_factory):
    """A stack on a moto that enforces IAM, every process as its least-privilege user;
    retention and restore checks in seconds so the whole lifecycle runs in the test."""
    yield from started_stack(
        tmp_path_factory,
        iam=True,
        env={
            "GAS_RETENTION_SECONDS": "3",
            "GAS_RESTORE_CHECK_EXPEDITED_SECONDS": "1",
            "GAS_RESTORE_CHECK_STANDARD_SECONDS": "2",
        },
    )


@pytest.fixture
def stack_aws(stack):
    """boto3 clients on the stack's moto, for looking behind the scenes."""
    return aws_clients(stack)


@pytest.fixture
def user(stack):
    return User(stack.url).sign_in()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()
