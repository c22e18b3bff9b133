"""Web tests: the Flask app in-process (test client) against the session's moto server
(`moto_url` from tests/conftest.py), provisioned once under a prefix of our own.

Every test signs in its own fresh users, so tests share the resources without
seeing each other's jobs.
"""

from __future__ import annotations

import itertools
import os
import uuid

import pytest
from web_support import PUBLIC_URL, SECRET, csrf_token

from gas.core.aws import Aws
from gas.core.provision import Provisioner, ProvisionSettings
from gas.web.app import create_app
from gas.web.settings import WebSettings

_users = itertools.count(1)


@pytest.fixture(scope="session")
def web_aws(moto_url):
    """AWS resources provisioned once for all web tests (prefix web<pid>)."""
    with pytest.MonkeyPatch.context() as mp:
        # boto3 needs credentials; moto accepts any. The endpoint is passed explicitly.
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        prefix = f"web{os.getpid()}"
        ps = ProvisionSettings(AWS_ENDPOINT_URL=moto_url, AWS_REGION="us-east-1", prefix=prefix, public_url=PUBLIC_URL)
        Provisioner(ps, report=lambda _line: None).run()
        yield Aws(ps)


@pytest.fixture(scope="session")
def settings_factory(web_aws, moto_url, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("result-cache")

    def make(**overrides) -> WebSettings:
        values = {
            "result_cache_dir": cache_dir,
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_REGION": "us-east-1",
            "prefix": web_aws.settings.prefix,
            "public_url": PUBLIC_URL,
            "env": "local",
            "secret_key": SECRET,
            "local_signin": True,
            "web_bind": "127.0.0.1:8080",
            "globus_client_id": "gas-test-client",
            "globus_client_secret": "gas-test-secret",
            # Every test's users come from 127.0.0.1: the per-address lookup limit is
            # tested on apps of its own (test_api_abuse.py).
            "api_token_lookups_per_minute": 1_000_000,
        }
        values.update(overrides)
        return WebSettings(**values)

    return make


@pytest.fixture(scope="session")
def app(settings_factory):
    return create_app(settings_factory())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sign_in(app):
    """sign_in(name=None) -> (test client, user_id): a fresh local user, signed in."""

    def _sign_in(name: str | None = None, email: str | None = None):
        c = app.test_client()
        n = next(_users)
        email = email or f"user{n}-{uuid.uuid4().hex[:8]}@example.org"
        token = csrf_token(c, "/auth/local")
        resp = c.post("/auth/local", data={"csrf_token": token, "name": name or f"User {n}", "email": email})
        assert resp.status_code == 302, resp.get_data(as_text=True)
        with c.session_transaction() as s:
            user_id = s["user_id"]
        return c, user_id

    return _sign_in


@pytest.fixture
def owned_result(sign_in, web_aws):
    """owned_result(result, **job fields) -> (its owner's signed-in test client, the owner's
    read-only API token, the COMPLETED Job whose results are `result`)."""
    from api_support import create_token
    from results_support import store_result

    def _owned(result, **fields):
        c, user_id = sign_in()
        return c, create_token(c, scopes=("read",)), store_result(web_aws, user_id, result, **fields)

    return _owned
