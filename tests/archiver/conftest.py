"""Archiver tests: the consumers as real processes against moto server over HTTP, with
retention shortened to seconds. Jobs are arranged as the annotator leaves them (a
COMPLETED record and its result object) and announced through SNS, the real path."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pytest
from jobs_support import new_job, put_results
from processes import BIN, free_port, spawn, stop

from gas.annotator.engine.parquet import SCHEMA, VariantsWriter
from gas.core.aws import queue_counts
from gas.core.events import JobCompleted, Publisher, UserUpgraded
from gas.core.job_record import Job, JobStatus
from gas.core.jobs import JobStore
from gas.core.users import UserStore

RETENTION = 3


def engine_table(job_id: str) -> bytes:
    """A one-row variants table as the engine writes it: the footer holds the view the web's
    first page reads (decision 105), which must survive archive and restore."""
    import tempfile
    from pathlib import Path

    row = {c.name: None for c in SCHEMA} | {
        "record": 0, "chrom": "1", "pos": 10_000, "ref": "A", "alt": "C", "filter": "PASS", "genes": [],
        "gene_types": [], "flags": [], "consequence": "intergenic_variant", "consequences": ["intergenic_variant"],
        "diseases": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.variants.parquet"
        writer = VariantsWriter(path, {"gas.input": job_id})  # a different file per job
        writer.write(pa.Table.from_pylist([row], schema=SCHEMA).to_batches()[0], 0)
        writer.close()
        return path.read_bytes()


@dataclass(frozen=True)
class ArrangedJob:
    record: Job  # as the annotator finished it
    sha256: dict[str, str]  # result field -> sha256 of its bytes

    @property
    def job_id(self) -> str:
        return self.record.job_id


class Harness:
    retention = RETENTION  # seconds, what the harness's archivers run with

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

    def completed_job(self, user_id: str, content: bytes | None = None, publish: bool = True) -> ArrangedJob:
        """A COMPLETED job as the annotator leaves it: annotated VCF, Parquet table and
        genotypes (archived together) and the count log (stays hot)."""
        job = new_job(user_id, "sample.vcf")
        content = content or f"##fileformat=VCFv4.2\n# result of {job.job_id}\n".encode() * 50
        prefix = f"{job.results_prefix}sample"
        objects = {
            "result_key": (f"{prefix}.annot.vcf", content),
            "variants_key": (f"{prefix}.variants.parquet", engine_table(job.job_id)),
            "genotypes_key": (f"{prefix}.genotypes.parquet", b"PAR1" + content[-64:] + b"PAR1"),
            "log_key": (f"{prefix}.vcf.count.log", b"count log\n"),
        }
        keys = put_results(self.s3, self.bucket, objects)
        self.jobs.create(job)
        attempt = self.jobs.start(job.job_id, "m", 60).attempt
        done = self.jobs.finish(job.job_id, attempt, JobStatus.COMPLETED, result_bucket=self.bucket, **keys)
        arranged = ArrangedJob(done, {f: hashlib.sha256(body).hexdigest() for f, (_, body) in objects.items()})
        if publish:
            self.publish_completed(arranged)
        return arranged

    def publish_completed(self, job: ArrangedJob) -> None:
        record = job.record
        Publisher(self.aws).publish(JobCompleted(record.job_id, record.user_id, "COMPLETED", record.completed_at))

    def upgrade(self, user_id: str) -> None:
        assert self.users.upgrade(user_id)
        Publisher(self.aws).publish(UserUpgraded(user_id))

    def hot_sha256(self, job: ArrangedJob, field: str = "result_key") -> str | None:
        """The sha256 of the hot copy the record now names (None when there is none)."""
        record = self.jobs.get(job.job_id)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=getattr(record, field))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return hashlib.sha256(body).hexdigest()

    def hot_intact(self, job: ArrangedJob) -> bool:
        return all(self.hot_sha256(job, field) == sha for field, sha in job.sha256.items())

    def cold_keys(self, job: ArrangedJob, field: str = "result_key") -> list[str]:
        resp = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"cold/{getattr(job.record, field)}/")
        return [o["Key"] for o in resp.get("Contents", [])]

    def wait_storage(self, job: ArrangedJob, storage: str, timeout: float = 30) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            record = self.jobs.get(job.job_id)
            if record.storage == storage and (storage != "HOT" or not record.archive_refs):
                return record
            assert time.monotonic() < deadline, f"{job.job_id} is {record.storage}, wanted {storage}"
            time.sleep(0.2)

    def depth(self, queue: str) -> int:
        url = self.aws.queue_url(self.aws.names.queue(queue))
        return sum(queue_counts(self.sqs, url))


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
