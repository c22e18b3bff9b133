"""gas-archiver archive|restore|thaw: the archive flow (docs/archiver.md), one consumer
per queue (one image; each subcommand is its own process and Deployment, scaled on its
own queue).

archive  (job.completed)  free users' results -> cold storage once retention has passed
restore  (user.upgraded)  every ARCHIVED job of the user -> restore requested, RESTORING
thaw     (restore-check)  restore finished? copy back to hot, HOT, drop the cold copies

No result is deleted before its other copy exists and the record says where it is.
Restored copies go to new keys, so a stalled archive attempt that deletes the hot keys
it archived can never delete a restored copy.
"""

from __future__ import annotations

import argparse
import hashlib
from datetime import timedelta

import structlog
from prometheus_client import Counter, Histogram
from pydantic import Field

from gas.archiver.cold import EXPEDITED, STANDARD, ExpeditedUnavailable, cold_store, store_for_ref
from gas.core import failpoints
from gas.core.aws import Aws
from gas.core.config import WorkerSettings, load_settings
from gas.core.deletion_cost import worker_hooks
from gas.core.errors import Defer, PermanentError
from gas.core.events import JobCompleted, RestoreCheck, UserUpgraded, parse_event
from gas.core.job_record import ARCHIVED_FIELDS, Job, JobStatus, Storage
from gas.core.observability import configure_logging
from gas.core.timeutil import parse_iso, utc_now
from gas.core.worker import JobHandler, Message, QueueWorker

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


