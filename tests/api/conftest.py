"""The API against the local stack over HTTP: gunicorn (two workers, so a token cached in
one must still be refused through the other once revoked), moto server, real workers,
the `gas` CLI as a subprocess and Debian's Chromium.

The stack is this directory's own (started like `make run`), with a small rate limit so a
test can exceed it quickly; every test uses tokens of its own, and limits are per token."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_stack_support import RATE_LIMIT, Gas
from deployed_bundle import DeployedBundle, deploy_bundle
from devstack import DevStack
from support import chromium, start_dev_stack

_RUNNING: list[DevStack] = []
HERE = Path(__file__).parent


def pytest_runtest_teardown(item, nextitem):
    """The stack serves this directory only: stop it once its last test here is done,
    instead of idling through the rest of the session."""
    if _RUNNING and (nextitem is None or HERE not in Path(nextitem.path).parents):
        _RUNNING.pop().stop()


@pytest.fixture(scope="session")
def api_bundle(tmp_path_factory) -> DeployedBundle:
    """The stack's database directory: the genes-only databases and a generated bundle."""
    return deploy_bundle(tmp_path_factory.mktemp("api-bundle"))


@pytest.fixture(scope="session")
def api_stack(tmp_path_factory, api_bundle):
    env = {
        "GAS_VISIBILITY_TIMEOUT": "10",
        "GAS_API_RATE_LIMIT": str(RATE_LIMIT),
        "GAS_WEB_WORKERS": "2",
        "GAS_PROGRESS_SECONDS": "0.5",  # a job of a few seconds reports its progress several times
    }
    env["GAS_ANNOTATION_DB_DIR"] = str(api_bundle.db_dir)
    stack = start_dev_stack(tmp_path_factory.mktemp("api-stack-logs"), "api", env)
    _RUNNING.append(stack)
    yield stack
    if _RUNNING:
        _RUNNING.pop().stop()


@pytest.fixture
def gas(api_stack, tmp_path):
    """The `gas` command with a config directory of its own (a fresh user's machine)."""
    return Gas(api_stack.url, tmp_path / "home")


@pytest.fixture(scope="module")
def browser():
    """Module-scoped like the stack tests' one: two live Playwright instances in one process
    are refused ("Sync API inside the asyncio loop")."""
    yield from chromium()
