"""The annotator reads exactly the upload the job was created from (moto server over HTTP):
the upload form's presigned POST stays valid after submission, so a second file sent
through it must not be annotated in the first one's place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jobs_support import uploaded_job
from prometheus_client import REGISTRY
from support import SAMPLES

from gas.annotator.worker import Annotator, AnnotatorSettings
from gas.core.job_record import Job
from gas.core.jobs import JobStore


@pytest.fixture
def annotator(provisioned, db_dir, tmp_path):
    settings = AnnotatorSettings(scratch_dir=tmp_path / "scratch", annotation_db_dir=db_dir, metrics_port=0)
    return Annotator(settings, provisioned)


def _submitted_job(
    aws, submitted_at: str = "2026-11-29T00:00:00Z", name: str = "test.vcf", size: int | None = None
) -> Job:
    return uploaded_job(aws, (SAMPLES / "test.vcf").read_bytes(), name, submitted_at=submitted_at, input_size=size)


def test_the_submitted_upload_is_annotated(annotator, provisioned):
    job = _submitted_job(provisioned)
    annotator.handle(job.job_id, job.user_id, "message-1")
    assert JobStore(provisioned).get(job.job_id).status == "COMPLETED"


def test_a_file_replaced_after_submission_fails_the_job_clearly(annotator, provisioned):
    job = _submitted_job(provisioned)
    provisioned.client("s3").put_object(Bucket=job.input_bucket, Key=job.input_key, Body=b"not the submitted file\n")
    annotator.handle(job.job_id, job.user_id, "message-1")
    done = JobStore(provisioned).get(job.job_id)
    assert done.status == "FAILED"
    assert done.error == "the uploaded file was replaced after the job was submitted; please start a new upload"


def test_a_finished_job_records_its_latency_from_submission(annotator, provisioned):
    """The job-latency SLO's figure (gas_annotator_job_latency_seconds): submission to final
    state, so a job that waited 20 minutes in the queue is slower than 900 s though its run is short."""
    submitted = (datetime.now(UTC) - timedelta(minutes=20)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    job = _submitted_job(provisioned, submitted_at=submitted)

    def bucket(le: str) -> float:
        return REGISTRY.get_sample_value("gas_annotator_job_latency_seconds_bucket", {"le": le}) or 0.0

    before = {le: bucket(le) for le in ("900.0", "1800.0", "+Inf")}
    annotator.handle(job.job_id, job.user_id, "message-1")
    assert JobStore(provisioned).get(job.job_id).status == "COMPLETED"
    assert bucket("900.0") == before["900.0"]
    assert bucket("1800.0") == before["1800.0"] + 1
    assert bucket("+Inf") == before["+Inf"] + 1


def _annotator_with_scratch(provisioned, db_dir, tmp_path, limit: int) -> Annotator:
    settings = AnnotatorSettings(
        scratch_dir=tmp_path / "scratch", annotation_db_dir=db_dir, metrics_port=0, scratch_limit_bytes=limit
    )
    return Annotator(settings, provisioned)


def test_scratch_is_checked_against_its_configured_size_not_the_node_disk(provisioned, db_dir, tmp_path):
    """A premium 1 GiB .vcf.gz needs about 31 GiB by the check's own estimate: against a
    4Gi emptyDir it fails at once with the reason, instead of being evicted until it
    "kept crashing"; a small file still runs against the same limit."""
    annotator = _annotator_with_scratch(provisioned, db_dir, tmp_path, 4 << 30)
    big = _submitted_job(provisioned, name="big.vcf.gz", size=1 << 30)
    annotator.handle(big.job_id, big.user_id, "message-1")
    done = JobStore(provisioned).get(big.job_id)
    assert done.status == "FAILED"
    assert done.error == (
        "the file is too large to annotate here: it needs about 31,744 MiB of working space "
        "and 4,096 MiB is free; please contact support"
    )
    small = _submitted_job(provisioned)
    annotator.handle(small.job_id, small.user_id, "message-2")
    assert JobStore(provisioned).get(small.job_id).status == "COMPLETED"


def test_what_scratch_already_holds_counts_against_its_size(provisioned, db_dir, tmp_path):
    job = _submitted_job(provisioned)
    need = job.input_size * 4  # the input, plus 3 times it for the results
    annotator = _annotator_with_scratch(provisioned, db_dir, tmp_path, need + 1000)
    leftover = tmp_path / "scratch" / "old-job-1"
    leftover.mkdir(parents=True)
    (leftover / "input.vcf").write_bytes(b"x" * 2000)
    annotator.handle(job.job_id, job.user_id, "message-1")
    done = JobStore(provisioned).get(job.job_id)
    assert done.status == "FAILED" and done.error.startswith("the file is too large to annotate here")
