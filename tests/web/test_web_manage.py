"""Managing jobs over HTTP (moto server): delete (everything, everywhere, once), re-run on
the other assembly, download the input again; and what the user says at upload."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from jobs_support import new_job
from prometheus_client import REGISTRY
from results_support import make_result, store_result
from web_support import csrf_token, object_exists, requested_events, upload, upload_form

from gas.core.job_record import JobStatus, Storage
from gas.core.jobs import JobStore


@pytest.fixture(scope="module")
def result():
    return make_result(records=200)


def _objects(aws, bucket: str, prefix: str) -> list[str]:
    resp = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in resp.get("Contents", [])]


def _delete(client, job_id: str):
    token = csrf_token(client, f"/annotations/{job_id}")
    return client.post(f"/annotations/{job_id}/delete", data={"csrf_token": token})


def test_delete_removes_input_results_cold_copies_record_and_local_copy(sign_in, web_aws, app, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    s3, results = web_aws.client("s3"), web_aws.names.results_bucket
    # What else a job may have left: a restored copy (thaw) and a cold copy (archive).
    s3.put_object(Bucket=results, Key=f"{job.results_prefix}restored-abc/sample.annot.vcf", Body=b"x")
    s3.put_object(Bucket=results, Key=f"cold/{job.result_key}/0123abcd", Body=b"x", StorageClass="GLACIER")
    assert c.get(f"/annotations/{job.job_id}/variants").status_code == 200  # makes the local copy
    cache = app.extensions["gas"].variants.cache
    assert list(cache.root.glob(f"{job.job_id}-*"))
    other = store_result(web_aws, user_id, result)  # a second job: untouched

    resp = _delete(c, job.job_id)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/annotations")
    assert _objects(web_aws, results, job.results_prefix) == []
    assert _objects(web_aws, results, f"cold/{job.results_prefix}") == []
    assert not object_exists(web_aws, job.input_bucket, job.input_key)
    assert JobStore(web_aws).get(job.job_id) is None
    assert not list(cache.root.glob(f"{job.job_id}-*"))
    # Gone from every page and from the API.
    for path in ("", "/variants", "/variants.tsv", "/log", "/input", "/download"):
        assert c.get(f"/annotations/{job.job_id}{path}").status_code == 404, path
    assert c.get(f"/api/annotations/{job.job_id}").status_code == 404
    listing = c.get("/annotations").get_data(as_text=True)
    assert job.job_id not in listing and other.job_id in listing
    # The other job keeps everything.
    assert len(_objects(web_aws, results, other.results_prefix)) == 4
    assert object_exists(web_aws, other.input_bucket, other.input_key)
    # Deleting again: nothing left to delete.
    token = csrf_token(c, "/annotations")
    assert c.post(f"/annotations/{job.job_id}/delete", data={"csrf_token": token}).status_code == 404


def test_a_deletion_cut_short_is_shown_and_finished_by_deleting_again(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    store = JobStore(web_aws)
    assert store.mark_deleting(job.job_id, user_id).job is not None  # the process died right after
    listing = c.get("/annotations").get_data(as_text=True)
    assert job.job_id in listing and "DELETING" in listing
    page = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert 'id="job-deleting"' in page and 'id="view-variants"' not in page
    assert c.get(f"/annotations/{job.job_id}/variants.tsv").status_code == 409
    assert _delete(c, job.job_id).status_code == 302
    assert store.get(job.job_id) is None
    assert _objects(web_aws, web_aws.names.results_bucket, job.results_prefix) == []


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"status": JobStatus.RUNNING}, "running"),
        ({"storage": Storage.RESTORING, "archive_refs": {"result_key": "s3-glacier:b/k"}}, "restored"),
    ],
)
def test_delete_is_refused_while_running_or_restoring(sign_in, web_aws, result, fields, says):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, **fields)
    page = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert 'id="delete-job"' not in page
    resp = c.post(f"/annotations/{job.job_id}/delete", data={"csrf_token": csrf_token(c, "/annotations")})
    assert resp.status_code == 409 and says in resp.get_data(as_text=True)
    assert JobStore(web_aws).get(job.job_id).deleting_since is None
    assert len(_objects(web_aws, web_aws.names.results_bucket, job.results_prefix)) == 4


def test_state_changing_routes_need_the_csrf_token(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    for path in ("/delete", "/rerun"):
        assert c.post(f"/annotations/{job.job_id}{path}").status_code == 400
        assert c.post(f"/annotations/{job.job_id}{path}", data={"csrf_token": "forged"}).status_code == 400
    assert c.post("/annotations/new", data={"key": "x", "assembly": "GRCh37"}).status_code == 400
    assert c.post("/annotations/new/cancel", data={"key": "x"}).status_code == 400
    assert JobStore(web_aws).get(job.job_id).deleting_since is None


def test_a_deleted_pending_job_is_never_started(web_aws):
    store = JobStore(web_aws)
    job = new_job("u-delete")
    store.create(job)
    assert store.mark_deleting(job.job_id, "someone-else").job is None  # not theirs
    marked = store.mark_deleting(job.job_id, "u-delete")
    assert marked.job is not None and marked.job.deleting and marked.refused is None
    assert store.start(job.job_id, "message-1", 60).gone
    assert store.mark_deleting(job.job_id, "u-delete").job.deleting_since == marked.job.deleting_since  # idempotent
    store.delete(job.job_id)
    assert store.get(job.job_id) is None and store.start(job.job_id, "message-2", 60).gone
    store.delete(job.job_id)  # nothing to delete: fine


def test_rerun_on_the_other_assembly_makes_a_new_job_with_its_own_input(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, name="trio.vcf")
    token = csrf_token(c, f"/annotations/{job.job_id}")
    resp = c.post(f"/annotations/{job.job_id}/rerun", data={"csrf_token": token})
    assert resp.status_code == 302
    new_id = resp.headers["Location"].rsplit("/", 1)[-1]
    new = JobStore(web_aws).get(new_id)
    assert new.assembly == "GRCh38" and new.rerun_of == job.job_id and new.status == JobStatus.PENDING
    assert new.name == "trio.vcf on GRCh38" and new.input_file_name == "trio.vcf"
    assert new.input_key != job.input_key and new.input_key.startswith(f"inputs/{user_id}/{new_id}~")
    body = web_aws.client("s3").get_object(Bucket=new.input_bucket, Key=new.input_key, IfMatch=new.input_etag)
    assert body["Body"].read() == result.vcf
    assert [e["data"]["job_id"] for e in requested_events(web_aws, new_id)] == [new_id]
    page = c.get(f"/annotations/{new_id}").get_data(as_text=True)
    assert "GRCh38" in page and f"/annotations/{job.job_id}" in page  # says what it re-runs
    # A job still running cannot be re-run.
    running = store_result(web_aws, user_id, result, status=JobStatus.RUNNING)
    assert c.post(f"/annotations/{running.job_id}/rerun", data={"csrf_token": token}).status_code == 409


def test_the_input_can_be_downloaded_again_until_it_expires(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, name="mine.vcf")
    resp = c.get(f"/annotations/{job.job_id}/input")
    assert resp.status_code == 302
    got = requests.get(resp.headers["Location"], timeout=10)
    assert got.status_code == 200 and got.content == result.vcf
    assert 'filename="mine.vcf"' in got.headers["Content-Disposition"]
    web_aws.client("s3").delete_object(Bucket=job.input_bucket, Key=job.input_key)  # lifecycle expiry
    assert c.get(f"/annotations/{job.job_id}/input").status_code == 410


def test_assembly_and_name_travel_with_the_upload(sign_in, web_aws):
    c, _ = sign_in()
    form = upload_form(c)
    assert form["policy"]["conditions"].count(["starts-with", "$x-amz-meta-assembly", ""]) == 1
    html = c.get("/annotate").get_data(as_text=True)
    assert 'name="x-amz-meta-assembly"' in html and "GRCh38" in html
    form["fields"]["x-amz-meta-assembly"] = "GRCh38"
    form["fields"]["x-amz-meta-job-name"] = quote("Trio – proband 2")
    _, path = upload(c, "named.vcf", b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", form)
    resp = c.get(path)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    job = JobStore(web_aws).get(resp.headers["Location"].rsplit("/", 1)[-1])
    assert job.assembly == "GRCh38" and job.name == "Trio – proband 2" and not job.assembly_confirmed
    page = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="job-title">Trio – proband 2<' in page


def test_an_unknown_assembly_is_refused_and_the_upload_deleted(sign_in, web_aws):
    c, _ = sign_in()
    form = upload_form(c)
    form["fields"]["x-amz-meta-assembly"] = "hg17"
    _, path = upload(c, "odd.vcf", b"##fileformat=VCFv4.2\n", form)
    resp = c.get(path)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Unknown database &#39;hg17&#39;; this deployment has: GRCh37, GRCh38" in page
    key = form["prefix"] + "odd.vcf"
    assert not object_exists(web_aws, web_aws.names.inputs_bucket, key)


def test_file_too_large_links_to_the_upgrade_page(sign_in, web_aws):
    c, _ = sign_in()
    _, path = upload(c, "big.vcf", b"#" * (150 * 1024 + 1))
    resp = c.get(path)
    assert resp.status_code == 413 and 'id="upgrade-link" href="/subscribe"' in resp.get_data(as_text=True)
    assert 'href="/subscribe"' in c.get("/annotate").get_data(as_text=True)


def _post(client, job_id: str, action: str, **form):
    token = csrf_token(client, f"/annotations/{job_id}")
    return client.post(f"/annotations/{job_id}/{action}", data={"csrf_token": token, **form})


def test_rename_is_the_owners_bounded_one_line_and_never_logged(sign_in, web_aws, capsys):
    c, user_id = sign_in()
    other, _ = sign_in()
    store = JobStore(web_aws)
    job = new_job(user_id, "trio.vcf", input_bucket=web_aws.names.inputs_bucket)
    store.create(job)
    secret = "proband BRCA2 carrier, family 17"
    assert c.post(f"/annotations/{job.job_id}/rename", data={"name": secret}).status_code == 400, "no CSRF token"
    assert _post(other, job.job_id, "rename", name="mine").status_code == 404
    resp = _post(c, job.job_id, "rename", name=f"  {secret} ")
    assert resp.status_code == 302 and store.get(job.job_id).name == secret
    page = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert f'<h1 class="h3 mb-3" id="job-title">{secret}</h1>' in page and 'maxlength="200"' in page
    too_long = _post(c, job.job_id, "rename", name="x" * 201)
    assert too_long.status_code == 400 and "at most 200 characters" in too_long.get_data(as_text=True)
    assert _post(c, job.job_id, "rename", name="two\nlines").status_code == 400
    assert store.get(job.job_id).name == secret, "a refused name changed the job"
    assert _post(c, job.job_id, "rename", name="").status_code == 302 and store.get(job.job_id).name is None
    logged = capsys.readouterr()
    assert "job.renamed" in logged.out + logged.err and secret not in logged.out + logged.err


def test_cancel_a_pending_job_from_its_page(sign_in, web_aws):
    c, user_id = sign_in()
    other, _ = sign_in()
    store = JobStore(web_aws)
    job = new_job(user_id, "trio.vcf", input_bucket=web_aws.names.inputs_bucket)
    store.create(job)
    page = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert 'id="cancel-job"' in page
    assert c.post(f"/annotations/{job.job_id}/cancel").status_code == 400, "no CSRF token"
    assert _post(other, job.job_id, "cancel").status_code == 404
    assert store.get(job.job_id).status == JobStatus.PENDING
    counted = REGISTRY.get_sample_value("gas_web_jobs_cancelled_total", {"status": "PENDING"})
    resp = _post(c, job.job_id, "cancel")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/annotations/{job.job_id}")
    assert REGISTRY.get_sample_value("gas_web_jobs_cancelled_total", {"status": "PENDING"}) == counted + 1
    record = store.get(job.job_id)
    assert record.status == JobStatus.CANCELLED and record.cancelled_at
    page = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert 'data-status="CANCELLED"' in page and 'id="job-cancelled"' in page and 'id="cancel-job"' not in page
    assert c.get(f"/api/annotations/{job.job_id}").get_json()["status"] == "CANCELLED"
    # A finished job cannot be cancelled; a cancelled one can be deleted.
    done = new_job(user_id, "done.vcf", status=JobStatus.FAILED, error="x", input_bucket=web_aws.names.inputs_bucket)
    store.create(done)
    refused = _post(c, done.job_id, "cancel")
    assert refused.status_code == 409 and "already finished" in refused.get_data(as_text=True)
    assert _delete(c, job.job_id).status_code == 302 and store.get(job.job_id) is None
