"""Presigned POST policies by tier, real uploads to moto over HTTP, job creation from
S3's redirect, replay, and every refusal leaving nothing behind."""

from __future__ import annotations

import uuid

import pytest
import requests
from web_support import completed_job, csrf_token, make_premium, object_exists, requested_events, upload, upload_form

from gas.core.jobs import JobStore
from gas.web.app import create_app
from gas.web.uploads import UploadKeyError, has_allowed_suffix, name_problem, parse_key, safe_filename

VCF = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t10177\t.\tA\tAC\t.\tPASS\t.\n"


def _condition(policy: dict, name: str):
    for cond in policy["conditions"]:
        if isinstance(cond, list) and cond[0] == name:
            return cond
    raise AssertionError(f"no {name} condition in {policy}")


def test_policy_limits_size_by_tier(sign_in, web_aws):
    c, user_id = sign_in()
    free = upload_form(c)
    assert _condition(free["policy"], "content-length-range") == ["content-length-range", 1, 150 * 1024]
    prefix = _condition(free["policy"], "starts-with")
    assert prefix[1] == "$key" and prefix[2].startswith(f"uploads/{user_id}/") and prefix[2].endswith("~")
    assert free["prefix"] == prefix[2]
    assert {"success_action_redirect": "http://127.0.0.1:8080/annotations/new"} in free["policy"]["conditions"]
    assert free["url"].endswith(f"/{web_aws.names.inputs_bucket}")
    assert free["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"

    make_premium(web_aws, user_id)
    premium = upload_form(c)
    assert _condition(premium["policy"], "content-length-range") == ["content-length-range", 1, 1024**3]
    assert premium["prefix"] != free["prefix"]  # a new job id for every form


def test_upload_creates_pending_job_and_publishes_once_per_request(sign_in, web_aws):
    c, user_id = sign_in()
    form, redirect = upload(c, "sample.vcf", VCF)
    job_id = form["prefix"].split("/")[-1].rstrip("~")

    resp = c.get(redirect)
    assert resp.status_code == 302 and resp.headers["Location"] == f"/annotations/{job_id}"
    job = JobStore(web_aws).get(job_id)
    assert job.status == "PENDING" and job.user_id == user_id
    assert job.input_file_name == "sample.vcf"
    # The claimed copy under inputs/ (its own retention); the upload itself is gone.
    assert job.input_key == f"inputs/{user_id}/{job_id}~sample.vcf"
    s3 = web_aws.client("s3")
    assert s3.head_object(Bucket=job.input_bucket, Key=job.input_key)["ETag"] == job.input_etag
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=job.input_bucket, Key=f"uploads/{user_id}/{job_id}~sample.vcf")
    assert job.input_bucket == web_aws.names.inputs_bucket
    assert job.input_size == len(VCF) and job.submitted_at.endswith("Z")

    events = requested_events(web_aws, job_id)
    assert len(events) == 1
    event = events[0]
    assert event["type"] == "job.requested" and event["version"] == 1
    assert event["data"] == {"job_id": job_id, "user_id": user_id}
    page = c.get(f"/annotations/{job_id}").get_data(as_text=True)
    assert "PENDING" in page and "job.js" in page  # the page polls while PENDING

    # Replay of the same redirect (reload, crash before publish): still one job, and
    # the PENDING job's event is published again for the worker to dedup.
    again = c.get(redirect)
    assert again.status_code == 302 and again.headers["Location"] == f"/annotations/{job_id}"
    jobs = JobStore(web_aws).list_for_user(user_id).jobs
    assert [j.job_id for j in jobs] == [job_id]
    assert len(requested_events(web_aws, job_id)) == 1


def test_gzipped_vcf_is_accepted(sign_in, web_aws):
    c, _ = sign_in()
    _, redirect = upload(c, "calls.vcf.gz", b"\x1f\x8b" + b"\0" * 50)
    assert c.get(redirect).status_code == 302


