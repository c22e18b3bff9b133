"""Least privilege, enforced. The stack runs on a moto server that enforces IAM, with web
and every worker signed in as an IAM user holding only its component's policy
(gas.core.iam, what `gas-iam-policy` prints for the IRSA roles). The whole lifecycle runs
through it — sign-in, job creation, annotation, email, archive after retention, upgrade,
restore, thaw, download — so a permission a component needs but lacks fails here; and
each component is refused what its policy does not grant.

moto cannot authorize a browser's presigned POST under enforcement (it requires an
Authorization header), so the test puts the upload with admin credentials under the key
the form prescribes — what S3 does on the browser's POST — and follows S3's redirect.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from stack_support import User, job_id_of, sample
from support import sent_emails


def client(stack, who: str, service: str):
    creds = stack.credentials[who]
    return boto3.client(
        service,
        endpoint_url=stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
    )


def storage(stack, job_id: str) -> str:
    item = client(stack, "admin", "dynamodb").get_item(TableName=f"{stack.prefix}-jobs", Key={"job_id": {"S": job_id}})[
        "Item"
    ]
    return item["storage"]["S"]


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return value


def test_the_whole_lifecycle_runs_on_least_privilege(iam_stack):
    stack = iam_stack
    user = User(stack.url).sign_in()  # web writes the users table
    form = user.upload_form()
    key = form["fields"]["key"].replace("${filename}", "") + "free_1.vcf"
    inputs = f"{stack.prefix}-inputs"
    client(stack, "admin", "s3").put_object(Bucket=inputs, Key=key, Body=sample("free_1.vcf"))
    page = user.http.get(f"{stack.url}/annotations/new?bucket={inputs}&key={key}", timeout=30)
    job_id = job_id_of(page)  # web: HeadObject, PutItem, Publish

    job = user.wait_finished(job_id)  # annotator: GetObject (If-Match), PutObject, UpdateItem, Publish
    assert job["status"] == "COMPLETED", job
    assert "1141" in user.get(f"/annotations/{job_id}/log").text.replace(",", "")  # web reads results
    wait(
        lambda: [m for m in sent_emails(stack.moto_url) if m["destinations"]["ToAddresses"] == [user.email]],
        30,
        "the email (notifier: GetItem, UpdateItem, SendEmail)",
    )

    wait(lambda: storage(stack, job_id) == "ARCHIVED", 30, "archive (CopyObject to GLACIER, transaction, DeleteObject)")
    assert user.get(f"/annotations/{job_id}/download", allow_redirects=False).status_code == 409

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', user.get("/subscribe").text).group(1)
    assert user.http.post(
        f"{stack.url}/subscribe", data={"csrf_token": token}, timeout=30
    ).ok  # web: UpdateItem, Publish
    wait(lambda: storage(stack, job_id) == "HOT", 60, "restore + thaw (Query, RestoreObject, SendMessage, CopyObject)")
    download = user.get(f"/annotations/{job_id}/download", allow_redirects=False)
    assert download.status_code in (302, 303)
    results = f"{stack.prefix}-results"
    restored_key = unquote(urlsplit(download.headers["Location"]).path.split(f"/{results}/", 1)[1])
    restored = client(stack, "admin", "s3").get_object(Bucket=results, Key=restored_key)
    assert restored["Body"].read().startswith(b"##fileformat=VCF")

    # The restored variant table (web: HeadObject, GetObject), an export, then deleting the
    # job: web lists and deletes its results and cold copies, deletes the input and the record.
    table = user.get(f"/annotations/{job_id}/variants?size=1").text
    matched, total = re.search(r'data-matched="(\d+)" data-total="(\d+)"', table).groups()
    assert matched == total and int(total) >= 1141  # one row per ALT of the 1,141 records
    vcf = user.get(f"/annotations/{job_id}/variants.vcf?chrom=1")
    assert vcf.status_code == 200 and vcf.text.startswith("##fileformat=VCF")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', user.get(f"/annotations/{job_id}").text).group(1)
    deleted = user.http.post(f"{stack.url}/annotations/{job_id}/delete", data={"csrf_token": token}, timeout=30)
    assert deleted.ok and user.get(f"/annotations/{job_id}").status_code == 404
    admin_s3 = client(stack, "admin", "s3")
    user_prefix = restored_key.split("/", 1)[0]
    for bucket, prefix in ((results, f"{user_prefix}/{job_id}/"), (results, f"cold/{user_prefix}/{job_id}/")):
        assert admin_s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 0, prefix
    assert not [o for o in admin_s3.list_objects_v2(Bucket=inputs).get("Contents", []) if job_id in o["Key"]]


def _denied(call) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403"), exc.value.response


@pytest.mark.parametrize(
    ("who", "service", "call"),
    [
        ("web", "dynamodb", lambda c, p: c.scan(TableName=f"{p}-jobs")),  # every user's jobs at once
        ("web", "s3", lambda c, p: c.put_object(Bucket=f"{p}-results", Key="u/j/forged.annot.vcf", Body=b"x")),
        ("web", "sqs", lambda c, p: c.receive_message(QueueUrl=c.meta.endpoint_url + f"/123456789012/{p}-annotate")),
        ("annotator", "s3", lambda c, p: c.delete_object(Bucket=f"{p}-inputs", Key="u/j~x.vcf")),
        (
            "annotator",
            "ses",
            lambda c, p: c.send_email(
                Source="gas-noreply@example.org",
                Destination={"ToAddresses": ["a@example.org"]},
                Message={"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}},
            ),
        ),
        ("notifier", "s3", lambda c, p: c.get_object(Bucket=f"{p}-results", Key="u/j/x")),
        (
            "notifier",
            "sqs",
            lambda c, p: c.receive_message(QueueUrl=c.meta.endpoint_url + f"/123456789012/{p}-archive"),
        ),
        (
            "archiver",
            "sns",
            lambda c, p: c.publish(TopicArn=f"arn:aws:sns:us-east-1:123456789012:{p}-job-requests", Message="x"),
        ),
        ("archiver", "s3", lambda c, p: c.get_object(Bucket=f"{p}-inputs", Key="u/j~x.vcf")),
        (
            "operator",
            "sqs",
            lambda c, p: c.receive_message(QueueUrl=c.meta.endpoint_url + f"/123456789012/{p}-annotate"),
        ),
        ("operator", "dynamodb", lambda c, p: c.get_item(TableName=f"{p}-jobs", Key={"job_id": {"S": "x"}})),
    ],
)
def test_each_component_is_refused_what_its_policy_does_not_grant(iam_stack, who, service, call):
    _denied(lambda: call(client(iam_stack, who, service), iam_stack.prefix))


def test_the_operator_reads_queue_depth(iam_stack):
    sqs = client(iam_stack, "operator", "sqs")
    for name in ("annotate", "annotate-dlq"):  # a worker's queue and its DLQ
        url = sqs.get_queue_url(QueueName=f"{iam_stack.prefix}-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert "ApproximateNumberOfMessages" in attributes
    # and the oldest message's age, from CloudWatch (gas.operator.queues)
    now = datetime.now(UTC)
    cw = client(iam_stack, "operator", "cloudwatch")
    query = {
        "Id": "q",
        "MetricStat": {
            "Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateAgeOfOldestMessage"},
            "Period": 60,
            "Stat": "Maximum",
        },
    }
    assert cw.get_metric_data(MetricDataQueries=[query], StartTime=now - timedelta(minutes=5), EndTime=now)[
        "MetricDataResults"
    ]


def test_the_api_runs_on_least_privilege(iam_stack):
    """/api/v1 as web's IAM user: tokens (PutItem, Query, counters UpdateItem, DeleteItem on
    revoke), an upload claimed through the API (ListBucket to find it), results, log and
    variant table, and deleting an archived job (the job page's deletion: DeleteObject on
    results and their cold copy, DeleteItem)."""
    stack = iam_stack
    user = User(stack.url).sign_in()
    resp = user.http.post(
        f"{stack.url}/profile/tokens",
        data={"csrf_token": user.csrf_token("/profile"), "name": "iam", "scopes": ["read", "submit"], "days": "7"},
        timeout=30,
    )
    token = re.search(r'id="new-token">([^<]+)<', resp.text).group(1)
    auth = {"Authorization": f"Bearer {token}"}

    def api(method: str, path: str, headers: dict | None = None, **kwargs):
        headers = {**auth, **(headers or {})}
        return requests.request(method, f"{stack.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    assert api("GET", "/me").status_code == 200
    content = sample("free_1.vcf")
    upload = api("POST", "/uploads", json={"file_name": "free_1.vcf", "size": len(content)}).json()
    client(stack, "admin", "s3").put_object(Bucket=f"{stack.prefix}-inputs", Key=upload["fields"]["key"], Body=content)
    created = api("POST", "/jobs", json={"upload_id": upload["upload_id"]}, headers={"Idempotency-Key": "k1"})
    assert created.status_code == 201, created.text
    job_id = created.json()["job_id"]
    wait(lambda: api("GET", f"/jobs/{job_id}").json()["status"] == "COMPLETED", 60, "the job")
    assert "variants_read" in api("GET", f"/jobs/{job_id}/log").json()["text"]
    table = api("GET", f"/jobs/{job_id}/variants", params={"size": "5"})  # web: GetObject of the table
    assert table.status_code == 200 and len(table.json()["variants"]) == 5, table.text
    assert table.json()["total"] >= 1141  # one row per ALT of the 1,141 records
    wait(lambda: storage(stack, job_id) == "ARCHIVED", 30, "archive")
    assert api("GET", f"/jobs/{job_id}/result").status_code == 409
    assert api("DELETE", f"/jobs/{job_id}").status_code == 204
    results = client(stack, "admin", "s3").list_objects_v2(Bucket=f"{stack.prefix}-results")
    assert not [o["Key"] for o in results.get("Contents", []) if job_id in o["Key"]]

    token_id = user.get("/profile").text.split("/profile/tokens/", 1)[1].split("/revoke", 1)[0]
    user.http.post(f"{stack.url}/profile/tokens/{token_id}/revoke", data={"csrf_token": user.csrf_token("/profile")})
    assert api("GET", "/me").status_code == 401


def test_reference_data_builds_and_fetches_on_least_privilege(iam_stack, tmp_path):
    """The gas-references Job's policy builds a bundle (with GetObject on the deployment's own
    input bucket granted beside it, as docs/kubernetes.md says); the annotator's fetches it;
    web's fetches the manifest and is refused the bundle itself; neither may write there."""
    import hashlib
    import json
    import subprocess
    import sys
    from pathlib import Path

    from annotator.bundle_support import write_inputs

    stack, bin_dir = iam_stack, Path(sys.executable).parent
    paths = write_inputs(tmp_path / "in")
    deploy = f"{stack.prefix}-deploy"
    admin = client(stack, "admin", "s3")
    admin.create_bucket(Bucket=deploy)
    bundle: dict = {"name": "tiny"}
    for key, field, path in (("genes.gff3", "geneModel", paths["gff3"]), ("genome.fa", "fasta", paths["fasta"])):
        admin.put_object(Bucket=deploy, Key=key, Body=path.read_bytes())
        bundle[field] = {"url": f"s3://{deploy}/{key}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    bundle["geneModel"]["format"] = "gff3"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"bundles": [bundle]}))
    grant = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{deploy}/*"]}
    client(stack, "admin", "iam").put_user_policy(
        UserName=f"{stack.prefix}-references",
        PolicyName="deployment-inputs",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [grant]}),
    )

    def run(who: str, cmd: str, *args) -> subprocess.CompletedProcess:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "AWS_ENDPOINT_URL": stack.moto_url,
            "AWS_REGION": "us-east-1",
            "GAS_PREFIX": stack.prefix,
            **stack.credentials[who],
        }
        argv = [str(bin_dir / cmd), "--spec", str(spec), *map(str, args)]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    built = run("references", "gas-build-references", "--work-dir", tmp_path / "work")
    assert built.returncode == 0, built.stderr + built.stdout[-2000:]
    fetched = run("annotator", "gas-fetch-references", "--dest", tmp_path / "annotator")
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "annotator" / "gas-bundle-tiny-v2.gasdb").is_file()
    manifests = run("web", "gas-fetch-references", "--dest", tmp_path / "web", "--manifests-only")
    assert manifests.returncode == 0, manifests.stderr
    refused = run("web", "gas-fetch-references", "--dest", tmp_path / "web-all")
    assert refused.returncode == 1 and "AccessDenied" in refused.stderr, refused.stderr
    for who in ("annotator", "web"):
        s3 = client(stack, who, "s3")
        _denied(lambda s3=s3: s3.put_object(Bucket=f"{stack.prefix}-references", Key="x", Body=b"x"))
