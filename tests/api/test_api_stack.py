"""/api/v1 through gunicorn (two workers) on the local stack, over HTTP: tokens revoked or
expired, scopes, ownership, Idempotency-Key, the rate limit, validation problems and the
OpenAPI document, as a script (or the `gas` CLI) meets them."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests
from api_stack_support import RATE_LIMIT, make_token, sample_path, site_user
from openapi_spec_validator import validate

from gas.core.tokens import TokenStore


def _api(stack, token: str | None, method: str, path: str, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{stack.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)


def _slug(resp: requests.Response) -> str:
    assert resp.headers["Content-Type"] == "application/problem+json", resp.text
    return resp.json()["type"].rsplit("/", 1)[-1]


@pytest.fixture
def token_store(api_stack, monkeypatch) -> TokenStore:
    """The stack's token table, for arranging a token's expiry directly."""
    from gas.core.aws import Aws
    from gas.core.config import CoreSettings

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    settings = CoreSettings(prefix=api_stack.prefix, AWS_ENDPOINT_URL=api_stack.moto_url, AWS_REGION="us-east-1")
    return TokenStore(Aws(settings))


def _upload(stack, token: str, name: str = "free_1.vcf") -> str:
    content = sample_path(name).read_bytes()
    upload = _api(stack, token, "POST", "/uploads", json={"file_name": name, "size": len(content)}).json()
    sent = requests.post(upload["url"], data=upload["fields"], files={"file": (name, content)}, timeout=30)
    assert sent.status_code == 204, sent.text
    return upload["upload_id"]


def test_a_revoked_token_is_refused_by_every_worker(api_stack, gas):
    user = site_user(api_stack.url)
    token = make_token(user)
    for _ in range(6):  # both gunicorn workers have it cached now
        assert _api(api_stack, token, "GET", "/me").status_code == 200
    page = user.get("/profile").text
    token_id = page.split("/profile/tokens/", 1)[1].split("/revoke", 1)[0]
    revoked = user.http.post(
        f"{api_stack.url}/profile/tokens/{token_id}/revoke", data={"csrf_token": user.csrf_token("/profile")}
    )
    assert revoked.ok and "was revoked" in revoked.text
    for _ in range(6):
        resp = _api(api_stack, token, "GET", "/me")
        assert resp.status_code == 401 and _slug(resp) == "unauthorized"
    gas.home.mkdir(parents=True)
    done = gas.run("login", "--url", api_stack.url, "--token-stdin", input=token)
    assert done.returncode == 3 and "revoked" in done.stderr


def test_an_expired_token_is_refused(api_stack, token_store):
    user_id = _user_id(api_stack, make_token(site_user(api_stack.url)))
    secret, _ = token_store.create(user_id, "short-lived", {"read"}, lifetime_seconds=1)
    assert _api(api_stack, secret, "GET", "/jobs").status_code == 200
    time.sleep(2.1)
    resp = _api(api_stack, secret, "GET", "/jobs")
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]


def _user_id(stack, token: str) -> str:
    return _api(stack, token, "GET", "/me").json()["user_id"]


def test_a_read_token_cannot_submit(api_stack, gas):
    token = make_token(site_user(api_stack.url), scopes=("read",))
    resp = _api(api_stack, token, "POST", "/uploads", json={"file_name": "a.vcf", "size": 10})
    assert resp.status_code == 403 and _slug(resp) == "insufficient-scope"
    gas.login(token)
    done = gas.run("submit", str(sample_path()))
    assert done.returncode == 3 and "submit" in done.stderr
    assert gas.run("jobs").returncode == 0


def test_user_a_token_on_user_b_job_is_not_found(api_stack, gas):
    token_b = make_token(site_user(api_stack.url))
    job_b = _api(api_stack, token_b, "POST", "/jobs", json={"upload_id": _upload(api_stack, token_b)}).json()["job_id"]
    token_a = make_token(site_user(api_stack.url))
    for method, path in (("GET", ""), ("GET", "/log"), ("GET", "/result"), ("DELETE", "")):
        resp = _api(api_stack, token_a, method, f"/jobs/{job_b}{path}")
        assert resp.status_code == 404 and _slug(resp) == "not-found", (method, path)
    gas.login(token_a)
    for command in (("status", job_b), ("log", job_b), ("download", job_b), ("delete", "--yes", job_b)):
        assert gas.run(*command).returncode == 4, command
    assert _api(api_stack, token_b, "GET", f"/jobs/{job_b}").status_code == 200


def test_the_same_idempotency_key_twice_makes_one_job(api_stack):
    token = make_token(site_user(api_stack.url))
    upload_id = _upload(api_stack, token)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"upload_id": upload_id, "name": "twice"}
    first = _api(api_stack, token, "POST", "/jobs", json=body, headers=dict(key))
    second = _api(api_stack, token, "POST", "/jobs", json=body, headers=dict(key))
    assert (first.status_code, second.status_code) == (201, 200), (first.text, second.text)
    assert first.json()["job_id"] == second.json()["job_id"] == upload_id
    other = _api(api_stack, token, "POST", "/jobs", json={"upload_id": _upload(api_stack, token)}, headers=dict(key))
    assert other.status_code == 422 and _slug(other) == "idempotency-key-reused"
    jobs = _api(api_stack, token, "GET", "/jobs").json()["jobs"]
    assert [j["job_id"] for j in jobs] == [upload_id]


def test_concurrent_retries_with_one_idempotency_key_make_one_job(api_stack):
    token = make_token(site_user(api_stack.url))
    made = []
    for _ in range(5):  # five races of six requests each
        upload_id = _upload(api_stack, token)
        key = {"Idempotency-Key": str(uuid.uuid4())}

        def create(_: int, upload_id: str = upload_id, key: dict = key) -> requests.Response:
            return _api(api_stack, token, "POST", "/jobs", json={"upload_id": upload_id}, headers=dict(key))

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(create, range(6)))
        assert sorted(a.status_code for a in answers) == [200] * 5 + [201], [a.text for a in answers]
        assert {a.json()["job_id"] for a in answers} == {upload_id}
        made.append(upload_id)
    assert sorted(j["job_id"] for j in _api(api_stack, token, "GET", "/jobs").json()["jobs"]) == sorted(made)


def test_over_the_rate_limit_is_429_with_retry_after(api_stack):
    token = make_token(site_user(api_stack.url))
    statuses = [_api(api_stack, token, "GET", "/jobs").status_code for _ in range(RATE_LIMIT + 1)]
    if statuses[-1] == 200:  # the minute turned over mid-burst: the next burst is whole
        statuses = [_api(api_stack, token, "GET", "/jobs").status_code for _ in range(RATE_LIMIT + 1)]
    assert statuses.count(429) >= 1 and statuses[-1] == 429, statuses
    resp = _api(api_stack, token, "GET", "/jobs")
    assert resp.status_code == 429 and _slug(resp) == "rate-limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 61
    # Another user's token is not affected.
    assert _api(api_stack, make_token(site_user(api_stack.url)), "GET", "/jobs").status_code == 200


def test_a_malformed_body_is_422_naming_the_field(api_stack):
    token = make_token(site_user(api_stack.url))
    resp = _api(api_stack, token, "POST", "/jobs", json={"upload_id": str(uuid.uuid4()), "assembly": "hg19"})
    assert resp.status_code == 422 and _slug(resp) == "validation"
    assert [e["field"] for e in resp.json()["errors"]] == ["body.assembly"]
    resp = _api(api_stack, token, "POST", "/uploads", data="not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "body"


def test_the_openapi_document_served_validates(api_stack):
    doc = requests.get(f"{api_stack.url}/api/v1/openapi.json", timeout=30).json()
    validate(doc)
    assert "/api/v1/jobs/{job_id}/result" in doc["paths"]
    docs = requests.get(f"{api_stack.url}/api/v1/docs", timeout=30)
    assert docs.ok and "script-src 'self'" in docs.headers["Content-Security-Policy"]


def test_deleting_through_the_cli_removes_the_job_and_its_files(api_stack, gas):
    token = make_token(site_user(api_stack.url))
    gas.login(token)
    done = gas.run("submit", str(sample_path("test.vcf")), "--wait", "--json")
    assert done.returncode == 0, done.stderr
    (job,) = json.loads(done.stdout)
    s3 = boto3.client(
        "s3", endpoint_url=api_stack.moto_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    results = s3.list_objects_v2(
        Bucket=f"{api_stack.prefix}-results", Prefix=f"{_user_id(api_stack, token)}/{job['job_id']}/"
    )
    assert results.get("KeyCount", 0) >= 3
    assert gas.run("delete", "--yes", job["job_id"]).returncode == 0
    assert gas.run("status", job["job_id"]).returncode == 4
    results = s3.list_objects_v2(
        Bucket=f"{api_stack.prefix}-results", Prefix=f"{_user_id(api_stack, token)}/{job['job_id']}/"
    )
    assert results.get("KeyCount", 0) == 0
