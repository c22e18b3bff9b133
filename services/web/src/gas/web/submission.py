"""Turning an upload into a job: the one implementation behind the browser's S3 redirect
(`/annotations/new`) and the API's `POST /api/v1/jobs`.

Validate the upload (this user's, exists, unchanged, a safe VCF name, within the tier),
check its assembly (`gas.web.assembly`: does the file look like the one chosen?), claim it
(a copy of exactly the checked version under inputs/), create the job (conditional: one
job per upload) and publish job.requested. Any refusal deletes an upload that can never
become a job and raises `Refused` with a reason for the user; a file that looks like
another assembly raises `AssemblyMismatch` and keeps the upload until the user answers
(confirm the assembly, choose the likely one, or discard it); a replay of the same upload
finds the job and re-publishes it while it is PENDING.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from gas.core.databases import find, unknown_message
from gas.core.events import JobRequested, Publisher
from gas.core.job_record import ASSEMBLIES, DEFAULT_ASSEMBLY, Job, JobStatus
from gas.core.timeutil import utc_now_iso
from gas.core.users import User
from gas.web.assembly import AssemblyCheck, check_object
from gas.web.context import Services
from gas.web.uploads import UploadKeyError, claimed_key, clean_job_name, name_problem, parse_key

log = structlog.get_logger()

# S3 error codes: the object is not there; it is not the version asked for.
MISSING = ("404", "NoSuchKey", "NotFound")
CHANGED = ("412", "PreconditionFailed")


class Refused(Exception):
    """The upload cannot become a job. `reason` is a stable code (the API maps it to its
    problem type), `message` is for the user, `status` the web page's HTTP status."""

    def __init__(self, reason: str, message: str, status: int):
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status


class AssemblyMismatch(Exception):
    """The file does not look like the assembly chosen, and the user has not confirmed it.
    Nothing was claimed or deleted: the upload (`key`; None for a re-run of a job's input)
    waits under uploads/ for the answer."""

    def __init__(
        self, key: str | None, file_name: str, chosen: str, name: str | None, check: AssemblyCheck, database: str | None
    ):
        super().__init__(check.conflict)
        self.key, self.file_name, self.chosen, self.name, self.check = key, file_name, chosen, name, check
        self.database = database  # the bundle chosen (on `chosen`), kept if the user confirms


class PublishFailed(Exception):
    """job.requested could not be sent; the job stays PENDING until a replay sends it."""


@dataclass(frozen=True)
class Submitted:
    job: Job
    created: bool  # False: the upload had already become this job (a replay)


def delete_upload(svc: Services, bucket: str, key: str) -> None:
    # Nothing half-done: a refused upload does not stay behind in the inputs bucket.
    try:
        svc.aws.client("s3").delete_object(Bucket=bucket, Key=key)
        log.info("upload.deleted", key=key)
    except ClientError as exc:
        log.warning("upload.delete_failed", key=key, error=str(exc))


def publish_requested(svc: Services, job: Job) -> None:
    try:
        Publisher(svc.aws).publish(JobRequested(job.job_id, job.user_id))
    except (ClientError, BotoCoreError) as exc:
        log.error("job.requested_publish_failed", job_id=job.job_id, error=str(exc))
        raise PublishFailed(job.job_id) from exc
    log.info("job.requested_published", job_id=job.job_id)


def _refuse(svc: Services, reason: str, message: str, status: int, delete: tuple[str, str] | None = None) -> Refused:
    if delete is not None:
        delete_upload(svc, *delete)
    log.info("upload.refused", reason=reason)
    return Refused(reason, message, status)


