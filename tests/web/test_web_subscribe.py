"""Upgrade to premium, and what the job page offers for archived and restoring results."""

import json

from web_support import completed_job, csrf_token, mark_archived

from gas.core.jobs import JobStore


def _restore_events(aws, user_id):
    sqs = aws.client("sqs")
    url = aws.queue_url(aws.names.queue("restore"))
    found = []
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        body = json.loads(m["Body"])
        if body["data"]["user_id"] == user_id:
            found.append(body)
    return found


def test_subscribe_upgrades_and_announces(sign_in, web_aws):
    client, user_id = sign_in()
    profile = client.get("/profile").get_data(as_text=True)
    assert 'id="profile-tier">free<' in profile and "/subscribe" in profile
    assert client.post("/subscribe").status_code == 400  # no CSRF token
    assert "premium" not in client.get("/profile").get_data(as_text=True).split('id="profile-tier">')[1][:10]
    resp = client.post("/subscribe", data={"csrf_token": csrf_token(client, "/subscribe")})
    assert resp.status_code == 302
    assert 'id="profile-tier">premium<' in client.get("/profile").get_data(as_text=True)
    events = _restore_events(web_aws, user_id)
    assert [(e["type"], e["version"]) for e in events] == [("user.upgraded", 1)]
    assert "already-premium" in client.get("/subscribe").get_data(as_text=True)


def test_archived_result_offers_the_upgrade_and_its_download_is_refused(sign_in, web_aws):
    client, user_id = sign_in()
    job_id = completed_job(web_aws, user_id)
    mark_archived(web_aws, job_id, {"result_key": "s3-glacier:b/k"})
    page = client.get(f"/annotations/{job_id}").get_data(as_text=True)
    assert 'id="archived"' in page and "/subscribe" in page and 'id="download"' not in page
    assert client.get(f"/annotations/{job_id}/download").status_code == 409
    api = client.get(f"/api/annotations/{job_id}").get_json()
    assert api["storage"] == "ARCHIVED" and "download_url" not in api and "archive_refs" not in api


def test_restoring_result_says_tier_and_time(sign_in, web_aws):
    client, user_id = sign_in()
    job_id = completed_job(web_aws, user_id)
    store = JobStore(web_aws)
    mark_archived(web_aws, job_id)
    assert store.mark_restoring(job_id, "Expedited")
    page = client.get(f"/annotations/{job_id}").get_data(as_text=True)
    assert 'id="restoring"' in page and "Expedited" in page
    assert client.get(f"/annotations/{job_id}/download").status_code == 409
