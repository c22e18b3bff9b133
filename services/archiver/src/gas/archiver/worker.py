"""gas-archiver archive|restore|thaw: the archive flow of DESIGN.md, one consumer per
queue (one image; each subcommand is its own process and Deployment, scaled on its own
queue).

archive  (job.completed)  free users' results -> cold storage once retention has passed
restore  (user.upgraded)  every ARCHIVED job of the user -> restore requested, RESTORING
thaw     (restore-check)  restore finished? copy back to hot, HOT, drop the cold copy

No result is deleted before its other copy exists and the record says where it is.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

import structlog
from prometheus_client import Counter, Histogram
from pydantic import Field

from gas.archiver.cold import EXPEDITED, STANDARD, ExpeditedUnavailable, cold_store, store_for_ref
from gas.core import failpoints
from gas.core.aws import Aws
from gas.core.config import WorkerSettings, load_settings
from gas.core.errors import Defer, PermanentError
from gas.core.events import JOB_COMPLETED, RESTORE_CHECK, USER_UPGRADED, new_event, parse_event
from gas.core.jobs import ARCHIVED, COMPLETED, HOT, RESTORING, JobStore
from gas.core.observability import configure_logging
from gas.core.timeutil import parse_iso, utc_now
from gas.core.users import PREMIUM, UserStore
from gas.core.worker import Message, QueueWorker

log = structlog.get_logger()

ARCHIVED_JOBS = Counter("gas_archiver_archived_total", "Results moved to cold storage")
ARCHIVED_BYTES = Counter("gas_archiver_archived_bytes_total", "Bytes moved to cold storage")
RESTORED_JOBS = Counter("gas_archiver_restored_total", "Results brought back to hot storage")
RESTORED_BYTES = Counter("gas_archiver_restored_bytes_total", "Bytes brought back to hot storage")
EARLY_MESSAGES = Counter("gas_archiver_early_messages_total", "Archive messages received before they were due")
RESTORE_REQUESTS = Counter("gas_archiver_restore_requests_total", "Restores requested, by tier", ["tier"])
ARCHIVE_LAG = Histogram(
    "gas_archiver_archive_lag_seconds",
    "From a result becoming due (completed_at + retention) to it being archived",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 900),
)
RESTORE_SECONDS = Histogram(
    "gas_archiver_restore_duration_seconds",
    "From restore requested to the result being hot again",
    buckets=(1, 5, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600),
)


class ArchiverSettings(WorkerSettings):
    # Free users keep hot access this long after the job completes ("3 minutes").
    retention_seconds: int = Field(180, ge=0)
    # How often the thaw consumer re-checks a restore in progress, by tier
    # (AWS: Expedited 1-5 min, Standard 3-5 h). SQS delays are at most 15 min.
    restore_check_expedited_seconds: int = Field(60, ge=0, le=900)
    restore_check_standard_seconds: int = Field(900, ge=0, le=900)


class Archiver:
    def __init__(self, settings: ArchiverSettings, aws: Aws):
        self.settings = settings
        self.aws = aws
        self.s3 = aws.client("s3")
        self.sqs = aws.client("sqs")
        self.jobs = JobStore(aws)
        self.users = UserStore(aws)
        self.cold = cold_store(aws)

    # -- archive -----------------------------------------------------------------
    def archive(self, message: Message) -> None:
        event = parse_event(message.body, {JOB_COMPLETED})
        if event.data["status"] != COMPLETED:
            return  # a failed job has no result to archive
        due = parse_iso(event.data["completed_at"]) + timedelta(seconds=self.settings.retention_seconds)
        remaining = (due - utc_now()).total_seconds()
        if remaining > 0:
            EARLY_MESSAGES.inc()
            raise Defer(remaining, f"retention ends at {due.isoformat()}")
        job_id, user_id = event.data["job_id"], event.data["user_id"]
        bound = log.bind(job_id=job_id, user_id=user_id)
        profile = self.users.get_profile(user_id)
        if profile is None:
            raise PermanentError(f"user {user_id} does not exist")
        job = self.jobs.get(job_id)
        if job is None or job["user_id"] != user_id:
            raise PermanentError(f"job {job_id} does not exist for user {user_id}")
        bucket, key = job["result_bucket"], job["result_key"]
        if profile.get("tier") == PREMIUM:
            if job.get("storage") == HOT and not job.get("archive_ref"):
                # An attempt that crashed before its commit, then the user upgraded.
                for stray in self.cold.strays(bucket, key, keep=None):
                    self.cold.discard(stray)
            bound.info("archiver.premium_kept_hot")
            return
        if job.get("storage") == ARCHIVED:
            # Redelivery after a crash past the commit: finish the step that was cut short.
            self.s3.delete_object(Bucket=bucket, Key=key)
            return
        if job.get("storage") != HOT or job.get("archive_ref"):
            return  # restoring, or restored after an upgrade: nothing to archive

        ref, size = self.cold.freeze(bucket, key)
        failpoints.hit("archive.after_copy")
        if not self.jobs.commit_archive(job_id, user_id, self.aws.names.users_table, ref):
            # The user upgraded meanwhile (or a replica won): keep the hot copy.
            self.cold.discard(ref)
            bound.info("archiver.commit_refused", reason="user no longer free or job no longer HOT")
            return
        failpoints.hit("archive.after_commit")
        for stray in self.cold.strays(bucket, key, keep=ref):
            self.cold.discard(stray)  # copies from attempts that crashed before committing
        self.s3.delete_object(Bucket=bucket, Key=key)
        failpoints.hit("archive.after_delete")
        ARCHIVED_JOBS.inc()
        ARCHIVED_BYTES.inc(size)
        ARCHIVE_LAG.observe(max(0.0, (utc_now() - due).total_seconds()))
        bound.info("archiver.archived", archive_ref=ref, bytes=size)

    # -- restore -----------------------------------------------------------------
    def restore(self, message: Message) -> None:
        event = parse_event(message.body, {USER_UPGRADED})
        user_id = event.data["user_id"]
        for job in self.jobs.archived_for_user(user_id, (ARCHIVED, RESTORING)):
            bound = log.bind(job_id=job["job_id"], user_id=user_id)
            if job["storage"] == ARCHIVED:
                store = store_for_ref(self.aws, job["archive_ref"])
                try:
                    tier, restore_id = EXPEDITED, store.request_restore(job["archive_ref"], EXPEDITED)
                except ExpeditedUnavailable:
                    bound.info("archiver.expedited_unavailable")
                    tier, restore_id = STANDARD, store.request_restore(job["archive_ref"], STANDARD)
                RESTORE_REQUESTS.labels(tier).inc()
                if not self.jobs.mark_restoring(job["job_id"], tier, restore_id):
                    continue  # another replica got there first
                bound.info("archiver.restore_requested", tier=tier)
            else:
                tier = job.get("restore_tier", STANDARD)
            # A check for RESTORING jobs too: repairs a crash between marking and sending.
            self._schedule_check(job["job_id"], user_id, tier)

    def _check_delay(self, tier: str) -> int:
        s = self.settings
        return s.restore_check_expedited_seconds if tier == EXPEDITED else s.restore_check_standard_seconds

    def _schedule_check(self, job_id: str, user_id: str, tier: str) -> None:
        self.sqs.send_message(
            QueueUrl=self.aws.queue_url(self.aws.names.queue("thaw")),
            MessageBody=new_event(RESTORE_CHECK, job_id=job_id, user_id=user_id).to_json(),
            DelaySeconds=self._check_delay(tier),
        )

    # -- thaw --------------------------------------------------------------------
    def thaw(self, message: Message) -> None:
        event = parse_event(message.body, {RESTORE_CHECK})
        job_id = event.data["job_id"]
        job = self.jobs.get(job_id)
        if job is None:
            raise PermanentError(f"job {job_id} does not exist")
        bound = log.bind(job_id=job_id, user_id=job["user_id"])
        ref = job.get("archive_ref")
        if job.get("storage") == RESTORING:
            store = store_for_ref(self.aws, ref)
            if not store.restore_ready(ref, job.get("restore_id")):
                raise Defer(self._check_delay(job.get("restore_tier", STANDARD)), "restore in progress")
            size = store.thaw_into(ref, job.get("restore_id"), job["result_bucket"], job["result_key"])
            failpoints.hit("thaw.after_copy")
            if not self.jobs.mark_thawed(job_id):
                return
            RESTORED_JOBS.inc()
            RESTORED_BYTES.inc(size)
            requested = job.get("restore_requested_at")
            if requested:
                RESTORE_SECONDS.observe((utc_now() - parse_iso(requested)).total_seconds())
            bound.info("archiver.restored", bytes=size)
            job["storage"] = HOT
        if job.get("storage") == HOT and ref:
            # The hot copy is back and recorded: only now may the cold copy go.
            store_for_ref(self.aws, ref).discard(ref)
            self.jobs.clear_archive_ref(job_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gas-archiver", description=__doc__.split("\n\n")[0])
    parser.add_argument("consumer", choices=["archive", "restore", "thaw"])
    args = parser.parse_args(argv)
    settings = load_settings(ArchiverSettings)
    configure_logging(f"archiver-{args.consumer}", settings.log_level)
    aws = Aws(settings)
    archiver = Archiver(settings, aws)
    return QueueWorker(args.consumer, getattr(archiver, args.consumer), settings, aws).run()


if __name__ == "__main__":
    raise SystemExit(main())
