"""gas-annotator: consumes the annotate queue and runs the annotation engine per job.

PENDING -> RUNNING by conditional write (the attempt number fences off a worker that
died and came back), input to scratch, engine, results + log + summary to S3,
COMPLETED or FAILED, job-completed published, scratch removed.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any, Literal

import structlog
from botocore.exceptions import ClientError
from prometheus_client import Counter, Histogram
from pydantic import Field

from gas.annotator.engine import VcfFormatError, annotate_vcf, ensure_database
from gas.core import jobs as job_states
from gas.core.aws import Aws
from gas.core.config import WorkerSettings, load_settings
from gas.core.errors import PermanentError
from gas.core.events import JOB_COMPLETED, JOB_REQUESTED, new_event, parse_event
from gas.core.jobs import JobStore
from gas.core.observability import configure_logging
from gas.core.worker import Message, QueueWorker

log = structlog.get_logger()

JOBS_FINISHED = Counter("gas_annotator_jobs_total", "Jobs finished, by status", ["status"])
VARIANTS_ANNOTATED = Counter("gas_annotator_variants_annotated_total", "Variants written annotated")
JOB_SECONDS = Histogram(
    "gas_annotator_job_duration_seconds",
    "Wall time of one job: download, annotate, upload",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class AnnotatorSettings(WorkerSettings):
    scratch_dir: Path = Path("/tmp/gas-scratch")
    annotation_db_dir: Path = Path.home() / ".cache" / "gas" / "annotation-db"
    assembly: Literal["GRCh37", "GRCh38"] = "GRCh37"
    # Jobs whose engine run fails this often are marked FAILED instead of retried forever.
    max_attempts: int = Field(3, ge=1)


def local_name(input_file_name: str) -> str:
    """A scratch-safe file name that keeps the .vcf / .vcf.gz suffix the engine reads."""
    name = _SAFE_NAME.sub("_", Path(input_file_name).name).lstrip(".") or "input.vcf"
    return name


def record_summary(summary: dict[str, Any]) -> dict[str, int]:
    """The few counts the job page shows (name -> count); the full summary JSON stays in S3."""
    flat = {
        "variants": summary["variants"]["written"],
        "annotated by position only": summary["variants"]["position_only"],
        "known alleles": summary["known"],
        "novel alleles": summary["novel"],
    }
    flat.update({f"region: {name}": n for name, n in summary["regions"].items() if n})
    flat.update({f"class: {name}": n for name, n in summary["variant_classes"].items() if n})
    return flat


class Annotator:
    def __init__(self, settings: AnnotatorSettings, aws: Aws, database: Any):
        self.settings = settings
        self.aws = aws
        self.s3 = aws.client("s3")
        self.sns = aws.client("sns")
        self.jobs = JobStore(aws)
        self.database = database

    def __call__(self, message: Message) -> None:
        event = parse_event(message.body, {JOB_REQUESTED})
        job_id, user_id = event.data["job_id"], event.data["user_id"]
        structlog.contextvars.bind_contextvars(job_id=job_id, user_id=user_id)
        try:
            self.handle(job_id, user_id)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "user_id")

    def handle(self, job_id: str, user_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is None or job["user_id"] != user_id:
            raise PermanentError(f"job {job_id} does not exist for user {user_id}")
        attempt = self.jobs.start(job_id)
        if attempt is None:
            # Already finished: a redelivery. Publishing again repairs a crash between
            # the final write and the publish; the notifier sends one email per job.
            log.info("annotator.duplicate_delivery", status=job["status"])
            self._publish_completed(self.jobs.get(job_id))
            return
        if attempt > self.settings.max_attempts:
            self._finish(job, attempt, job_states.FAILED, error="the annotation kept crashing; please contact support")
            return
        log.info("annotator.job_started", attempt=attempt)
        scratch = self.settings.scratch_dir / f"{job_id}-{attempt}"
        started = time.monotonic()
        try:
            self._run(job, attempt, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            JOB_SECONDS.observe(time.monotonic() - started)

    def _download_input(self, job: dict[str, Any], path: Path) -> None:
        extra = {"IfMatch": job["input_etag"]} if job.get("input_etag") else {}
        body = self.s3.get_object(Bucket=job["input_bucket"], Key=job["input_key"], **extra)["Body"]
        with open(path, "wb") as out:
            for chunk in body.iter_chunks(1 << 20):
                out.write(chunk)

    def _run(self, job: dict[str, Any], attempt: int, scratch: Path) -> None:
        (scratch / "out").mkdir(parents=True, exist_ok=True)
        input_path = scratch / local_name(job["input_file_name"])
        try:
            self._download_input(job, input_path)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("404", "NoSuchKey"):
                self._finish(job, attempt, job_states.FAILED, error="the uploaded file is gone; please upload it again")
                return
            if code in ("412", "PreconditionFailed"):
                self._finish(
                    job,
                    attempt,
                    job_states.FAILED,
                    error="the uploaded file was replaced after the job was submitted; please start a new upload",
                )
                return
            raise
        results_prefix = f"{job['user_id']}/{job['job_id']}/"
        bucket = self.aws.names.results_bucket
        try:
            result = annotate_vcf(input_path, scratch / "out", self.database)
        except VcfFormatError as exc:
            # Keep the user's explanation where the log page looks for it.
            log_key = results_prefix + "annotation.count.log"
            self.s3.put_object(Bucket=bucket, Key=log_key, Body=f"FAILED: {exc}\n".encode(), ContentType="text/plain")
            self._finish(job, attempt, job_states.FAILED, error=str(exc), result_bucket=bucket, log_key=log_key)
            return
        keys = {}
        for field, path, ctype in (
            ("result_key", result.annotated_vcf, "text/plain"),
            ("log_key", result.count_log, "text/plain"),
            ("summary_key", result.summary_json, "application/json"),
        ):
            keys[field] = results_prefix + path.name
            self.s3.upload_file(str(path), bucket, keys[field], ExtraArgs={"ContentType": ctype})
        summary = record_summary(result.summary)
        if self._finish(job, attempt, job_states.COMPLETED, result_bucket=bucket, summary=summary, **keys):
            VARIANTS_ANNOTATED.inc(result.variants_written)

    def _finish(self, job: dict[str, Any], attempt: int, status: str, **fields: Any) -> bool:
        finished = self.jobs.finish(job["job_id"], attempt, status, **fields)
        if finished is None:
            log.warning("annotator.fenced_off", attempt=attempt)
            return False
        JOBS_FINISHED.labels(status).inc()
        log.info("annotator.job_finished", status=status, error=fields.get("error"))
        self._publish_completed(finished)
        return True

    def _publish_completed(self, job: dict[str, Any] | None) -> None:
        if not job or job.get("status") not in (job_states.COMPLETED, job_states.FAILED):
            return
        event = new_event(
            JOB_COMPLETED,
            job_id=job["job_id"],
            user_id=job["user_id"],
            status=job["status"],
            completed_at=job["completed_at"],
        )
        self.sns.publish(TopicArn=self.aws.topic_arn("job-completed"), Message=event.to_json())


def main() -> int:
    settings = load_settings(AnnotatorSettings)
    configure_logging("annotator", settings.log_level)
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    database = ensure_database(settings.assembly, settings.annotation_db_dir)
    aws = Aws(settings)
    return QueueWorker("annotate", Annotator(settings, aws, database), settings, aws).run()


if __name__ == "__main__":
    raise SystemExit(main())
