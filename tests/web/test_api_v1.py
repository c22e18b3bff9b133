"""/api/v1 in-process (Flask test client) against moto over HTTP: tokens from the profile
page, scopes, revocation, expiry, ownership, validation problems, idempotent job
creation, results, the rate limit and the OpenAPI document. The same behaviour through
gunicorn, the CLI and Chromium is in tests/api."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from api_support import PROBLEM_JSON, bearer, create_token, fresh_window, upload_through_api
from api_support import problem as _problem
from deployed_bundle import deploy_bundle
from openapi_spec_validator import validate
from web_support import completed_job, mark_archived, requested_events

from gas.core.job_record import JobStatus
from gas.core.jobs import JobStore
from gas.core.tokens import TokenStore
from gas.web.app import create_app

VCF = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t10177\t.\tA\tAC\t.\tPASS\t.\n"


def test_openapi_document_is_valid_and_describes_every_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    validate(doc)  # OpenAPI 3.1 (openapi-spec-validator)
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule.replace("<", "{").replace(">", "}")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    # Errors are problem documents; operations name their scope.
    create = doc["paths"]["/api/v1/jobs"]["post"]
    assert set(create["responses"]["422"]["content"]) == {PROBLEM_JSON}
    assert create["security"] == [{"bearer": ["submit"]}]
    assert {p["name"] for p in create["parameters"]} == {"Idempotency-Key"}


def test_docs_page_is_served_here_with_no_script(client):
    resp = client.get("/api/v1/docs")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "/api/v1/jobs/{job_id}/result" in html and "rate-limited" in html
    assert '<script src="http' not in html and "cdn" not in html.lower()
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    problem = client.get("/api/v1/problems/rate-limited")
    assert problem.status_code == 200 and "Retry-After" in problem.get_data(as_text=True)
    _problem(client.get("/api/v1/problems/no-such-thing"), 404, "not-found")


def test_no_token_and_the_session_cookie_are_both_unauthorized(sign_in):
    c, _ = sign_in()  # signed in on the site: the API still wants a bearer token
    body = _problem(c.get("/api/v1/jobs"), 401, "unauthorized")
    assert body["instance"] == "/api/v1/jobs"
    assert c.get("/api/v1/jobs").headers["WWW-Authenticate"].startswith("Bearer")
    # A change through the API with the cookie alone: 401, not a CSRF refusal or a job.
    _problem(c.post("/api/v1/uploads", json={"file_name": "a.vcf", "size": 10}), 401, "unauthorized")
    _problem(c.get("/api/v1/jobs", headers=bearer("gas_pat_not-a-token")), 401, "unauthorized")
    _problem(c.get("/api/v1/jobs", headers={"Authorization": "Basic dTpw"}), 401, "unauthorized")


def test_token_is_shown_once_listed_by_prefix_and_works(sign_in, client):
    c, user_id = sign_in(name="Barbara")
    token = create_token(c, name="laptop")
    page = c.get("/profile").get_data(as_text=True)
    assert token not in page and token[:14] in page and "laptop" in page
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.get_data(as_text=True)
    body = me.get_json()
    assert body["user_id"] == user_id and body["name"] == "Barbara" and body["tier"] == "free"
    assert body["token"]["kind"] == "personal" and body["token"]["scopes"] == ["read", "submit"]
    assert me.headers["RateLimit-Limit"] == "600"
    assert "Never" not in c.get("/profile").get_data(as_text=True)  # last used is shown


def test_a_read_token_cannot_submit(sign_in, client):
    c, _ = sign_in()
    token = create_token(c, scopes=("read",))
    assert client.get("/api/v1/jobs", headers=bearer(token)).status_code == 200
    resp = client.post("/api/v1/uploads", json={"file_name": "a.vcf", "size": 10}, headers=bearer(token))
    _problem(resp, 403, "insufficient-scope")
    assert 'scope="submit"' in resp.headers["WWW-Authenticate"]


def test_a_revoked_token_is_refused_at_once(sign_in, client):
    c, user_id = sign_in()
    token = create_token(c)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200  # now cached
    (listed,) = TokenStore(app_services(client).aws).list_for_user(user_id)
    token_form = c.get("/profile").get_data(as_text=True)
    assert f"/profile/tokens/{listed.token_id}/revoke" in token_form
    from web_support import csrf_token

    resp = c.post(f"/profile/tokens/{listed.token_id}/revoke", data={"csrf_token": csrf_token(c, "/profile")})
    assert resp.status_code == 302
    _problem(client.get("/api/v1/me", headers=bearer(token)), 401, "unauthorized")


def test_a_user_revokes_only_their_own_tokens(sign_in, client):
    a, user_a = sign_in()
    b, _ = sign_in()
    token = create_token(a)
    (listed,) = TokenStore(app_services(client).aws).list_for_user(user_a)
    from web_support import csrf_token

    b.post(f"/profile/tokens/{listed.token_id}/revoke", data={"csrf_token": csrf_token(b, "/profile")})
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert listed.token_id not in b.get("/profile").get_data(as_text=True)


def test_an_expired_token_is_refused(sign_in, client, web_aws):
    _, user_id = sign_in()
    secret, _ = TokenStore(web_aws).create(user_id, "short", {"read"}, lifetime_seconds=1)
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    time.sleep(2.1)  # expiry is kept in whole seconds, rounded up
    body = _problem(client.get("/api/v1/me", headers=bearer(secret)), 401, "unauthorized")
    assert "expired" in body["detail"]


def test_a_token_whose_user_is_gone_reads_no_user(sign_in, client, web_aws):
    """The API reads the token's user once, on first use (context.current_user): a token
    that outlived its user's profile is refused where a user is needed, never served as a
    made-up free user."""
    c, user_id = sign_in()
    token = create_token(c)
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert (me["user_id"], me["tier"]) == (user_id, "free")
    web_aws.client("dynamodb").delete_item(TableName=web_aws.names.users_table, Key={"user_id": {"S": user_id}})
    body = _problem(client.get("/api/v1/me", headers=bearer(token)), 401, "unauthorized")
    assert "user does not exist" in body["detail"]


def test_another_users_job_is_not_found(sign_in, client, web_aws):
    a, user_a = sign_in()
    b, _ = sign_in()
    job_id = completed_job(web_aws, user_a)
    token_b = create_token(b)
    for path in ("", "/log", "/result"):
        _problem(client.get(f"/api/v1/jobs/{job_id}{path}", headers=bearer(token_b)), 404, "not-found")
    _problem(client.get("/api/v1/jobs/not-a-uuid", headers=bearer(token_b)), 404, "not-found")
    token_a = create_token(a)
    assert client.get(f"/api/v1/jobs/{job_id}", headers=bearer(token_a)).get_json()["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"upload_id": "nope"}, "body.upload_id"),
        ({"upload_id": str(uuid.uuid4()), "assembly": "hg38"}, "body.assembly"),
        ({"upload_id": str(uuid.uuid4()), "asembly": "GRCh37"}, "body.asembly"),
        ({"upload_id": str(uuid.uuid4()), "name": "x" * 201}, "body.name"),
        ({"upload_id": str(uuid.uuid4()), "name": "two\nlines"}, "body.name"),
        ({"upload_id": str(uuid.uuid4()), "assembly_confirmed": "maybe"}, "body.assembly_confirmed"),
        ({"upload_id": str(uuid.uuid4()), "database": "gencode99"}, "body.database"),
        ({}, "body.upload_id"),
        (None, "body"),
    ],
)
def test_a_malformed_body_is_422_naming_the_field(sign_in, client, body, field):
    c, _ = sign_in()
    token = create_token(c)
    if body is None:
        resp = client.post("/api/v1/jobs", data="{not json", content_type="application/json", headers=bearer(token))
    else:
        resp = client.post("/api/v1/jobs", json=body, headers=bearer(token))
    problem = _problem(resp, 422, "validation")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert field in problem["detail"]


def test_query_and_header_problems_name_their_field(sign_in, client):
    c, _ = sign_in()
    token = create_token(c)
    problem = _problem(client.get("/api/v1/jobs?limit=1000", headers=bearer(token)), 422, "validation")
    assert problem["errors"][0]["field"] == "query.limit"
    problem = _problem(client.get("/api/v1/jobs?cursor=abc", headers=bearer(token)), 422, "validation")
    assert problem["errors"][0]["field"] == "query.cursor"
    headers = {**bearer(token), "Idempotency-Key": "x" * 300}
    problem = _problem(
        client.post("/api/v1/jobs", json={"upload_id": str(uuid.uuid4())}, headers=headers), 422, "validation"
    )
    assert problem["errors"][0]["field"] == "header.Idempotency-Key"


def test_upload_over_the_tier_limit_is_413_and_a_bad_name_422(sign_in, client):
    c, _ = sign_in()
    token = create_token(c)
    resp = client.post("/api/v1/uploads", json={"file_name": "big.vcf", "size": 150 * 1024 + 1}, headers=bearer(token))
    assert "free accounts" in _problem(resp, 413, "too-large")["detail"]
    resp = client.post("/api/v1/uploads", json={"file_name": "notes.txt", "size": 10}, headers=bearer(token))
    assert _problem(resp, 422, "validation")["errors"][0]["field"] == "body.file_name"
    resp = client.post("/api/v1/uploads", json={"file_name": "x.vcf", "size": 0}, headers=bearer(token))
    assert _problem(resp, 422, "validation")["errors"][0]["field"] == "body.size"


def test_upload_then_job_once_per_idempotency_key(sign_in, client, web_aws):
    c, user_id = sign_in()
    token = create_token(c)
    upload_id = upload_through_api(client, token, "../my sample.vcf", VCF)
    headers = {**bearer(token), "Idempotency-Key": "key-1"}
    body = {"upload_id": upload_id, "name": "first run", "assembly": "GRCh37"}
    first = client.post("/api/v1/jobs", json=body, headers=headers)
    assert first.status_code == 201, first.get_data(as_text=True)
    job = first.get_json()
    assert job["job_id"] == upload_id and job["status"] == "PENDING" and job["name"] == "first run"
    assert job["input_file_name"] == "my_sample.vcf" and first.headers["Location"] == f"/api/v1/jobs/{upload_id}"
    again = client.post("/api/v1/jobs", json=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["job_id"] == upload_id
    other = client.post("/api/v1/jobs", json={**body, "name": "other"}, headers=headers)
    _problem(other, 422, "idempotency-key-reused")
    listed = client.get("/api/v1/jobs", headers=bearer(token)).get_json()
    assert [j["job_id"] for j in listed["jobs"]] == [upload_id]
    stored = JobStore(web_aws).get(upload_id)
    assert stored.name == "first run" and stored.assembly == "GRCh37" and stored.user_id == user_id
    # The retry found the PENDING job and announced it again (the annotator's lease dedups).
    assert len(requested_events(web_aws, upload_id)) == 2


def test_databases_listed_and_a_job_names_a_bundle(sign_in, client, web_aws, tmp_path, monkeypatch):
    deployed = deploy_bundle(tmp_path)
    monkeypatch.setenv("GAS_ANNOTATION_DB_DIR", str(deployed.db_dir))
    c, _ = sign_in()
    token = create_token(c)
    listed = client.get("/api/v1/databases", headers=bearer(token)).get_json()["databases"]
    assert [(d["name"], d["kind"], d["assembly"]) for d in listed] == [
        ("GRCh37", "genes", "GRCh37"),
        ("GRCh38", "genes", "GRCh38"),
        (deployed.name, "bundle", ""),
    ]
    assert listed[2]["label"] == f"other genome — {deployed.name} transcripts (genes.gff3)"
    upload_id = upload_through_api(client, token, "tx.vcf", deployed.vcf.read_bytes())
    resp = client.post("/api/v1/jobs", json={"upload_id": upload_id, "database": deployed.name}, headers=bearer(token))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    job = resp.get_json()
    assert job["database"] == deployed.name and job["database_kind"] == f"bundle {deployed.name}"
    stored = JobStore(web_aws).get(upload_id)
    assert stored.database == deployed.name and stored.assembly == "GRCh37"  # no human check for another genome
    # An assembly's name is its genes-only database; old clients send none and get the same.
    upload_id = upload_through_api(client, token, "genes.vcf", VCF)
    resp = client.post("/api/v1/jobs", json={"upload_id": upload_id, "database": "GRCh37"}, headers=bearer(token))
    assert resp.status_code == 201 and resp.get_json()["database"] is None
    assert resp.get_json()["database_kind"] == "genes only"
    refused = client.post("/api/v1/jobs", json={"upload_id": str(uuid.uuid4()), "database": "x"}, headers=bearer(token))
    detail = _problem(refused, 422, "validation")["detail"]
    assert f"Unknown database 'x'; this deployment has: GRCh37, GRCh38, {deployed.name}" in detail


def test_job_of_an_unknown_upload_is_404(sign_in, client):
    c, _ = sign_in()
    token = create_token(c)
    resp = client.post("/api/v1/jobs", json={"upload_id": str(uuid.uuid4())}, headers=bearer(token))
    _problem(resp, 404, "upload-not-found")


def test_result_link_log_and_cold_results(sign_in, client, web_aws):
    c, user_id = sign_in()
    token = create_token(c, scopes=("read",))
    job_id = completed_job(web_aws, user_id)
    result = client.get(f"/api/v1/jobs/{job_id}/result", headers=bearer(token))
    assert result.status_code == 200, result.get_data(as_text=True)
    link = result.get_json()
    assert link["file_name"] == "sample.annot.vcf"
    assert requests.get(link["url"], timeout=10).content == b"##fileformat=VCFv4.2\n"
    log = client.get(f"/api/v1/jobs/{job_id}/log", headers=bearer(token)).get_json()
    assert log == {"job_id": job_id, "text": "variants: 3\n", "truncated": False}
    mark_archived(web_aws, job_id)
    cold = _problem(client.get(f"/api/v1/jobs/{job_id}/result", headers=bearer(token)), 409, "results-cold")
    assert "Upgrade to premium" in cold["detail"] and cold["storage"] == "ARCHIVED"


def test_over_the_rate_limit_is_429_with_retry_after(settings_factory, web_aws):
    app = create_app(settings_factory(api_rate_limit=3, api_rate_window_seconds=60))
    from web_support import csrf_token

    c = app.test_client()
    c.post("/auth/local", data={"csrf_token": csrf_token(c, "/auth/local"), "name": "R", "email": "r@example.org"})
    token = create_token(c)
    api = app.test_client()
    fresh_window(60)
    statuses = [api.get("/api/v1/me", headers=bearer(token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    resp = api.get("/api/v1/me", headers=bearer(token))
    _problem(resp, 429, "rate-limited")
    assert 1 <= int(resp.headers["Retry-After"]) <= 61
    # Per user as well: another token of the same user shares the user's count.
    _problem(api.get("/api/v1/me", headers=bearer(create_token(c))), 429, "rate-limited")


def test_unknown_route_and_wrong_method_are_problems(client):
    _problem(client.get("/api/v1/nothing-here"), 404, "not-found")
    resp = client.delete("/api/v1/me")
    _problem(resp, 405, "method-not-allowed")


def app_services(client):
    return client.application.extensions["gas"]


def test_delete_removes_a_finished_job_and_everything_it_stored(sign_in, client, web_aws):
    from web_support import object_exists

    c, user_id = sign_in()
    token = create_token(c)
    job_id = completed_job(web_aws, user_id)
    job = JobStore(web_aws).get(job_id)
    results = web_aws.names.results_bucket
    cold_key = f"cold/{job.result_key}/copy1"
    web_aws.client("s3").put_object(Bucket=results, Key=cold_key, Body=b"cold", StorageClass="GLACIER")
    web_aws.client("dynamodb").update_item(
        TableName=web_aws.names.jobs_table,
        Key={"job_id": {"S": job_id}},
        UpdateExpression="SET archive_refs = :r",
        ExpressionAttributeValues={":r": {"M": {"result_key": {"S": f"s3-glacier:{results}/{cold_key}"}}}},
    )
    other = create_token(sign_in()[0])
    _problem(client.delete(f"/api/v1/jobs/{job_id}", headers=bearer(other)), 404, "not-found")
    reader = create_token(c, scopes=("read",))
    _problem(client.delete(f"/api/v1/jobs/{job_id}", headers=bearer(reader)), 403, "insufficient-scope")

    resp = client.delete(f"/api/v1/jobs/{job_id}", headers=bearer(token))
    assert resp.status_code == 204, resp.get_data(as_text=True)
    assert JobStore(web_aws).get(job_id) is None
    for key in (job.result_key, job.log_key, cold_key):
        assert not object_exists(web_aws, results, key), key
    _problem(client.delete(f"/api/v1/jobs/{job_id}", headers=bearer(token)), 404, "not-found")
    _problem(client.get(f"/api/v1/jobs/{job_id}", headers=bearer(token)), 404, "not-found")


@pytest.mark.parametrize(
    ("status", "storage", "says"), [("RUNNING", "HOT", "running"), ("COMPLETED", "RESTORING", "restored")]
)
def test_delete_is_refused_while_the_job_is_busy(sign_in, client, web_aws, status, storage, says):
    from jobs_support import new_job

    c, user_id = sign_in()
    token = create_token(c)
    job = new_job(user_id, status=status, storage=storage, input_bucket=web_aws.names.inputs_bucket)
    JobStore(web_aws).create(job)
    body = _problem(client.delete(f"/api/v1/jobs/{job.job_id}", headers=bearer(token)), 409, "job-busy")
    assert says in body["detail"]
    assert JobStore(web_aws).get(job.job_id).deleting_since is None


def test_rename_and_cancel_through_the_api(sign_in, client, web_aws):
    from jobs_support import new_job

    c, user_id = sign_in()
    token = create_token(c)
    store = JobStore(web_aws)
    job = new_job(user_id, input_bucket=web_aws.names.inputs_bucket)
    store.create(job)
    url = f"/api/v1/jobs/{job.job_id}"
    other = create_token(sign_in()[0])
    _problem(client.patch(url, json={"name": "x"}, headers=bearer(other)), 404, "not-found")
    _problem(client.post(f"{url}/cancel", headers=bearer(other)), 404, "not-found")
    reader = create_token(c, scopes=("read",))
    _problem(client.patch(url, json={"name": "x"}, headers=bearer(reader)), 403, "insufficient-scope")
    _problem(client.post(f"{url}/cancel", headers=bearer(reader)), 403, "insufficient-scope")
    for bad in ({"name": "x" * 201}, {"name": "two\nlines"}, {"nme": "x"}):
        _problem(client.patch(url, json=bad, headers=bearer(token)), 422, "validation")

    renamed = client.patch(url, json={"name": "trio, run 2"}, headers=bearer(token))
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "trio, run 2"
    assert client.patch(url, json={"name": None}, headers=bearer(token)).get_json()["name"] is None

    cancelled = client.post(f"{url}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)
    body = cancelled.get_json()
    assert body["status"] == "CANCELLED" and body["cancelled_at"] and body["completed_at"] is None
    assert client.post(f"{url}/cancel", headers=bearer(token)).get_json()["status"] == "CANCELLED"
    _problem(client.get(f"{url}/result", headers=bearer(token)), 409, "job-cancelled")
    _problem(client.get(f"{url}/variants", headers=bearer(token)), 409, "job-cancelled")
    done = completed_job(web_aws, user_id)
    _problem(client.post(f"/api/v1/jobs/{done}/cancel", headers=bearer(token)), 409, "job-finished")


def test_a_running_jobs_progress_in_the_api_the_page_and_the_openapi_document(sign_in, client, web_aws):
    """What the annotator writes (JobStore.report_progress, its current attempt only) is the
    job's progress in /api/v1, on the job page and in the JSON the page polls; a stale
    attempt's report is refused, and a finished job has none."""
    from jobs_support import new_job

    c, user_id = sign_in()
    token = create_token(c)
    store = JobStore(web_aws)
    job = new_job(user_id, input_size=1_000_000, input_bucket=web_aws.names.inputs_bucket)
    store.create(job)
    url = f"/api/v1/jobs/{job.job_id}"
    assert client.get(url, headers=bearer(token)).get_json()["progress"] is None  # PENDING
    attempt = store.start(job.job_id, "message-1", 60).attempt
    assert attempt == 1
    page = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert 'id="job-progress"' in page and "starting" in page
    assert store.report_progress(job.job_id, attempt, "message-1", 123_456, 400_000)
    assert not store.report_progress(job.job_id, attempt + 1, "message-1", 9, 999_999), "a stale attempt wrote"
    assert not store.report_progress(job.job_id, attempt, "another-message", 9, 999_999), "a non-holder wrote"

    progress = client.get(url, headers=bearer(token)).get_json()["progress"]
    assert progress["records"] == 123_456 and progress["percent"] == 40.0
    assert progress["eta_seconds"] is not None and progress["eta_seconds"] >= 0 and progress["updated_at"]
    page = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert '<progress max="100" value="40.0"' in page and "123,456 records written, 40.0% of the file read" in page
    polled = c.get(f"/api/annotations/{job.job_id}").get_json()["progress"]
    assert polled["text"].startswith("123,456 records written, 40.0% of the file read")

    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert {"records", "percent", "eta_seconds", "updated_at"} <= set(schema["JobProgress"]["properties"])

    store.finish(job.job_id, attempt, JobStatus.FAILED, error="stopped for the test")
    assert client.get(url, headers=bearer(token)).get_json()["progress"] is None
    assert not store.report_progress(job.job_id, attempt, "message-1", 1, 1), "a finished job took progress"
    # A new attempt starts without the previous one's figures.
    again = new_job(user_id, input_bucket=web_aws.names.inputs_bucket)
    store.create(again)
    first = store.start(again.job_id, "m", -1).attempt
    store.report_progress(again.job_id, first, "m", 5, 50)
    store.start(again.job_id, "m2", 60)
    assert store.get(again.job_id).progress_records is None
