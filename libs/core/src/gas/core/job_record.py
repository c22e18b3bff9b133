"""The job record and its two state machines, declared once.

Every reader and writer of the jobs table goes through `Job` (this module) and `JobStore`
(`gas.core.jobs`, where each transition is one conditional write).

Processing, `Job.status`::

    PENDING   -> RUNNING     an annotator starts an attempt            JobStore.start
    RUNNING   -> RUNNING     a new attempt, only once the holder's lease has expired
    RUNNING   -> PENDING     the holder hands the job back on shutdown  JobStore.release
                             (the attempt is not counted)
    RUNNING   -> COMPLETED   the latest attempt finished               JobStore.finish
    RUNNING   -> FAILED      the input was refused, or attempts ran out JobStore.finish
    PENDING   -> CANCELLED   the user cancelled it before it started    JobStore.cancel
    RUNNING   -> CANCELLED   the user cancelled it: the holder's lease  JobStore.cancel
                             ends, its writes are fenced off, and it
                             stops the engine (the attempt is not counted)

Storage of a COMPLETED job's results, `Job.storage`::

    HOT       -> ARCHIVED    free user, retention over, cold copy made  JobStore.commit_archive
    ARCHIVED  -> RESTORING   the user upgraded, restore requested       JobStore.mark_restoring
    RESTORING -> RESTORING   the restored copy expired unread: asked again
    RESTORING -> HOT         thaw copied the results back               JobStore.mark_thawed

Deletion, `Job.deleting_since`, of a job that is neither RUNNING nor RESTORING::

    (any other) -> deleting  the user deleted it: no transition above   JobStore.mark_deleting
                             applies any more (start, archive, restore
                             and the sweeper's re-announcement refuse)
    deleting    -> (gone)    every object removed, then the record      JobStore.delete

COMPLETED, FAILED and CANCELLED are final; a job is deleted only as a whole. A deletion cut short
(the web process died) leaves the job `deleting`: pages show it so, and deleting it
again finishes the work.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from gas.core.timeutil import parse_iso


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Storage(StrEnum):
    HOT = "HOT"
    ARCHIVED = "ARCHIVED"
    RESTORING = "RESTORING"


STATUS_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.RUNNING, JobStatus.PENDING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}
STORAGE_TRANSITIONS: dict[Storage, frozenset[Storage]] = {
    Storage.HOT: frozenset({Storage.ARCHIVED}),
    Storage.ARCHIVED: frozenset({Storage.RESTORING}),
    Storage.RESTORING: frozenset({Storage.RESTORING, Storage.HOT}),
}
ACTIVE = frozenset({JobStatus.PENDING, JobStatus.RUNNING})
# The references a job can be annotated against (each annotator serves both).
ASSEMBLIES = ("GRCh37", "GRCh38")
DEFAULT_ASSEMBLY = "GRCh37"  # jobs recorded before the assembly was chosen per job
GENES_ONLY = "genes only"  # what pages call the genes-only databases' sources
FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

# The result set: every object a job's results consist of, by the field holding its key;
# deleted together. The variant data (annotated VCF, Parquet table) is archived and
# restored together; the log and the summary hold only counts and stay hot, so the job
# page keeps explaining an archived job.
RESULT_FIELDS = ("result_key", "variants_key", "genotypes_key", "log_key", "summary_key")
ARCHIVED_FIELDS = ("result_key", "variants_key", "genotypes_key")


def can_move(current: JobStatus | Storage, target: JobStatus | Storage) -> bool:
    """True when the transition table allows current -> target."""
    if isinstance(current, JobStatus) and isinstance(target, JobStatus):
        return target in STATUS_TRANSITIONS[current]
    if isinstance(current, Storage) and isinstance(target, Storage):
        return target in STORAGE_TRANSITIONS[current]
    return False


@dataclass(frozen=True, kw_only=True)
class Job:
    """One annotation job: what was submitted, how far it got, where its results are."""

    job_id: str
    user_id: str
    submitted_at: str
    # The upload: exactly this object version is annotated (input_etag, If-Match).
    input_file_name: str
    input_bucket: str
    input_key: str
    input_size: int
    input_etag: str | None = None
    # What the user said with the file: a name or note, and the assembly it is on.
    name: str | None = None
    assembly: str = DEFAULT_ASSEMBLY
    # The file looked like another assembly (why, in one line) and the user confirmed
    # this one anyway; the annotator passes the confirmation to the engine.
    assembly_warning: str | None = None
    assembly_confirmed: bool = False
    rerun_of: str | None = None  # the job this one re-runs on the other assembly
    # The database to annotate against (decision 80): None, the genes-only database of
    # `assembly` (old records and clients); else a deployed bundle's name (gas.core.databases).
    database: str | None = None

    status: JobStatus = JobStatus.PENDING
    # Attempts started (a hand-back on shutdown does not count); only the latest may finish.
    attempt: int = 0
    # The running attempt's lease: the SQS message that holds it, and until when
    # (epoch seconds, renewed by the holder's heartbeat).
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    started_at: str | None = None
    # When the sweeper last announced the job again (its message was lost).
    requeued_at: str | None = None
    completed_at: str | None = None
    error: str | None = None  # FAILED only: one line for the user, no file content
    cancelled_at: str | None = None  # CANCELLED only: when the user cancelled it
    # RUNNING only: how far the current attempt has got (JobStore.report_progress, every
    # few seconds): records written, bytes of the upload (as stored, compressed or not)
    # read, and when. A new attempt starts without them.
    progress_records: int | None = None
    progress_bytes: int | None = None
    progress_at: str | None = None

    result_bucket: str | None = None
    result_key: str | None = None  # the annotated VCF
    log_key: str | None = None
    summary_key: str | None = None
    variants_key: str | None = None  # the variants as Parquet
    genotypes_key: str | None = None  # the samples' genotypes as Parquet (files with samples only)
    summary: dict[str, int] | None = None  # the few counts the job page shows
    database_version: str | None = None  # the annotation database the results came from
    # Its sources as the annotator used them: "genes only", or the bundle's name and sha256s.
    database_sources: str | None = None
    notified_at: str | None = None

    storage: Storage = Storage.HOT
    # Cold copies by result field ("result_key" -> archive ref), set when archived.
    archive_refs: dict[str, str] = field(default_factory=dict)
    archived_at: str | None = None
    restore_tier: str | None = None
    restore_requested_at: str | None = None
    # Backend restore ids by result field (the Glacier vault backend has them).
    restore_ids: dict[str, str] = field(default_factory=dict)
    restored_at: str | None = None
    # Set when the user deleted the job and its objects are being removed.
    deleting_since: str | None = None

    def __post_init__(self) -> None:
        # Accept the plain strings DynamoDB and callers hold; keep the enums.
        object.__setattr__(self, "status", JobStatus(self.status))
        object.__setattr__(self, "storage", Storage(self.storage))

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def deleting(self) -> bool:
        return self.deleting_since is not None

    @property
    def other_assembly(self) -> str:
        """The assembly a re-run would use."""
        return next(a for a in ASSEMBLIES if a != self.assembly)

    @property
    def database_kind(self) -> str:
        """What pages say the job is annotated against: "genes only" or "bundle NAME"."""
        return f"bundle {self.database}" if self.database else GENES_ONLY

    @property
    def progress(self) -> dict[str, Any] | None:
        """A running job's progress: records written, percent of the input read and an
        estimate of the seconds left (from the attempt's rate so far; None while too early)."""
        if self.status != JobStatus.RUNNING or self.progress_records is None or self.progress_at is None:
            return None
        done = min(self.progress_bytes or 0, self.input_size)
        percent = round(100 * done / self.input_size, 1) if self.input_size else 0.0
        eta: int | None = None
        # Not before 5% is read: the attempt's start (download, database) would dominate the rate.
        if self.started_at and done * 20 >= self.input_size > 0:
            elapsed = (parse_iso(self.progress_at) - parse_iso(self.started_at)).total_seconds()
            if elapsed > 0:
                eta = round(elapsed * (self.input_size - done) / done)
        return {
            "records": self.progress_records,
            "percent": percent,
            "eta_seconds": eta,
            "updated_at": self.progress_at,
        }

    @property
    def title(self) -> str:
        """What pages call the job: its name, else the file name."""
        return self.name or self.input_file_name

    @property
    def results_prefix(self) -> str:
        """Every result object of the job lives under this key prefix."""
        return f"{self.user_id}/{self.job_id}/"

    def result_objects(self, fields: tuple[str, ...] = RESULT_FIELDS) -> dict[str, str]:
        """The job's result set (or the given part of it): result field -> S3 key."""
        keys = {name: getattr(self, name) for name in fields}
        return {name: key for name, key in keys.items() if key}

    def replace(self, **changes: Any) -> Job:
        return dataclasses.replace(self, **changes)

    # -- DynamoDB -----------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        """Attribute name -> plain value; unset (None) and empty maps are left out."""
        record: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or value == {}:
                continue
            if isinstance(value, StrEnum):
                value = str(value)
            elif isinstance(value, float):
                value = Decimal(str(value))  # DynamoDB numbers are decimals
            record[f.name] = value
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Job:
        """A job from a stored record. Attributes this version does not know are ignored
        (a newer writer during a rolling upgrade), so old readers keep working."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in record.items() if k in known}
        for name in ("attempt", "input_size", "progress_records", "progress_bytes"):
            if name in values:
                values[name] = int(values[name])
        if values.get("lease_expires_at") is not None:
            values["lease_expires_at"] = float(values["lease_expires_at"])
        if isinstance(values.get("summary"), dict):
            values["summary"] = {str(k): int(v) for k, v in values["summary"].items()}
        return cls(**values)