def test_oversize_upload_for_free_user_is_refused_and_deleted(sign_in, web_aws):
    c, user_id = sign_in()
    # moto does not enforce content-length-range (S3 does): the server re-checks.
    form, redirect = upload(c, "big.vcf", VCF + b"#" * (150 * 1024))
    key = form["prefix"] + "big.vcf"
    resp = c.get(redirect)
    assert resp.status_code == 413
    assert "free accounts may upload at most" in resp.get_data(as_text=True)
    assert not object_exists(web_aws, web_aws.names.inputs_bucket, key)
    assert JobStore(web_aws).list_for_user(user_id).jobs == []


def test_premium_user_may_upload_more(sign_in, web_aws):
    c, user_id = sign_in()
    make_premium(web_aws, user_id)
    _, redirect = upload(c, "big.vcf", VCF + b"#" * (200 * 1024))
    assert c.get(redirect).status_code == 302
    assert len(JobStore(web_aws).list_for_user(user_id).jobs) == 1


def test_unsafe_names_are_refused_deleted_and_never_rendered_raw(sign_in, web_aws):
    c, user_id = sign_in()
    for name in ("../../etc/evil.vcf", "<script>alert(1)</script>.vcf", "notes.txt", "${filename}"):
        form, redirect = upload(c, name, VCF)
        resp = c.get(redirect)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400, name
        assert "<script>alert(1)" not in html
        assert not object_exists(web_aws, web_aws.names.inputs_bucket, form["prefix"] + name), name
    assert JobStore(web_aws).list_for_user(user_id).jobs == []


def test_someone_elses_upload_is_refused_and_left_alone(sign_in, web_aws):
    owner, _ = sign_in()
    other, _ = sign_in()
    form, redirect = upload(owner, "mine.vcf", VCF)
    resp = other.get(redirect)
    assert resp.status_code == 400
    assert object_exists(web_aws, web_aws.names.inputs_bucket, form["prefix"] + "mine.vcf")
    assert owner.get(redirect).status_code == 302  # the owner can still submit it


def test_reused_form_for_second_file_is_refused(sign_in, web_aws):
    c, user_id = sign_in()
    form, first = upload(c, "one.vcf", VCF)
    assert c.get(first).status_code == 302
    _, second = upload(c, "two.vcf", VCF, form=form)
    assert c.get(second).status_code == 409
    assert not object_exists(web_aws, web_aws.names.inputs_bucket, form["prefix"] + "two.vcf")
    claimed = "inputs/" + form["prefix"].removeprefix("uploads/") + "one.vcf"
    assert object_exists(web_aws, web_aws.names.inputs_bucket, claimed)
    assert len(JobStore(web_aws).list_for_user(user_id).jobs) == 1


def test_missing_object_and_bad_keys(sign_in, web_aws):
    c, user_id = sign_in()
    form = upload_form(c)
    missing = c.get(f"/annotations/new?bucket={web_aws.names.inputs_bucket}&key={form['prefix']}gone.vcf")
    assert missing.status_code == 400 and "not found" in missing.get_data(as_text=True)
    assert c.get(f"/annotations/new?bucket=other-bucket&key={form['prefix']}x.vcf").status_code == 400
    assert c.get(f"/annotations/new?key=uploads/{user_id}/not-a-uuid~x.vcf").status_code == 400
    assert c.get("/annotations/new").status_code == 400


def test_download_link_is_presigned_and_works(sign_in, web_aws):
    c, user_id = sign_in()
    job_id = completed_job(web_aws, user_id)
    page = c.get(f"/annotations/{job_id}").get_data(as_text=True)
    assert f"/annotations/{job_id}/download" in page and "genes hit" in page
    resp = c.get(f"/annotations/{job_id}/download")
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in location and "X-Amz-Expires=60" in location
    got = requests.get(location, timeout=10)
    assert got.status_code == 200 and got.content.startswith(b"##fileformat=VCF")
    api = c.get(f"/api/annotations/{job_id}").get_json()
    assert api["status"] == "COMPLETED" and api["download_url"] and api["summary"]["variants"] == 3


