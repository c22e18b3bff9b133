"""Globus Auth access tokens on /api/v1: checked by token introspection (globus-sdk's
testing responses; no network), cached until they expire, refused when inactive or not
issued for GAS's scope."""

from __future__ import annotations

import time
import uuid

import pytest
import responses
from api_support import bearer
from globus_sdk.testing import RegisteredResponse, load_response

from gas.core.users import Tier, UserStore

SCOPE = "https://auth.globus.org/scopes/gas-test-client/api"  # the default for client gas-test-client


def _introspection(rsps, active: bool = True, scope: str = SCOPE, exp: float | None = None, sub: str | None = None):
    identity = sub or str(uuid.uuid4())
    RegisteredResponse(
        service="auth",
        path="/v2/oauth2/token/introspect",
        method="POST",
        json={
            "active": active,
            "token_type": "Bearer",
            "scope": f"{scope} openid",
            "client_id": str(uuid.uuid4()),
            "username": "ada@example.org",
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "exp": int(exp or time.time() + 3600),
            "sub": identity,
            "aud": ["gas-test-client"],
            "iss": "https://auth.globus.org",
        },
    ).add(requests_mock=rsps)
    return identity


def _introspections(rsps) -> int:
    return sum(1 for c in rsps.calls if c.request.url.endswith("/v2/oauth2/token/introspect"))


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_a_globus_token_for_gas_scope_works_and_is_introspected_once(client, rsps, web_aws):
    identity = _introspection(rsps)
    token = f"globus-{uuid.uuid4()}"
    first = client.get("/api/v1/me", headers=bearer(token))
    assert first.status_code == 200, first.get_data(as_text=True)
    me = first.get_json()
    assert me["user_id"] == identity and me["token"]["kind"] == "globus"
    assert me["token"]["scopes"] == ["read", "submit"] and me["name"] == "Ada Lovelace"
    # The first use created the profile, as signing in on the site would have.
    assert UserStore(web_aws).get(identity).tier is Tier.FREE
    for _ in range(3):
        assert client.get("/api/v1/jobs", headers=bearer(token)).status_code == 200
    assert _introspections(rsps) == 1  # cached until it expires
    call = next(c for c in rsps.calls if c.request.url.endswith("/introspect"))
    assert f"token={token}" in call.request.body and call.request.headers["Authorization"].startswith("Basic ")


def test_the_sdk_default_response_has_no_gas_scope_and_is_refused(client, rsps):
    load_response("auth.oauth2_token_introspect", requests_mock=rsps)  # scopes for auth.globus.org only
    resp = client.get("/api/v1/me", headers=bearer(f"other-{uuid.uuid4()}"))
    assert resp.status_code == 401 and resp.content_type == "application/problem+json"


@pytest.mark.parametrize(
    "answer",
    [{"active": False}, {"scope": "https://auth.globus.org/scopes/someone-else/api"}, {"exp": 1_000_000_000}],
    ids=["inactive", "other-scope", "expired"],
)
def test_inactive_foreign_or_expired_globus_tokens_are_refused_and_remembered(client, rsps, answer):
    _introspection(rsps, **answer)
    token = f"bad-{uuid.uuid4()}"
    for _ in range(2):
        resp = client.get("/api/v1/me", headers=bearer(token))
        assert resp.status_code == 401, resp.get_data(as_text=True)
    assert _introspections(rsps) == 1  # a refused token is not introspected again for a while


def test_globus_unreachable_is_503_not_401(client, rsps):
    RegisteredResponse(service="auth", path="/v2/oauth2/token/introspect", method="POST", status=502, json={}).add(
        requests_mock=rsps
    )
    resp = client.get("/api/v1/me", headers=bearer(f"x-{uuid.uuid4()}"))
    assert resp.status_code == 503 and resp.get_json()["type"].endswith("/unavailable")