def submit_upload(
    svc: Services,
    user: User,
    key: str,
    etag: str | None = None,
    *,
    assembly: str | None = None,
    name: str | None = None,
    assembly_confirmed: bool = False,
    database: str | None = None,
) -> Submitted:
    """Make the upload at `key` (inputs bucket) the job it was uploaded for.

    `etag`: the ETag S3 reported for the upload, if known (the browser's redirect carries
    it). `assembly`, `name`: what the user chose; None takes what the browser's form sent
    as the upload's metadata. `assembly_confirmed`: annotate as `assembly` even if the
    file looks like another one (the user was asked). `database`: a deployed bundle's name
    (the API's field); the browser's form sends its database choice as the upload's
    assembly metadata (an assembly's name: its genes-only database)."""
    s3 = svc.aws.client("s3")
    bucket = svc.aws.names.inputs_bucket
    user_id = user.user_id
    try:
        upload = parse_key(key, user_id)
    except UploadKeyError as exc:
        # Not this user's object: refuse without touching it.
        raise _refuse(svc, "upload-not-yours", f"That upload cannot be used: {exc}.", 400) from None
    structlog.contextvars.bind_contextvars(job_id=upload.job_id)

    existing = svc.jobs.get(upload.job_id)
    if existing is not None:
        return _already_submitted(svc, existing, user_id, bucket, key)

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in MISSING:
            raise
        return _claimed_meanwhile(svc, upload.job_id, user_id, key, "upload-not-found")
    if etag and etag.strip('"') != head.get("ETag", "").strip('"'):
        raise _refuse(svc, "upload-changed", "The uploaded file changed after upload. Please upload it again.", 400)

    problem = name_problem(upload.file_name)
    if problem:
        raise _refuse(svc, "bad-file-name", f"The file was refused: {problem}.", 400, (bucket, key))
    size = int(head["ContentLength"])
    limit = svc.upload_limit(user.tier)
    if size > limit:
        message = f"The file is {size:,} bytes; {user.tier} accounts may upload at most {limit:,} bytes."
        raise _refuse(svc, "too-large", message, 413, (bucket, key))
    if size == 0:
        raise _refuse(svc, "empty-file", "The file is empty.", 400, (bucket, key))

    meta = {k.lower(): v for k, v in head.get("Metadata", {}).items()}
    chosen = assembly if assembly is not None else meta.get("assembly") or DEFAULT_ASSEMBLY
    from_meta = database is None and assembly is None
    offered = find(database or chosen)
    if offered is None:
        raise _refuse(
            svc, "unknown-database", unknown_message(database or chosen), 400, (bucket, key) if from_meta else None
        )
    if offered.kind == "bundle":
        database = offered.name
        # A bundle on a human assembly is checked as that assembly; one of another genome is
        # checked by the engine against its own FASTA (REF concordance), not here.
        chosen = offered.assembly or (chosen if chosen in ASSEMBLIES else DEFAULT_ASSEMBLY)
    else:  # an assembly's name, as `database` too: its genes-only database
        database, chosen = None, offered.name
    if chosen not in ASSEMBLIES:
        # From the form's metadata the upload can never change: it goes.
        message = f"Unknown assembly; choose one of {', '.join(ASSEMBLIES)}."
        raise _refuse(svc, "unknown-assembly", message, 400, None if assembly is not None else (bucket, key))
    job_name = clean_job_name(meta.get("job-name")) if name is None else clean_job_name(name, encoded=False)
    try:
        if offered.kind == "bundle" and not offered.assembly:
            check = AssemblyCheck()
        else:
            check = check_object(s3, bucket, key, chosen, etag=head["ETag"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in MISSING + CHANGED:
            raise
        reason = "upload-not-found" if exc.response["Error"]["Code"] in MISSING else "upload-changed"
        return _claimed_meanwhile(svc, upload.job_id, user_id, key, reason)
    if check.conflict and not assembly_confirmed:
        log.info("upload.assembly_mismatch", chosen=chosen, likely=check.likely)
        raise AssemblyMismatch(key, upload.file_name, chosen, job_name, check, database)

    # Claim the upload: an immutable copy under inputs/ (only the web app writes there),
    # of exactly the version that was checked; the upload itself then goes.
    input_key = claimed_key(key)
    try:
        copied = s3.copy_object(
            Bucket=bucket,
            Key=input_key,
            CopySource={"Bucket": bucket, "Key": key},
            CopySourceIfMatch=head["ETag"],
            MetadataDirective="COPY",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in MISSING + CHANGED:
            raise
        return _claimed_meanwhile(svc, upload.job_id, user_id, key, "upload-changed")
    job = Job(
        job_id=upload.job_id,
        user_id=user_id,
        input_file_name=upload.file_name,
        input_bucket=bucket,
        input_key=input_key,
        input_size=size,
        input_etag=copied["CopyObjectResult"]["ETag"],
        submitted_at=utc_now_iso(),
        name=job_name,
        assembly=chosen,
        # Recorded only when the user was told and confirmed: the annotator passes the
        # confirmation to the engine, which checks the whole file again.
        assembly_warning=check.conflict,
        assembly_confirmed=bool(check.conflict),
        database=database,
    )
    if not svc.jobs.create(job):
        # Two submissions raced (double click, replay, a retried API call): the other won.
        return _already_submitted(svc, svc.jobs.get(upload.job_id) or job, user_id, bucket, key)
    delete_upload(svc, bucket, key)
    log.info("job.created", input_key=input_key, input_size=size, assembly=chosen, database=job.database_kind)
    # A crash right here leaves a PENDING job without its event; replaying the
    # submission re-publishes it (see _already_submitted), as does gas-sweep.
    publish_requested(svc, job)
    return Submitted(job, created=True)


def _claimed_meanwhile(svc: Services, job_id: str, user_id: str, key: str, reason: str) -> Submitted:
    """The upload vanished or changed while this request worked on it: a concurrent
    submission of it (a double click, a retried API call) claimed it and removed the
    upload first, so answer with its job; otherwise refuse for `reason`."""
    raced = svc.jobs.get(job_id)
    if raced is not None:
        return _already_submitted(svc, raced, user_id, svc.aws.names.inputs_bucket, key)
    message = (
        "The uploaded file was not found. Please upload it again."
        if reason == "upload-not-found"
        else "The uploaded file changed after upload. Please upload it again."
    )
    raise _refuse(svc, reason, message, 400)


def _already_submitted(svc: Services, existing: Job, user_id: str, bucket: str, key: str) -> Submitted:
    if existing.user_id != user_id or existing.input_key != claimed_key(key):
        # The same form used for a second file (or someone else's job id): this
        # object can never become a job, so it does not stay behind.
        raise _refuse(
            svc, "upload-used", "This upload form was already used. Please start a new upload.", 409, (bucket, key)
        )
    if existing.status == JobStatus.PENDING and not existing.deleting:
        # Harmless if the first publish got through: the annotator's lease dedups.
        publish_requested(svc, existing)
    return Submitted(existing, created=False)
