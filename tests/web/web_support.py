"""Helpers of the web tests (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import html as htmllib
import json
import re
import socket
from urllib.parse import urlsplit

import requests
from jobs_support import new_job

from gas.core.aws import Aws
from gas.core.job_record import JobStatus
from gas.core.jobs import JobStore, new_job_id
from gas.core.timeutil import utc_now_iso

PUBLIC_URL = "http://127.0.0.1:8080"
SECRET = "test-secret-key-" + "s" * 32  # the test apps' session signing key


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def csrf_token(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def make_premium(aws: Aws, user_id: str) -> None:
    aws.client("dynamodb").update_item(
        TableName=aws.names.users_table,
        Key={"user_id": {"S": user_id}},
        UpdateExpression="SET tier = :p",
        ExpressionAttributeValues={":p": {"S": "premium"}},
    )


def upload_form(client) -> dict:
    """The presigned POST of the /annotate page: url, fields, key prefix, policy."""
    html = client.get("/annotate").get_data(as_text=True)
    url = re.search(r'id="upload-form" method="post" action="([^"]+)"', html).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
    prefix = re.search(r'data-key-prefix="([^"]+)"', html).group(1)
    fields = {k: htmllib.unescape(v) for k, v in fields.items()}
    policy = json.loads(base64.b64decode(fields["policy"]))
    return {"url": htmllib.unescape(url), "fields": fields, "prefix": htmllib.unescape(prefix), "policy": policy}


def upload(client, name: str, content: bytes, form: dict | None = None) -> tuple[dict, str]:
    """Upload like the browser does (key set from the file name), straight to moto over
    HTTP; returns (form, path+query of S3's success redirect)."""
    form = form or upload_form(client)
    fields = dict(form["fields"], key=form["prefix"] + name)
    resp = requests.post(form["url"], data=fields, files={"file": (name, content)}, allow_redirects=False, timeout=10)
    assert resp.status_code == 303, resp.text
    loc = urlsplit(resp.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}" == PUBLIC_URL
    return form, f"{loc.path}?{loc.query}"


def object_exists(aws: Aws, bucket: str, key: str) -> bool:
    try:
        aws.client("s3").head_object(Bucket=bucket, Key=key)
        return True
    except aws.client("s3").exceptions.ClientError:
        return False


def requested_events(aws: Aws, job_id: str) -> list[dict]:
    """Drain the annotate queue (only web tests publish under our prefix, one test at a
    time) and return the job.requested envelopes for job_id."""
    sqs = aws.client("sqs")
    url = aws.queue_url(aws.names.queue("annotate"))
    found: list[dict] = []
    empty_rounds = 0
    while empty_rounds < 2:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = resp.get("Messages", [])
        empty_rounds = 0 if messages else empty_rounds + 1
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            body = json.loads(m["Body"])
            if body["data"]["job_id"] == job_id:
                found.append(body)
    return found


def completed_job(web_aws, user_id: str, name: str = "sample.vcf") -> str:
    """A COMPLETED job with its annotated VCF and log in the results bucket."""
    job_id = new_job_id()
    result_key = f"{user_id}/{job_id}/sample.annot.vcf"
    log_key = f"{user_id}/{job_id}/sample.vcf.count.log"
    s3 = web_aws.client("s3")
    s3.put_object(Bucket=web_aws.names.results_bucket, Key=result_key, Body=b"##fileformat=VCFv4.2\n")
    s3.put_object(Bucket=web_aws.names.results_bucket, Key=log_key, Body=b"variants: 3\n")
    JobStore(web_aws).create(
        new_job(
            user_id,
            name,
            job_id=job_id,
            input_bucket=web_aws.names.inputs_bucket,
            status=JobStatus.COMPLETED,
            started_at=utc_now_iso(),
            completed_at=utc_now_iso(),
            result_bucket=web_aws.names.results_bucket,
            result_key=result_key,
            log_key=log_key,
            summary={"variants": 3, "genes_hit": 2},
        )
    )
    return job_id


def mark_archived(web_aws, job_id: str, archive_refs: dict[str, str] | None = None) -> None:
    """Put the job's result in cold storage as the archiver records it (archive_refs: field -> ref)."""
    update = "SET #st = :a"
    values: dict[str, dict] = {":a": {"S": "ARCHIVED"}}
    if archive_refs:
        update += ", archive_refs = :r"
        values[":r"] = {"M": {field: {"S": ref} for field, ref in archive_refs.items()}}
    web_aws.client("dynamodb").update_item(
        TableName=web_aws.names.jobs_table,
        Key={"job_id": {"S": job_id}},
        UpdateExpression=update,
        ExpressionAttributeNames={"#st": "storage"},
        ExpressionAttributeValues=values,
    )