def test_safe_filename_rules():
    assert safe_filename("../../etc/passwd.vcf") == "passwd.vcf"
    assert safe_filename("C:\\data\\my calls.vcf") == "my_calls.vcf"
    assert safe_filename("<script>.vcf") == "_script_.vcf"
    assert safe_filename("...hidden.vcf") == "hidden.vcf"
    long = safe_filename("a" * 300 + ".vcf.gz")
    assert len(long) == 128 and long.endswith(".vcf.gz")
    assert has_allowed_suffix("X.VCF") and has_allowed_suffix("x.vcf.gz")
    assert not has_allowed_suffix(".vcf") and not has_allowed_suffix("x.vcf.zip")
    assert name_problem("ok.vcf") is None
    assert name_problem("bad name.vcf") and name_problem("x.bam") and name_problem("")
    assert parse_key("uploads/u1/0f8fad5b-d9cb-469f-a165-70867728950e~a.vcf", "u1").file_name == "a.vcf"
    for key in (
        "uploads/u2/0f8fad5b-d9cb-469f-a165-70867728950e~a.vcf",
        "u1/0f8fad5b-d9cb-469f-a165-70867728950e~a.vcf",
        "inputs/u1/0f8fad5b-d9cb-469f-a165-70867728950e~a.vcf",
        "uploads/u1/xyz~a.vcf",
        "uploads/u1/0f8fad5b-d9cb-469f-a165-70867728950e",
    ):
        try:
            parse_key(key, "u1")
        except UploadKeyError:
            continue
        raise AssertionError(key)


def test_publish_failure_is_repaired_by_replaying_the_redirect(app, sign_in, web_aws, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    c, user_id = sign_in()
    form, redirect = upload(c, "late.vcf", VCF)
    job_id = form["prefix"].split("/")[-1].rstrip("~")
    sns = app.extensions["gas"].aws.client("sns")

    def down(**_kwargs):
        raise EndpointConnectionError(endpoint_url="http://sns")

    monkeypatch.setattr(sns, "publish", down)
    resp = c.get(redirect)
    assert resp.status_code == 503 and "Reload this page" in resp.get_data(as_text=True)
    assert JobStore(web_aws).get(job_id).status == "PENDING"  # created, not announced
    assert requested_events(web_aws, job_id) == []

    monkeypatch.undo()
    assert c.get(redirect).status_code == 302
    assert len(requested_events(web_aws, job_id)) == 1
    assert len(JobStore(web_aws).list_for_user(user_id).jobs) == 1


def test_browser_facing_s3_endpoint_is_used_for_forms_links_and_csp(settings_factory, web_aws, moto_url):
    """Dev mode on kind: moto is in-cluster only, browsers reach it through the ingress.
    Here `localhost` stands for that second address of the same moto server."""
    public = moto_url.replace("127.0.0.1", "localhost")
    app = create_app(settings_factory(s3_public_endpoint_url=public))
    c = app.test_client()
    token = csrf_token(c, "/auth/local")
    assert (
        c.post(
            "/auth/local",
            data={"csrf_token": token, "name": "Kind", "email": f"kind-{uuid.uuid4().hex[:8]}@example.org"},
        ).status_code
        == 302
    )
    with c.session_transaction() as s:
        user_id = s["user_id"]
    assert f"form-action 'self' {public}" in c.get("/annotate").headers["Content-Security-Policy"]
    form, redirect_path = upload(
        c, "test.vcf", b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    )
    assert form["url"].startswith(public + "/")
    created = c.get(redirect_path)  # the web app itself still talks to its own endpoint
    assert created.status_code == 302 and "/annotations/" in created.headers["Location"]
    job_id = completed_job(web_aws, user_id)
    link = c.get(f"/annotations/{job_id}/download").headers["Location"]
    assert link.startswith(public + "/") and requests.get(link, timeout=10).status_code == 200
