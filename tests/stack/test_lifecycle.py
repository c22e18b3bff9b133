"""The whole job lifecycle through HTTP against real processes: sign in, upload to S3
with the presigned POST, annotate, list, read the log, download, get the email."""

import re
import time

import requests
from stack_support import job_id_of, sample
from support import sent_emails


def test_free_user_runs_a_job_end_to_end(stack, user, stack_aws):
    page = user.submit("free_1.vcf", sample("free_1.vcf"))
    job_id = job_id_of(page)
    assert "free_1.vcf" in page.text

    job = user.wait_finished(job_id)
    assert job["status"] == "COMPLETED", job
    assert job["submitted_at"] <= job["started_at"] <= job["completed_at"]

    listing = user.get("/annotations")
    assert job_id in listing.text and "free_1.vcf" in listing.text

    log = user.get(f"/annotations/{job_id}/log")
    assert log.ok and "1141" in log.text.replace(",", "")

    download = user.get(f"/annotations/{job_id}/download", allow_redirects=False)
    assert download.status_code in (302, 303)
    annotated = requests.get(download.headers["Location"], timeout=30)
    assert annotated.ok
    text = annotated.text
    assert text.startswith("##fileformat=VCF")
    assert "##INFO=<ID=GENE," in text and "##INFO=<ID=REGION," in text
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(body) == 1141 and all("REGION=" in line for line in body)

    deadline = time.monotonic() + 30
    while True:
        mine = [m for m in sent_emails(stack.moto_url) if m["destinations"]["ToAddresses"] == [user.email]]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(mine) == 1, mine
    assert f"{stack.url}/annotations/{job_id}" in mine[0]["body"] and "free_1.vcf" in mine[0]["subject"]


def test_every_process_serves_metrics_and_probes(stack):
    web = requests.get(f"{stack.url}/metrics", timeout=10)
    assert web.ok and "gas_web_requests_total" in web.text
    for name, port in stack.metrics_ports.items():
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/healthz", timeout=5).ok and requests.get(f"{base}/readyz", timeout=5).ok
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        assert re.search(r'gas_worker_messages_received_total\{queue="\w+"\}', metrics), name


def test_logs_are_json_with_job_and_user_ids(stack, user):
    job_id = job_id_of(user.submit("test.vcf", sample("test.vcf")))
    user.wait_finished(job_id)
    import json

    lines = [json.loads(line) for line in (stack.log_dir / "annotator.log").read_text().splitlines()]
    finished = [x for x in lines if x.get("event") == "annotator.job_finished" and x.get("job_id") == job_id]
    assert finished and finished[0]["user_id"] and finished[0]["level"] == "info"
    # every line of every GAS service is JSON (moto's access log is not ours; gas-provision
    # is a command whose report is one plain line per resource)
    for log in stack.log_dir.glob("*.log"):
        if log.name not in ("moto.log", "provision.log"):
            for line in log.read_text().splitlines():
                assert line.startswith("{") and json.loads(line)["event"], f"{log.name}: {line[:200]}"
