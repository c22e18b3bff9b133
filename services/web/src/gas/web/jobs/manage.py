"""The job page's actions: delete, rename, cancel (each `gas.web.jobs.common`'s, shared
with the API), download the input again, re-run on the other assembly."""

from __future__ import annotations

from typing import Any

import structlog
from botocore.exceptions import ClientError
from flask import abort, flash, g, redirect, render_template, request, url_for

from gas.core.job_record import Job
from gas.core.jobs import new_job_id
from gas.core.timeutil import utc_now_iso
from gas.web.assembly import check_object
from gas.web.context import login_required, own_job_or_404, services
from gas.web.jobs.blueprint import bp
from gas.web.jobs.common import BadName, JobBusy, ask_assembly, cancel_job, delete_job, rename_job
from gas.web.submission import AssemblyMismatch, PublishFailed, publish_requested
from gas.web.uploads import INPUTS, safe_filename

log = structlog.get_logger()


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
    return redirect(url_for("jobs.list_jobs"))


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
    return redirect(url_for("jobs.job_page", job_id=job_id))


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
    return redirect(url_for("jobs.job_page", job_id=job_id))


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
        action = url_for("jobs.rerun", job_id=job.job_id)
        return ask_assembly(AssemblyMismatch(None, job.input_file_name, assembly, job.name, check, None), action, None)
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
        return redirect(url_for("jobs.job_page", job_id=new_id))
    flash(f"Re-running on {assembly}.", "success")
    return redirect(url_for("jobs.job_page", job_id=new_id))
