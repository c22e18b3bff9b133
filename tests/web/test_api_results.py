"""/api/v1 over the results work (issue 12), in-process against moto over HTTP: the
variant table (`GET /jobs/{id}/variants`: the web table's filters and counts, cursor
pages, the size cap, 422 naming the parameter, 409 with the reason), the assembly check
of job creation shared with the browser (409 `assembly-mismatch` until confirmed), and
the deletion shared with the job page (a PENDING job, a deletion cut short)."""

from __future__ import annotations

import re

import pytest
from api_support import bearer, create_token, problem, upload_through_api
from results_support import BAD_FILTERS, expected_rows, make_result, store_result
from web_support import completed_job, csrf_token, object_exists, upload, upload_form

from gas.core.job_record import JobStatus, Storage
from gas.core.jobs import JobStore
from gas.web.uploads import claimed_key
from gas.web.variants import COLUMNS, MAX_PAGE_SIZE, VariantFilter

# A GRCh38 file by its header (gas.core.assembly reads `##reference`).
GRCH38_VCF = (
    b"##fileformat=VCFv4.2\n##reference=GRCh38\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    b"1\t10177\t.\tA\tAC\t.\tPASS\t.\n"
)
TP53_FILTER = "gene=TP53&region=CDS,UTR&region=intron"


@pytest.fixture(scope="module")
def result():
    return make_result(records=800)


def _variants(client, token: str, job_id: str, query: str = ""):
    return client.get(f"/api/v1/jobs/{job_id}/variants?{query}", headers=bearer(token))


# -- the variant table --------------------------------------------------------------------
def test_variants_are_the_web_tables_rows_filtered_and_paged_by_cursor(sign_in, client, web_aws, result):
    c, user_id = sign_in()
    token = create_token(c, scopes=("read",))
    job = store_result(web_aws, user_id, result)
    want = expected_rows(result.rows, VariantFilter(genes=("TP53",), regions=("CDS", "UTR", "intron")))
    resp = _variants(client, token, job.job_id, f"{TP53_FILTER}&size=20")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    page = resp.get_json()
    assert page["matched"] == len(want) > 20 and page["total"] == len(result.rows)
    assert page["filters"] == {"gene": "TP53", "region": "CDS,UTR,intron"} and page["size"] == 20
    assert all(v.pop("genotypes") is None for v in page["variants"])  # without ?show=
    assert all(v.pop("sources") is None for v in page["variants"]) and page["source_columns"] == []  # no sources
    # every column, value for value (a bundle's, which these rows lack, null)
    assert page["variants"] == [{**dict.fromkeys(COLUMNS), **r} for r in want[:20]]
    assert set(page["variants"][0]) == {*COLUMNS, "record"}
    seen = page["variants"]
    while page["next_cursor"]:
        page = _variants(client, token, job.job_id, f"{TP53_FILTER}&size=20&cursor={page['next_cursor']}").get_json()
        seen += page["variants"]
    assert [v["record"] for v in seen] == [r["record"] for r in want]
    # The web table counts the same.
    html = c.get(f"/annotations/{job.job_id}/variants?{TP53_FILTER}").get_data(as_text=True)
    assert int(re.search(r'data-matched="(\d+)"', html).group(1)) == len(want)
    # Sorted by gene; the default page size; a size over the cap is capped.
    by_gene = _variants(client, token, job.job_id, "sort=gene").get_json()
    assert [v["record"] for v in by_gene["variants"]] == [
        r["record"] for r in expected_rows(result.rows, VariantFilter(), "gene")[:50]
    ]
    capped = _variants(client, token, job.job_id, "size=100000").get_json()
    assert len(result.rows) > MAX_PAGE_SIZE and capped["size"] == MAX_PAGE_SIZE
    assert len(capped["variants"]) == MAX_PAGE_SIZE
    # The job links to its table.
    job_out = client.get(f"/api/v1/jobs/{job.job_id}", headers=bearer(token)).get_json()
    assert job_out["links"]["variants"] == f"/api/v1/jobs/{job.job_id}/variants"
    assert job_out["database_version"] == "GRCh37-v1" and job_out["deleting"] is False


@pytest.mark.parametrize(
    ("query", "parameter"),
    BAD_FILTERS
    + [
        ("sort=random", "sort"),
        ("size=0", "size"),
        ("cursor=bm9wZQ", "cursor"),
        ("colour=red", "colour"),
    ],
)
def test_a_bad_variant_parameter_is_422_naming_it(sign_in, client, web_aws, result, query, parameter):
    c, user_id = sign_in()
    token = create_token(c, scopes=("read",))
    job = store_result(web_aws, user_id, result)
    body = problem(_variants(client, token, job.job_id, query), 422, "validation")
    assert [e["field"] for e in body["errors"]] == [f"query.{parameter}"], body


def test_variants_of_another_user_or_with_no_table_now(sign_in, client, web_aws, result):
    c, user_id = sign_in()
    token = create_token(c, scopes=("read",))
    other = create_token(sign_in()[0])
    job = store_result(web_aws, user_id, result)
    problem(_variants(client, other, job.job_id), 404, "not-found")
    cases = [
        (store_result(web_aws, user_id, result, status=JobStatus.RUNNING), "not-finished", "not_completed"),
        (store_result(web_aws, user_id, result, status=JobStatus.FAILED, error="bad"), "job-failed", "not_completed"),
        (store_result(web_aws, user_id, result, storage=Storage.ARCHIVED), "results-cold", "cold"),
        (store_result(web_aws, user_id, result, storage=Storage.RESTORING), "results-cold", "restoring"),
        (JobStore(web_aws).get(completed_job(web_aws, user_id)), "no-variant-table", "no_table"),
    ]
    for case, slug, reason in cases:
        body = problem(_variants(client, token, case.job_id), 409, slug)
        assert body["reason"] == reason, body
    assert problem(_variants(client, token, cases[2][0].job_id), 409, "results-cold")["storage"] == "ARCHIVED"
    # A job being deleted serves nothing any more.
    assert JobStore(web_aws).mark_deleting(job.job_id, user_id).job is not None
    for path in ("variants", "result", "log"):
        resp = client.get(f"/api/v1/jobs/{job.job_id}/{path}", headers=bearer(token))
        problem(resp, 409, "job-deleting")


