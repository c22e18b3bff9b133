"""Shared fixtures: moto server as a real process over HTTP, and a freshly provisioned
set of AWS resources (a unique prefix per test keeps tests independent)."""

from __future__ import annotations

import itertools
import os
import signal

import pytest
from support import moto_server

_prefixes = itertools.count(1)


def pytest_configure(config):
    """Ctrl-C as a person's shell delivers it: a suite started in the background (`make test &`,
    CI runners) inherits SIGINT ignored, every process it starts would too, and the tests that
    press Ctrl-C on `make run` or the `gas` CLI would wait for nothing."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # children exec with SIG_DFL


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory):
    yield from moto_server(tmp_path_factory.mktemp("moto"))


@pytest.fixture
def aws_env(moto_url, monkeypatch):
    """Environment of a GAS process pointed at the test moto server, with a fresh prefix."""
    prefix = f"t{os.getpid()}-{next(_prefixes)}"
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "GAS_PREFIX": prefix,
        "GAS_ENV": "local",
        # Tests read what processes log: JSON, whatever the terminal pytest runs in.
        "GAS_LOG_FORMAT": "json",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def provisioned(aws_env):
    from gas.core.aws import Aws
    from gas.core.provision import Provisioner, ProvisionSettings

    settings = ProvisionSettings()
    Provisioner(settings, report=lambda _line: None).run()
    return Aws(settings)
