"""Archiver tests: the consumers as real processes against moto server over HTTP, with
retention shortened to seconds. Jobs are arranged as the annotator leaves them (a
COMPLETED record and its result object) and announced through SNS, the real path."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid

import pytest
from processes import BIN, free_port, spawn, stop

from gas.core.events import JOB_COMPLETED, USER_UPGRADED, new_event
from gas.core.jobs import JobStore, new_job_id
from gas.core.timeutil import utc_now_iso
from gas.core.users import UserStore

RETENTION = 3


class Harness:
    def __init__(self, aws, env, tmp_path):
        self.aws, self.env, self.tmp = aws, env, tmp_path
        self.jobs, self.users = JobStore(aws), UserStore(aws)
        self.s3, self.sqs = aws.client("s3"), aws.client("sqs")
        self.procs: list[subprocess.Popen] = []
        self.bucket = aws.names.results_bucket

    def start(self, consumer: str, **env) -> tuple[subprocess.Popen, int]:
        port = free_port()
        full = {
            **self.env,
            "PATH": os.environ["PATH"],
            "GAS_RETENTION_SECONDS": str(RETENTION),
            "GAS_RECEIVE_WAIT_SECONDS": "1",
            "GAS_VISIBILITY_TIMEOUT": "5",
            "GAS_METRICS_PORT": str(port),
            "GAS_METRICS_HOST": "127.0.0.1",
            "GAS_RESTORE_CHECK_EXPEDITED_SECONDS": "1",
            "GAS_RESTORE_CHECK_STANDARD_SECONDS": "2",
            **env,
        }
        proc = spawn([str(BIN / "gas-archiver"), consumer], full, self.tmp / f"{consumer}-{len(self.procs)}.log")
        self.procs.append(proc)
        return proc, port

    def stop_all(self):
        stop(self.procs, 15)

    def user(self, tier="free") -> str:
        user_id = f"u-{uuid.uuid4().hex[:8]}"
        self.users.upsert(user_id, "Ada", f"{user_id}@example.org")
        if tier == "premium":
            self.users.upgrade(user_id)
        return user_id

    def completed_job(self, user_id: str, content: bytes | None = None, publish: bool = True) -> dict:
        job_id = new_job_id()
        content = content or f"##fileformat=VCFv4.2\n# result of {job_id}\n".encode() * 50
        key = f"{user_id}/{job_id}/sample.annot.vcf"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=content)
        self.jobs.create(
            {"job_id": job_id, "user_id": user_id, "input_file_name": "sample.vcf", "submitted_at": utc_now_iso()}
        )
        attempt = self.jobs.start(job_id)
        job = self.jobs.finish(job_id, attempt, "COMPLETED", result_bucket=self.bucket, result_key=key)
        job["sha256"] = hashlib.sha256(content).hexdigest()
        if publish:
            self.publish_completed(job)
        return job

    def publish_completed(self, job: dict) -> None:
        event = new_event(
            JOB_COMPLETED,
            job_id=job["job_id"],
            user_id=job["user_id"],
            status="COMPLETED",
            completed_at=job["completed_at"],
        )
        self.aws.client("sns").publish(TopicArn=self.aws.topic_arn("job-completed"), Message=event.to_json())

    def upgrade(self, user_id: str) -> None:
        assert self.users.upgrade(user_id)
        event = new_event(USER_UPGRADED, user_id=user_id)
        self.aws.client("sns").publish(TopicArn=self.aws.topic_arn("user-upgraded"), Message=event.to_json())

    def hot_sha256(self, job: dict) -> str | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=job["result_key"])["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return hashlib.sha256(body).hexdigest()

    def cold_keys(self, job: dict) -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"cold/{job['result_key']}/")
        return [o["Key"] for o in resp.get("Contents", [])]

    def wait_storage(self, job: dict, storage: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            record = self.jobs.get(job["job_id"])
            if record.get("storage") == storage and (storage != "HOT" or "archive_ref" not in record):
                return record
            assert time.monotonic() < deadline, f"{job['job_id']} is {record.get('storage')}, wanted {storage}"
            time.sleep(0.2)

    def depth(self, queue: str) -> int:
        url = self.aws.queue_url(self.aws.names.queue(queue))
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())


@pytest.fixture
def harness(provisioned, aws_env, tmp_path):
    h = Harness(provisioned, aws_env, tmp_path)
    yield h
    h.stop_all()


@pytest.fixture
def vault_harness(aws_env, tmp_path, monkeypatch):
    from gas.core.aws import Aws
    from gas.core.provision import Provisioner, ProvisionSettings

    monkeypatch.setenv("GAS_COLD_BACKEND", "glacier-vault")
    env = {**aws_env, "GAS_COLD_BACKEND": "glacier-vault"}
    settings = ProvisionSettings()
    Provisioner(settings, report=lambda _l: None).run()
    h = Harness(Aws(settings), env, tmp_path)
    yield h
    h.stop_all()
