"""Managing jobs: delete one (everything it stored, everywhere), re-run it on the other
assembly, download its input again, rename it, cancel it.

Renaming (`rename_job`, behind the job page's form, the API's `PATCH /api/v1/jobs/{id}` and
`gas rename`): one line of at most MAX_JOB_NAME characters; an empty name clears it. The
name is never logged (it may say what the data is).

Cancelling (`cancel_job`, behind the job page's Cancel, `POST /api/v1/jobs/{id}/cancel`
and `gas cancel`): `JobStore.cancel` makes a PENDING or RUNNING job CANCELLED (final). A
PENDING job never starts; a RUNNING job's annotator sees the status within its
`cancel_poll_seconds`, kills the engine and removes its scratch. The attempt is not
counted and no email is sent.

Deleting (`delete_job`, the one implementation behind the job page's Delete and the API's
`DELETE /api/v1/jobs/{id}`) (`gas.core.job_record`: any job that is neither RUNNING nor RESTORING):
1. `JobStore.mark_deleting` (conditional): from now on no annotator starts it, no archiver
   archives or restores it, the sweeper leaves it alone; pages show it as being deleted.
2. Its objects go: the input, every object under its results prefix (annotated VCF,
   Parquet table, log, summary, restored copies), its cold copies (`cold/<prefix>` in the
   results bucket; archives in the Glacier vault by their references), this host's local
   copy of its variant table.
3. `JobStore.delete` removes the record, last, so that a deletion cut short (the process
   died) is still listed and deleting it again finishes the work.
"""

from __future__ import annotations

from typing import Any

import structlog
from botocore.exceptions import ClientError
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from prometheus_client import Counter

from gas.core.aws import Aws
from gas.core.job_record import Job
from gas.core.jobs import Cancelling, new_job_id
from gas.core.timeutil import utc_now_iso
from gas.web.annotations import _ask_assembly
from gas.web.assembly import check_object
from gas.web.context import Services, login_required, own_job_or_404, services
from gas.web.submission import PublishFailed, publish_requested
from gas.web.uploads import INPUTS, MAX_JOB_NAME, clean_job_name, safe_filename

bp = Blueprint("manage", __name__)
log = structlog.get_logger()

COLD_PREFIX = "cold/"  # where the archiver's s3-glacier backend keeps cold copies
JOBS_CANCELLED = Counter(
    "gas_web_jobs_cancelled_total", "Jobs their users cancelled, by the status they had", ["status"]
)
for _status in ("PENDING", "RUNNING"):
    JOBS_CANCELLED.labels(_status)


def _delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every object under a prefix; how many there were. One DeleteObject each (a
    job has a handful): authorized per object everywhere, where moto authorizes a bulk
    DeleteObjects against the bucket and refuses it under a per-object policy."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
            count += 1
    return count


def remove_objects(aws: Aws, job: Job) -> int:
    """Every object the job stored, hot and cold; idempotent. How many went."""
    s3 = aws.client("s3")
    results_bucket = job.result_bucket or aws.names.results_bucket
    s3.delete_object(Bucket=job.input_bucket, Key=job.input_key)
    count = 1
    count += _delete_prefix(s3, results_bucket, job.results_prefix)
    count += _delete_prefix(s3, results_bucket, COLD_PREFIX + job.results_prefix)
    for ref in job.archive_refs.values():
        if ref.startswith("glacier-vault:"):
            vault, archive_id = ref.removeprefix("glacier-vault:").split("/", 1)
            try:
                aws.client("glacier").delete_archive(vaultName=vault, archiveId=archive_id)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
            count += 1
    return count


class JobBusy(Exception):
    """The job cannot be deleted now: it is running, or its results are being restored
    (str() says which, for the user)."""


def delete_job(svc: Services, job_id: str, user_id: str) -> Job | None:
    """Delete the user's job whole: mark it, remove its objects hot and cold and this
    host's table copy, then its record. The job as it was; None when there is no such job
    of this user (or it is gone already: a repeat changes nothing). JobBusy while it is
    RUNNING or RESTORING. A PENDING job may go: its message reaches an annotator that
    drops messages of deleted jobs."""
    marked = svc.jobs.mark_deleting(job_id, user_id)
    if marked.job is None:
        return None
    if marked.refused:
        raise JobBusy(f"This job cannot be deleted now: {marked.refused}.")
    job = marked.job
    removed = remove_objects(svc.aws, job)
    svc.variants.cache.forget(job.job_id)
    svc.jobs.delete(job.job_id)
    log.info("job.deleted", job_id=job.job_id, objects=removed)
    return job


@bp.post("/annotations/<job_id>/delete")
@login_required
def delete(job_id: str) -> Any:
    own_job_or_404(job_id)
    try:
        job = delete_job(services(), job_id, g.user_id)
    except JobBusy as busy:
        return render_template("error.html", code=409, message=str(busy)), 409
    if job is None:
        abort(404)  # gone meanwhile (a second click)
    flash(f"The job “{job.title}” and all its files were deleted.", "success")
    return redirect(url_for("annotations.list_jobs"))


class BadName(ValueError):
    """A job name that cannot be stored (str() says why, for the user)."""