# -- the assembly check, shared with the browser ----------------------------------------
def test_a_file_on_another_assembly_is_refused_until_confirmed(sign_in, client, web_aws):
    c, user_id = sign_in()
    token = create_token(c)
    store = JobStore(web_aws)
    # Chosen as GRCh37: 409 naming the detected assembly and why; nothing made, upload kept.
    upload_id = upload_through_api(client, token, "hg38.vcf", GRCH38_VCF)
    headers = {**bearer(token), "Idempotency-Key": "first"}
    asked = client.post("/api/v1/jobs", json={"upload_id": upload_id}, headers=headers)
    body = problem(asked, 409, "assembly-mismatch")
    assert body["detected_assembly"] == "GRCh38" and body["chosen_assembly"] == "GRCh37"
    assert "header says GRCh38" in body["reason"] and "assembly_confirmed" in body["detail"]
    assert store.get(upload_id) is None
    upload_key = f"uploads/{user_id}/{upload_id}~hg38.vcf"
    assert object_exists(web_aws, web_aws.names.inputs_bucket, upload_key)
    # Confirmed: the job records the warning and the confirmation (the engine gets it).
    confirmed = client.post(
        "/api/v1/jobs",
        json={"upload_id": upload_id, "assembly": "GRCh37", "assembly_confirmed": True},
        headers={**bearer(token), "Idempotency-Key": "second"},
    )
    assert confirmed.status_code == 201, confirmed.get_data(as_text=True)
    job = confirmed.get_json()
    assert job["assembly"] == "GRCh37" and job["assembly_confirmed"] is True
    assert "header says GRCh38" in job["assembly_warning"]
    assert store.get(upload_id).assembly_confirmed
    assert not object_exists(web_aws, web_aws.names.inputs_bucket, upload_key)  # claimed
    # Chosen as what it is: no question, no warning.
    second = upload_through_api(client, token, "hg38.vcf", GRCH38_VCF)
    ok = client.post("/api/v1/jobs", json={"upload_id": second, "assembly": "GRCh38"}, headers=bearer(token))
    assert ok.status_code == 201, ok.get_data(as_text=True)
    assert ok.get_json()["assembly_warning"] is None and ok.get_json()["assembly_confirmed"] is False


def test_the_browser_gets_the_question_page_from_the_same_check(sign_in, web_aws):
    c, _ = sign_in()
    form = upload_form(c)
    form["fields"]["x-amz-meta-assembly"] = "GRCh37"
    _, path = upload(c, "hg38.vcf", GRCH38_VCF, form)
    asked = c.get(path)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 409 and "header says GRCh38" in html
    assert 'id="use-likely"' in html and "Annotate as GRCh38" in html and 'id="discard"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    key = form["prefix"] + "hg38.vcf"
    created = c.post("/annotations/new", data={"csrf_token": token, "key": key, "assembly": "GRCh38", "name": "t"})
    assert created.status_code == 302, created.get_data(as_text=True)
    job = JobStore(web_aws).get(created.headers["Location"].rsplit("/", 1)[-1])
    assert job.assembly == "GRCh38" and job.assembly_warning is None and job.name == "t"
    assert job.input_key == claimed_key(key)
    # Another upload of it, discarded from the question page: it goes.
    form = upload_form(c)
    _, path = upload(c, "hg38.vcf", GRCH38_VCF, form)
    assert c.get(path).status_code == 409
    key = form["prefix"] + "hg38.vcf"
    discarded = c.post("/annotations/new/cancel", data={"csrf_token": csrf_token(c, "/annotate"), "key": key})
    assert discarded.status_code == 302
    assert not object_exists(web_aws, web_aws.names.inputs_bucket, key)


# -- deletion, shared with the job page --------------------------------------------------
def test_a_pending_job_and_a_deletion_cut_short_are_deleted(sign_in, client, web_aws, result):
    c, user_id = sign_in()
    token = create_token(c)
    store = JobStore(web_aws)
    upload_id = upload_through_api(client, token, "sample.vcf", result.vcf)
    created = client.post("/api/v1/jobs", json={"upload_id": upload_id}, headers=bearer(token)).get_json()
    assert created["status"] == "PENDING"
    job = store.get(upload_id)
    assert client.delete(f"/api/v1/jobs/{upload_id}", headers=bearer(token)).status_code == 204
    assert store.get(upload_id) is None and not object_exists(web_aws, job.input_bucket, job.input_key)
    # Cut short (the process died after marking it): listed as deleting, finished by DELETE.
    done = store_result(web_aws, user_id, result)
    assert store.mark_deleting(done.job_id, user_id).job is not None
    assert client.get(f"/api/v1/jobs/{done.job_id}", headers=bearer(token)).get_json()["deleting"] is True
    assert client.delete(f"/api/v1/jobs/{done.job_id}", headers=bearer(token)).status_code == 204
    assert store.get(done.job_id) is None
    listed = web_aws.client("s3").list_objects_v2(Bucket=web_aws.names.results_bucket, Prefix=done.results_prefix)
    assert listed["KeyCount"] == 0
