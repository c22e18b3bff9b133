"""Attacks on /api/v1's authentication (issue 22): made-up bearer tokens must not turn
into an unbounded stream of Globus introspections or DynamoDB reads, a forged
X-Forwarded-For must not buy a fresh budget, refusals must not evict valid tokens, a
token revoked at Globus must stop working within the re-check interval, more tokens (or
revoking and re-creating one) must not buy more requests, and concurrent creations must
not overshoot the 20-token cap.

Globus is answered locally (responses); DynamoDB is the session's moto server over HTTP.
The lookup-limit tests make apps of their own with a small per-address limit."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import pytest
import responses
from api_support import bearer, create_token, fresh_window, problem
from web_support import csrf_token

from gas.core.dynamo import newest_first_of_user
from gas.core.tokens import MAX_TOKENS, TokenStore
from gas.web.api_v1 import bearer as bearer_module
from gas.web.app import create_app

INTROSPECT = "https://auth.globus.org/v2/oauth2/token/introspect"
SCOPE = "https://auth.globus.org/scopes/gas-test-client/api"
LIMIT = 5
PROXY = "10.1.2.3"  # the ingress controller's pod, REMOTE_ADDR behind it


class FakeGlobus:
    """Introspection answers: active for the tokens in `active`, inactive otherwise."""

    def __init__(self, rsps: responses.RequestsMock):
        self.active: set[str] = set()
        self.asked: list[str] = []
        self.sub = str(uuid.uuid4())
        rsps.add_callback(responses.POST, INTROSPECT, callback=self._answer, content_type="application/json")

    def _answer(self, request) -> tuple[int, dict, str]:
        token = parse_qs(request.body)["token"][0]
        self.asked.append(token)
        if token not in self.active:
            return 200, {}, json.dumps({"active": False})
        return (
            200,
            {},
            json.dumps(
                {
                    "active": True,
                    "scope": f"{SCOPE} openid",
                    "aud": ["gas-test-client"],
                    "sub": self.sub,
                    "username": "ada@example.org",
                    "exp": int(time.time()) + 3600,
                }
            ),
        )


@pytest.fixture
def globus() -> Iterator[FakeGlobus]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeGlobus(rsps)


def _token_reads(app) -> list[str]:
    """Every GetItem web's token store sends to the API table (DynamoDB reads)."""
    tokens = app.extensions["gas"].tokens
    reads: list[str] = []
    tokens._ddb.meta.events.register(
        "provide-client-params.dynamodb.GetItem",
        lambda params, **_: reads.append(params["Key"]["pk"]["S"]) if params["TableName"] == tokens._table else None,
    )
    return reads


def test_random_bearer_strings_cost_a_bounded_number_of_introspections(settings_factory, globus):
    app = create_app(settings_factory(api_token_lookups_per_minute=LIMIT))
    client = app.test_client()
    fresh_window(bearer_module.LOOKUP_WINDOW_SECONDS)
    statuses = [client.get("/api/v1/me", headers=bearer(f"made-up-{uuid.uuid4()}")).status_code for _ in range(50)]
    assert statuses == [401] * LIMIT + [429] * (50 - LIMIT)
    assert len(globus.asked) == LIMIT
    limited = problem(client.get("/api/v1/me", headers=bearer("another")), 429, "rate-limited")
    assert "from this address" in limited["detail"]
    # Another address has its own budget; a token already refused costs nothing more.
    other = app.test_client()
    other_addr = {"REMOTE_ADDR": "192.0.2.44"}
    assert other.get("/api/v1/me", headers=bearer("made-up-x"), environ_base=other_addr).status_code == 401
    assert other.get("/api/v1/me", headers=bearer("made-up-x"), environ_base=other_addr).status_code == 401
    assert len(globus.asked) == LIMIT + 1


def test_unknown_personal_tokens_are_remembered_as_refused_and_limited(settings_factory):
    app = create_app(settings_factory(api_token_lookups_per_minute=LIMIT))
    reads = _token_reads(app)
    client = app.test_client()
    fresh_window(bearer_module.LOOKUP_WINDOW_SECONDS)
    unknown = "gas_pat_" + uuid.uuid4().hex
    for _ in range(5):
        problem(client.get("/api/v1/me", headers=bearer(unknown)), 401, "unauthorized")
    assert len(reads) == 1  # the refusal is cached: one consistent read, not five
    statuses = [client.get("/api/v1/me", headers=bearer(f"gas_pat_{uuid.uuid4().hex}")).status_code for _ in range(30)]
    assert statuses == [401] * (LIMIT - 1) + [429] * (30 - LIMIT + 1)
    assert len(reads) == LIMIT