def rename_job(svc: Services, job_id: str, user_id: str, raw: str | None) -> Job | None:
    """Give the user's job a new name (blank or None clears it); the job renamed, None
    when there is no such job of this user or it is being deleted. BadName when the name
    is too long or not one line (refused, not cut: the user sees what was stored)."""
    name = (raw or "").strip() or None
    if name is not None and len(name) > MAX_JOB_NAME:
        raise BadName(f"A job name has at most {MAX_JOB_NAME} characters.")
    if name is not None and clean_job_name(name, encoded=False) != name:  # control characters
        raise BadName("A job name is one line of text.")
    job = svc.jobs.rename(job_id, user_id, name)
    if job is not None:
        log.info("job.renamed", job_id=job_id, named=name is not None)  # never the name itself
    return job


def cancel_job(svc: Services, job_id: str, user_id: str) -> Cancelling:
    """Cancel the user's PENDING or RUNNING job (JobStore.cancel's answer)."""
    answer = svc.jobs.cancel(job_id, user_id)
    if answer.was is not None:  # this request cancelled it (not a repeat)
        JOBS_CANCELLED.labels(str(answer.was)).inc()
        log.info("job.cancelled", job_id=job_id, was=str(answer.was))
    return answer


@bp.post("/annotations/<job_id>/rename")
@login_required
def rename(job_id: str) -> Any:
    own_job_or_404(job_id)
    try:
        job = rename_job(services(), job_id, g.user_id, request.form.get("name"))
    except BadName as bad:
        return render_template("error.html", code=400, message=str(bad)), 400
    if job is None:
        return render_template("error.html", code=409, message="This job is being deleted."), 409
    flash("The job was renamed." if job.name else "The job's name was removed.", "success")
    return redirect(url_for("annotations.job_page", job_id=job_id))


@bp.post("/annotations/<job_id>/cancel")
@login_required
def cancel(job_id: str) -> Any:
    own_job_or_404(job_id)
    answer = cancel_job(services(), job_id, g.user_id)
    if answer.job is None:
        abort(404)
    if answer.refused:
        return render_template("error.html", code=409, message=f"This job cannot be cancelled: {answer.refused}."), 409
    flash(f"The job “{answer.job.title}” was cancelled.", "success")
    return redirect(url_for("annotations.job_page", job_id=job_id))


@bp.get("/annotations/<job_id>/input")
@login_required
def input_download(job_id: str) -> Any:
    """A fresh short-lived link to the file as it was uploaded."""
    job = own_job_or_404(job_id)
    svc = services()
    if job.deleting:
        abort(404)
    try:
        svc.aws.client("s3").head_object(Bucket=job.input_bucket, Key=job.input_key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            message = "The uploaded file is no longer kept (inputs expire some time after upload)."
            return render_template("error.html", code=410, message=message), 410
        raise
    name = safe_filename(job.input_file_name) or "input.vcf"
    url = svc.browser_s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": job.input_bucket,
            "Key": job.input_key,
            "ResponseContentDisposition": f'attachment; filename="{name}"',
        },
        ExpiresIn=svc.settings.download_url_seconds,
    )
    return redirect(url)


@bp.post("/annotations/<job_id>/rerun")
@login_required
def rerun(job_id: str) -> Any:
    """A new job on the same input, annotated against the other assembly."""
    job = own_job_or_404(job_id)
    svc = services()
    if job.deleting or not job.finished:
        return render_template("error.html", code=409, message="Only a finished job can be re-run."), 409
    assembly = job.other_assembly
    s3 = svc.aws.client("s3")
    try:
        check = check_object(s3, job.input_bucket, job.input_key, assembly)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            message = "The uploaded file is no longer kept; upload it again to annotate it on " + assembly + "."
            return render_template("error.html", code=410, message=message), 410
        raise
    if check.conflict and request.form.get("confirm") != "yes":
        log.info("upload.assembly_mismatch", chosen=assembly, likely=check.likely, rerun_of=job.job_id)
        action = url_for("manage.rerun", job_id=job.job_id)
        return _ask_assembly(job.input_file_name, assembly, job.name, check, action, {}, None)
    new_id = new_job_id()
    input_key = f"{INPUTS}{job.user_id}/{new_id}~{job.input_file_name}"
    # Its own copy of the input: deleting either job never takes the other's input.
    extra = {"CopySourceIfMatch": job.input_etag} if job.input_etag else {}
    try:
        copied = s3.copy_object(
            Bucket=job.input_bucket,
            Key=input_key,
            CopySource={"Bucket": job.input_bucket, "Key": job.input_key},
            MetadataDirective="REPLACE",
            Metadata={"assembly": assembly},
            **extra,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "412", "PreconditionFailed"):
            message = "The uploaded file is no longer the one this job annotated; upload it again."
            return render_template("error.html", code=410, message=message), 410
        raise
    new = Job(
        job_id=new_id,
        user_id=job.user_id,
        input_file_name=job.input_file_name,
        input_bucket=job.input_bucket,
        input_key=input_key,
        input_size=job.input_size,
        input_etag=copied["CopyObjectResult"]["ETag"],
        submitted_at=utc_now_iso(),
        name=f"{job.title} on {assembly}",
        assembly=assembly,
        assembly_warning=check.conflict,
        assembly_confirmed=bool(check.conflict),
        rerun_of=job.job_id,
    )
    svc.jobs.create(new)
    log.info("job.rerun", job_id=new_id, rerun_of=job.job_id, assembly=assembly)
    try:
        publish_requested(svc, new)
    except PublishFailed:
        # The job exists (PENDING): the sweeper announces it again if nobody does.
        flash("The re-run was created but could not be started yet; it will start shortly.", "warning")
        return redirect(url_for("annotations.job_page", job_id=new_id))
    flash(f"Re-running on {assembly}.", "success")
    return redirect(url_for("annotations.job_page", job_id=new_id))