class Archiver(JobHandler[ArchiverSettings]):
    def __init__(self, settings: ArchiverSettings, aws: Aws):
        super().__init__(settings, aws)
        self.cold = cold_store(aws)

    # -- archive -----------------------------------------------------------------
    def archive(self, message: Message) -> None:
        event = parse_event(message.body, JobCompleted)
        if event.status != JobStatus.COMPLETED:
            return  # a failed job has no result to archive
        due = parse_iso(event.completed_at) + timedelta(seconds=self.settings.retention_seconds)
        remaining = (due - utc_now()).total_seconds()
        if remaining > 0:
            EARLY_MESSAGES.inc()
            raise Defer(remaining, f"retention ends at {due.isoformat()}")
        bound = log.bind(job_id=event.job_id, user_id=event.user_id)
        user = self.users.get(event.user_id)
        if user is None:
            raise PermanentError(f"user {event.user_id} does not exist")
        job = self.jobs.get(event.job_id)
        if job is None or job.deleting:
            bound.info("archiver.job_deleted")  # the user deleted it: nothing to archive
            return
        if job.user_id != event.user_id:
            raise PermanentError(f"job {event.job_id} does not exist for this user")
        assert job.result_bucket
        bucket, hot = job.result_bucket, job.result_objects(ARCHIVED_FIELDS)
        if user.premium:
            if job.storage == Storage.HOT and not job.archive_refs:
                # An attempt that crashed before its commit, then the user upgraded.
                self._sweep(bucket, hot, keep={})
            bound.info("archiver.premium_kept_hot")
            return
        if job.storage == Storage.ARCHIVED:
            # Redelivery after a crash past the commit: finish what was cut short. The
            # hot keys of an ARCHIVED record are the ones archived; restored copies get
            # new keys, so this delete can never reach one.
            self._sweep(bucket, hot, keep=job.archive_refs)
            self._delete_hot(bucket, hot)
            return
        if job.storage != Storage.HOT or job.archive_refs:
            return  # restoring, or restored after an upgrade: nothing to archive

        refs, size = {}, 0
        for field, key in hot.items():
            refs[field], n = self.cold.freeze(bucket, key)
            size += n
        failpoints.hit("archive.after_copy")
        if not self.jobs.commit_archive(job.job_id, job.user_id, self.aws.names.users_table, refs):
            # The user upgraded meanwhile (or a replica won): keep the hot copy.
            for ref in refs.values():
                self.cold.discard(ref)
            bound.info("archiver.commit_refused", reason="user no longer free or job no longer HOT")
            return
        failpoints.hit("archive.after_commit")
        self._sweep(bucket, hot, keep=refs)  # copies from attempts that crashed before committing
        self._delete_hot(bucket, hot)
        failpoints.hit("archive.after_delete")
        ARCHIVED_JOBS.inc()
        ARCHIVED_BYTES.inc(size)
        ARCHIVE_LAG.observe(max(0.0, (utc_now() - due).total_seconds()))
        bound.info("archiver.archived", objects=len(refs), bytes=size)

    def _sweep(self, bucket: str, hot: dict[str, str], keep: dict[str, str]) -> None:
        """Drop cold copies of these objects other than the committed ones."""
        for field, key in hot.items():
            for stray in self.cold.strays(bucket, key, keep=keep.get(field)):
                self.cold.discard(stray)

    def _delete_hot(self, bucket: str, hot: dict[str, str]) -> None:
        for key in hot.values():
            self.s3.delete_object(Bucket=bucket, Key=key)

    # -- restore -----------------------------------------------------------------
    def restore(self, message: Message) -> None:
        event = parse_event(message.body, UserUpgraded)
        # The user index is eventually consistent: it only says which jobs exist; each
        # job's storage is read again from the table itself (a job archived just before
        # the upgrade is never missed).
        for job_id in self.jobs.ids_for_user(event.user_id):
            job = self.jobs.get(job_id)
            if job is None or job.status != JobStatus.COMPLETED or job.deleting:
                continue
            bound = log.bind(job_id=job.job_id, user_id=job.user_id)
            if job.storage == Storage.ARCHIVED:
                tier, restore_ids = self._request_restore(job, bound)
                if not self.jobs.mark_restoring(job.job_id, tier, restore_ids):
                    continue  # another replica got there first
                bound.info("archiver.restore_requested", tier=tier)
            elif job.storage == Storage.RESTORING:
                tier = job.restore_tier or STANDARD
            else:
                continue
            # A check for RESTORING jobs too: repairs a crash between marking and sending.
            self._schedule_check(job, tier)

    def _request_restore(self, job: Job, bound: structlog.stdlib.BoundLogger) -> tuple[str, dict[str, str]]:
        """Ask for every cold copy of the job (Expedited, else Standard for all)."""
        tier, restore_ids = EXPEDITED, {}
        for field, ref in job.archive_refs.items():
            store = store_for_ref(self.aws, ref)
            try:
                restore_id = store.request_restore(ref, tier)
            except ExpeditedUnavailable:
                bound.info("archiver.expedited_unavailable")
                tier = STANDARD
                restore_id = store.request_restore(ref, tier)
            if restore_id:
                restore_ids[field] = restore_id
        RESTORE_REQUESTS.labels(tier).inc()
        return tier, restore_ids

    def _check_delay(self, tier: str) -> int:
        s = self.settings
        return s.restore_check_expedited_seconds if tier == EXPEDITED else s.restore_check_standard_seconds

    def _schedule_check(self, job: Job, tier: str) -> None:
        self.events.publish(RestoreCheck(job.job_id, job.user_id), delay_seconds=self._check_delay(tier))

    # -- thaw --------------------------------------------------------------------
    def thaw(self, message: Message) -> None:
        event = parse_event(message.body, RestoreCheck)
        job = self.jobs.get(event.job_id)
        if job is None or job.deleting:
            log.info("archiver.job_deleted", job_id=event.job_id)  # deleted once its results were back
            return
        bound = log.bind(job_id=job.job_id, user_id=job.user_id)
        if job.storage == Storage.RESTORING:
            states = {
                field: store_for_ref(self.aws, ref).restore_state(ref, job.restore_ids.get(field))
                for field, ref in job.archive_refs.items()
            }
            if "absent" in states.values():
                # The restored copy expired before it was read (or was never asked for):
                # ask again, and check again later.
                tier, restore_ids = self._request_restore(job, bound)
                self.jobs.mark_restoring(job.job_id, tier, restore_ids, again=True)
                bound.info("archiver.restore_requested_again", tier=tier)
                raise Defer(self._check_delay(tier), "restore asked for again")
            if "in_progress" in states.values():
                raise Defer(self._check_delay(job.restore_tier or STANDARD), "restore in progress")
            hot_keys, size = self._thaw_copies(job)
            failpoints.hit("thaw.after_copy")
            if not self.jobs.mark_thawed(job.job_id, hot_keys):
                return
            failpoints.hit("thaw.after_mark")
            RESTORED_JOBS.inc()
            RESTORED_BYTES.inc(size)
            if job.restore_requested_at:
                RESTORE_SECONDS.observe((utc_now() - parse_iso(job.restore_requested_at)).total_seconds())
            bound.info("archiver.restored", bytes=size)
            job = job.replace(storage=Storage.HOT, **hot_keys)
        if job.storage == Storage.HOT and job.archive_refs:
            # The hot copies are back and recorded: only now may the cold copies go.
            for ref in job.archive_refs.values():
                store_for_ref(self.aws, ref).discard(ref)
            self.jobs.clear_archive_refs(job.job_id)

    def _thaw_copies(self, job: Job) -> tuple[dict[str, str], int]:
        """Copy every restored object to a new hot key (deterministic per cold copy, so
        two replicas write the same keys); result field -> new key, and bytes."""
        assert job.result_bucket
        hot_keys, size = {}, 0
        for field, ref in job.archive_refs.items():
            old_key = getattr(job, field)
            generation = hashlib.sha256(ref.encode()).hexdigest()[:12]
            new_key = f"{job.results_prefix}restored-{generation}/{old_key.rsplit('/', 1)[-1]}"
            size += store_for_ref(self.aws, ref).thaw_into(ref, job.restore_ids.get(field), job.result_bucket, new_key)
            hot_keys[field] = new_key
        return hot_keys, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gas-archiver", description=__doc__.split("\n\n")[0])
    parser.add_argument("consumer", choices=["archive", "restore", "thaw"])
    args = parser.parse_args(argv)
    settings = load_settings(ArchiverSettings)
    configure_logging(f"archiver-{args.consumer}", settings.log_level)
    hooks = worker_hooks(settings, args.consumer)
    aws = Aws(settings)
    archiver = Archiver(settings, aws)
    return QueueWorker(args.consumer, getattr(archiver, args.consumer), settings, aws, hooks=hooks).run()


if __name__ == "__main__":
    raise SystemExit(main())
