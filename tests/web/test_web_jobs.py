"""Job list (newest first, cursor pages), job page states, log page, JSON API."""

from __future__ import annotations

import re

from jobs_support import new_job
from web_support import csrf_token

from gas.core.jobs import JobStore, new_job_id


def _job(web_aws, user_id: str, n: int, **fields) -> str:
    # Distinct, ordered timestamps: newest first is then file4, file3, ...
    job = new_job(user_id, f"file{n}.vcf", input_size=10, submitted_at=f"2026-01-01T00:00:0{n}.000Z", **fields)
    JobStore(web_aws).create(job)
    return job.job_id


def test_listing_is_paginated_newest_first(settings_factory, web_aws):
    from gas.web.app import create_app

    app = create_app(settings_factory(jobs_per_page=2))
    c = app.test_client()
    token = csrf_token(c, "/auth/local")
    c.post("/auth/local", data={"csrf_token": token, "name": "Pager", "email": f"pager-{new_job_id()}@example.org"})
    with c.session_transaction() as s:
        user_id = s["user_id"]
    for n in range(5):
        _job(web_aws, user_id, n)

    names: list[str] = []
    url: str | None = "/annotations"
    while url:  # follow the "Older" links to the last page
        html = c.get(url).get_data(as_text=True)
        rows = re.findall(r"<tr data-job-id=.*?</tr>", html, re.S)
        assert len(rows) <= 2
        names += [re.search(r"file\d\.vcf", row).group(0) for row in rows]  # type: ignore[union-attr]
        older = re.search(r'id="next-page" href="([^"]+)"', html)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert names == ["file4.vcf", "file3.vcf", "file2.vcf", "file1.vcf", "file0.vcf"]


def test_tampered_cursor_is_400(sign_in):
    c, _ = sign_in()
    assert c.get("/annotations?cursor=MQ==").status_code == 400  # JSON 1, not a key
    other_key = '{"job_id": {"S": "x"}, "user_id": {"S": "someone-else"}, "submitted_at": {"S": "2026"}}'
    import base64

    forged = base64.urlsafe_b64encode(other_key.encode()).decode()
    resp = c.get(f"/annotations?cursor={forged}")
    assert resp.status_code in (200, 400)
    if resp.status_code == 200:
        assert "data-job-id" not in resp.get_data(as_text=True)  # never another user's jobs


def test_running_job_page_polls_and_failed_job_shows_error(sign_in, web_aws):
    c, user_id = sign_in()
    running = _job(web_aws, user_id, 1, status="RUNNING", started_at="2026-01-01T00:00:05.000Z")
    html = c.get(f"/annotations/{running}").get_data(as_text=True)
    assert "RUNNING" in html and "job.js" in html and 'data-active="true"' in html
    assert "2026-01-01 00:00:05 UTC" in html

    failed = _job(web_aws, user_id, 2, status="FAILED", error="line 3: <not a VCF record>")
    html = c.get(f"/annotations/{failed}").get_data(as_text=True)
    assert "job.js" not in html and "FAILED" in html
    assert "line 3: &lt;not a VCF record&gt;" in html
    assert "Download annotated VCF" not in html  # (the input can still be downloaded)
    api = c.get(f"/api/annotations/{failed}").get_json()
    assert api["status"] == "FAILED" and api["error"].startswith("line 3") and "download_url" not in api
    assert c.get(f"/annotations/{failed}/download").status_code == 409


def test_log_page_shows_count_log(sign_in, web_aws):
    c, user_id = sign_in()
    job_id = new_job_id()
    log_key = f"{user_id}/{job_id}/x.vcf.count.log"
    web_aws.client("s3").put_object(
        Bucket=web_aws.names.results_bucket, Key=log_key, Body=b"Total number of variants: 12\n<tag>\n"
    )
    JobStore(web_aws).create(
        new_job(
            user_id,
            "x.vcf",
            job_id=job_id,
            submitted_at="2026-01-02T00:00:00.000Z",
            status="COMPLETED",
            result_bucket=web_aws.names.results_bucket,
            log_key=log_key,
        )
    )
    html = c.get(f"/annotations/{job_id}/log").get_data(as_text=True)
    log = '<pre class="bg-light border rounded p-3" id="job-log" tabindex="0" aria-label="Count log">'
    assert log + "Total number of variants: 12\n&lt;tag&gt;" in html
    # A job without a log yet says so instead of failing.
    pending = _job(web_aws, user_id, 3)
    resp = c.get(f"/annotations/{pending}/log")
    assert resp.status_code == 200 and "No log" in resp.get_data(as_text=True)


def test_archived_results_are_not_downloadable(sign_in, web_aws):
    c, user_id = sign_in()
    job_id = _job(web_aws, user_id, 4, status="COMPLETED", result_key=f"{user_id}/x/annot.vcf", storage="ARCHIVED")
    html = c.get(f"/annotations/{job_id}").get_data(as_text=True)
    assert 'id="archived"' in html and 'id="download"' not in html
    assert c.get(f"/annotations/{job_id}/download").status_code == 409
