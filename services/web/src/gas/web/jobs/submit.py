"""The upload form and job creation from the S3 redirect, with the assembly check (the
work is `gas.web.submission`'s, shared with the API)."""

from __future__ import annotations

from typing import Any

import structlog
from flask import abort, flash, g, redirect, render_template, request, url_for

from gas.core.databases import deployed
from gas.core.job_record import ASSEMBLIES, DEFAULT_ASSEMBLY
from gas.core.jobs import new_job_id
from gas.web.context import current_user, login_required, services
from gas.web.jobs.blueprint import bp
from gas.web.jobs.common import ask_assembly
from gas.web.submission import AssemblyMismatch, PublishFailed, Refused, delete_upload, submit_upload
from gas.web.uploads import (
    ALLOWED_SUFFIXES,
    MAX_JOB_NAME,
    META_ASSEMBLY,
    META_JOB_NAME,
    UploadKeyError,
    parse_key,
)

log = structlog.get_logger()


def _refuse(message: str, status: int = 400, upgrade: bool = False) -> Any:
    return render_template("error.html", code=status, message=message, retry=True, upgrade=upgrade), status


@bp.get("/annotate")
@login_required
def annotate() -> Any:
    svc = services()
    tier = current_user().tier
    limit = svc.upload_limit(tier)
    # The job id is fixed now: the policy only admits keys under <user_id>/<job_id>~.
    job_id = new_job_id()
    post = svc.upload_form(g.user_id, job_id, limit, redirect_url=svc.settings.public_url + url_for("jobs.new_job"))
    return render_template(
        "jobs/annotate.html",
        post=post,
        limit=limit,
        tier=tier,
        suffixes=ALLOWED_SUFFIXES,
        databases=deployed(),
        default_assembly=DEFAULT_ASSEMBLY,
        meta_assembly=META_ASSEMBLY,
        meta_job_name=META_JOB_NAME,
        max_job_name=MAX_JOB_NAME,
    )


@bp.get("/annotations/new")
@login_required
def new_job() -> Any:
    """S3's success_action_redirect target (?bucket=&key=[&etag=]): check the upload and
    its assembly (chosen on the form: the upload's metadata), then create and announce the
    job (or ask about the assembly first)."""
    svc = services()
    if request.args.get("bucket", svc.aws.names.inputs_bucket) != svc.aws.names.inputs_bucket:
        log.info("upload.refused", reason="not-inputs-bucket")
        return _refuse("That upload is not in the GAS inputs bucket.")
    return _submit(request.args.get("key", ""), request.args.get("etag"))


@bp.post("/annotations/new")
@login_required
def confirm_new_job() -> Any:
    """The assembly question answered: annotate as the assembly the file looks like, or as
    the one chosen (confirm=yes) although it does not look like it."""
    assembly = request.form.get("assembly", "")
    if assembly not in ASSEMBLIES:
        return _refuse(f"Unknown assembly; choose one of {', '.join(ASSEMBLIES)}.")
    return _submit(
        request.form.get("key", ""),
        None,
        assembly=assembly,
        name=request.form.get("name", ""),
        assembly_confirmed=request.form.get("confirm") == "yes",
        database=request.form.get("database") or None,  # "anyway" keeps the bundle chosen
    )


def _submit(key: str, etag: str | None, **choice: Any) -> Any:
    """Run the shared submission; its outcome as this site's pages."""
    svc = services()
    user = current_user()
    try:
        submitted = submit_upload(svc, user, key, etag, **choice)
    except Refused as refused:
        return _refuse(refused.message, refused.status, upgrade=refused.reason == "too-large" and not user.premium)
    except AssemblyMismatch as mismatch:
        return ask_assembly(mismatch, url_for("jobs.confirm_new_job"), url_for("jobs.cancel_new_job"))
    if submitted.created:
        flash("Your file was uploaded and the annotation job submitted.", "success")
    return redirect(url_for("jobs.job_page", job_id=submitted.job.job_id))


@bp.post("/annotations/new/cancel")
@login_required
def cancel_new_job() -> Any:
    """The user would rather not annotate this upload: it goes."""
    svc = services()
    bucket = svc.aws.names.inputs_bucket
    key = request.form.get("key", "")
    try:
        upload = parse_key(key, g.user_id)
    except UploadKeyError:
        abort(404)
    if svc.jobs.get(upload.job_id) is None:
        delete_upload(svc, bucket, key)
    flash("The upload was discarded.", "info")
    return redirect(url_for("jobs.annotate"))


@bp.errorhandler(PublishFailed)
def _publish_failed(_exc: PublishFailed) -> Any:
    # The job record exists; reloading this same URL re-publishes (gas.web.submission).
    message = (
        "Your file was received, but the annotation job could not be started just now. "
        "Reload this page in a moment to try again."
    )
    return render_template("error.html", code=503, message=message), 503