def test_a_forged_x_forwarded_for_does_not_get_a_fresh_budget(settings_factory, globus):
    app = create_app(settings_factory(api_token_lookups_per_minute=LIMIT, web_proxy_hops=1))
    client = app.test_client()
    fresh_window(bearer_module.LOOKUP_WINDOW_SECONDS)

    def through_proxy(token: str, forwarded: str) -> int:
        # The ingress appends the address it saw; whatever came before is the client's.
        return client.get(
            "/api/v1/me", headers={**bearer(token), "X-Forwarded-For": forwarded}, environ_base={"REMOTE_ADDR": PROXY}
        ).status_code

    statuses = [through_proxy(f"x-{n}", f"198.51.100.{n}, 203.0.113.7") for n in range(20)]
    assert statuses == [401] * LIMIT + [429] * (20 - LIMIT)
    assert len(globus.asked) == LIMIT
    assert through_proxy("x-plain", "203.0.113.7") == 429  # the same client without a forged entry
    assert through_proxy("x-other", "192.0.2.50") == 401  # another client, as the ingress saw it
    assert len(globus.asked) == LIMIT + 1


def test_forwarded_for_is_ignored_without_proxy_hops(settings_factory, globus):
    app = create_app(settings_factory(api_token_lookups_per_minute=LIMIT))
    client = app.test_client()
    fresh_window(bearer_module.LOOKUP_WINDOW_SECONDS)
    statuses = [
        client.get("/api/v1/me", headers={**bearer(f"y-{n}"), "X-Forwarded-For": f"198.51.100.{n}"}).status_code
        for n in range(10)
    ]
    assert statuses == [401] * LIMIT + [429] * (10 - LIMIT)


def test_a_valid_token_stays_cached_through_a_flood_of_refusals(settings_factory, globus, monkeypatch):
    monkeypatch.setattr(bearer_module, "CACHE_SIZE", 8)  # a small cache, so a flood overflows it
    app = create_app(settings_factory(api_token_lookups_per_minute=LIMIT))
    client = app.test_client()
    good = f"good-{uuid.uuid4()}"
    globus.active.add(good)
    assert client.get("/api/v1/me", headers=bearer(good)).status_code == 200
    for n in range(40):  # from many addresses, so the lookup limit does not stop them
        resp = client.get("/api/v1/me", headers=bearer(f"bad-{n}"), environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"})
        assert resp.status_code == 401
    assert client.get("/api/v1/me", headers=bearer(good)).status_code == 200
    assert globus.asked.count(good) == 1


def test_a_globus_token_revoked_at_globus_stops_working_after_the_recheck(settings_factory, globus, monkeypatch):
    monkeypatch.setattr(bearer_module, "GLOBUS_RECHECK_SECONDS", 1, raising=False)
    app = create_app(settings_factory())
    client = app.test_client()
    token = f"revoked-later-{uuid.uuid4()}"
    globus.active.add(token)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    globus.active.discard(token)  # revoked at Globus (e.g. the user signed out everywhere)
    time.sleep(1.2)
    problem(client.get("/api/v1/me", headers=bearer(token)), 401, "unauthorized")
    assert globus.asked.count(token) == 2


def test_more_tokens_or_a_recreated_token_buy_no_more_requests(settings_factory, web_aws):
    app = create_app(settings_factory(api_rate_limit=3, api_rate_window_seconds=60))
    c = app.test_client()
    c.post(
        "/auth/local", data={"csrf_token": csrf_token(c, "/auth/local"), "name": "R", "email": f"{uuid.uuid4()}@e.org"}
    )
    with c.session_transaction() as session:
        user_id = session["user_id"]
    first, second = create_token(c, "first"), create_token(c, "second")
    api = app.test_client()
    fresh_window(60)  # the app's api_rate_window_seconds
    assert [api.get("/api/v1/me", headers=bearer(first)).status_code for _ in range(4)] == [200, 200, 200, 429]
    problem(api.get("/api/v1/me", headers=bearer(second)), 429, "rate-limited")  # the user's limit
    for token in TokenStore(web_aws).list_for_user(user_id):  # revoke both, as the profile page does
        resp = c.post(f"/profile/tokens/{token.token_id}/revoke", data={"csrf_token": csrf_token(c, "/profile")})
        assert resp.status_code == 302
    limited = problem(api.get("/api/v1/me", headers=bearer(create_token(c, "again"))), 429, "rate-limited")
    assert limited["detail"].startswith("More than 3 requests")


def test_sixty_concurrent_creations_leave_exactly_twenty_live_tokens(settings_factory, web_aws):
    app = create_app(settings_factory())
    # DynamoDB's latency, which moto on loopback lacks: 20 ms after each Query answers, the
    # window in which a count of the user's tokens can go stale before the creation lands.
    tokens = app.extensions["gas"].tokens
    tokens._ddb.meta.events.register("after-call.dynamodb.Query", lambda **_: time.sleep(0.02))
    owner = app.test_client()
    form = {"csrf_token": csrf_token(owner, "/auth/local"), "name": "Sixty", "email": f"{uuid.uuid4()}@e.org"}
    assert owner.post("/auth/local", data=form).status_code == 302
    with owner.session_transaction() as session:
        user_id = session["user_id"]
    token = csrf_token(owner, "/profile")
    cookie = owner.get_cookie("gas_session")
    assert cookie is not None
    clients = []
    for _ in range(60):  # 60 browser tabs of one session
        tab = app.test_client()
        tab.set_cookie("gas_session", cookie.value, domain=cookie.domain)
        clients.append(tab)

    def create(n: int) -> int:
        form = {"csrf_token": token, "name": f"t{n}", "scopes": ["read"], "days": "7"}
        return clients[n].post("/profile/tokens", data=form).status_code

    with ThreadPoolExecutor(60) as pool:
        statuses = list(pool.map(create, range(60)))
    store = TokenStore(web_aws)
    live = [t for t in store.list_for_user(user_id) if not t.expired()]
    assert len(live) == MAX_TOKENS and sorted(statuses) == [200] * MAX_TOKENS + [400] * (60 - MAX_TOKENS)
    refused = owner.post("/profile/tokens", data={"csrf_token": token, "name": "x", "scopes": ["read"], "days": "7"})
    assert refused.status_code == 400 and "revoke one first" in refused.get_data(as_text=True)

    # A token past its expiry frees its place with no clean-up, before TTL deletes anything.
    ddb, table = web_aws.client("dynamodb"), web_aws.names.api_table
    old = live[-1]
    items = ddb.query(**newest_first_of_user(table, web_aws.names.tokens_by_user_index, user_id))["Items"]
    item = next(i for i in items if i["token_id"]["S"] == old.token_id)
    for pk in (item["pk"]["S"], f"slot#{user_id}#{item['slot']['N']}"):
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": pk}},
            UpdateExpression="SET expires_epoch = :past",
            ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 10)}},
        )
    again = owner.post("/profile/tokens", data={"csrf_token": token, "name": "y", "scopes": ["read"], "days": "7"})
    assert again.status_code == 200, again.get_data(as_text=True)
    assert len([t for t in store.list_for_user(user_id) if not t.expired()]) == MAX_TOKENS


def test_tokens_from_before_the_slots_count_against_the_cap(sign_in, web_aws):
    owner, user_id = sign_in()
    ddb, table = web_aws.client("dynamodb"), web_aws.names.api_table
    for n in range(MAX_TOKENS - 1):  # as the previous release stored them: no slot
        ddb.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"pat#legacy-{uuid.uuid4().hex}"},
                "token_id": {"S": str(uuid.uuid4())},
                "user_id": {"S": user_id},
                "name": {"S": f"old {n}"},
                "prefix": {"S": "gas_pat_old"},
                "scopes": {"L": [{"S": "read"}]},
                "created_at": {"S": "2026-11-01T00:00:00Z"},
                "expires_epoch": {"N": str(int(time.time()) + 3600)},
            },
        )
    form = {"csrf_token": csrf_token(owner, "/profile"), "scopes": ["read"], "days": "7"}
    assert owner.post("/profile/tokens", data={**form, "name": "new"}).status_code == 200
    refused = owner.post("/profile/tokens", data={**form, "name": "one too many"})
    assert refused.status_code == 400 and "revoke one first" in refused.get_data(as_text=True)
    assert len([t for t in TokenStore(web_aws).list_for_user(user_id) if not t.expired()]) == MAX_TOKENS
