"""Upload form, job creation from the S3 redirect, job list/detail/log/download, JSON API."""

from __future__ import annotations

from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from gas.core.events import JobRequested, Publisher
from gas.core.job_record import Job, JobStatus, Storage
from gas.core.jobs import InvalidCursor, new_job_id
from gas.core.timeutil import utc_now_iso
from gas.web.context import login_required, own_job_or_404, services
from gas.web.uploads import (
    ALLOWED_SUFFIXES,
    UploadKeyError,
    claimed_key,
    name_problem,
    parse_key,
    presigned_upload,
    safe_filename,
)

bp = Blueprint("annotations", __name__)
log = structlog.get_logger()

LOG_MAX_BYTES = 1024 * 1024  # the count log is small; never stream a huge object into a page


# -- helpers -----------------------------------------------------------------------
def _tier() -> str:
    profile = services().users.get_profile(g.user_id) or {}
    return profile.get("tier", "free")


def _refuse(message: str, status: int = 400) -> Any:
    log.info("upload.refused", reason=message)
    return render_template("error.html", code=status, message=message, retry=True), status


def _delete_upload(bucket: str, key: str) -> None:
    # Nothing half-done: a refused upload does not stay behind in the inputs bucket.
    try:
        services().aws.client("s3").delete_object(Bucket=bucket, Key=key)
        log.info("upload.deleted", key=key)
    except ClientError as exc:
        log.warning("upload.delete_failed", key=key, error=str(exc))


class PublishFailed(Exception):
    """job.requested could not be sent; the job stays PENDING until a replay sends it."""


def _publish_requested(job: Job) -> None:
    try:
        Publisher(services().aws).publish(JobRequested(job.job_id, job.user_id))
    except (ClientError, BotoCoreError) as exc:
        log.error("job.requested_publish_failed", job_id=job.job_id, error=str(exc))
        raise PublishFailed(job.job_id) from exc
    log.info("job.requested_published", job_id=job.job_id)


def downloadable(job: Job) -> bool:
    return job.status == JobStatus.COMPLETED and bool(job.result_key) and job.storage == Storage.HOT


def download_url(job: Job) -> str:
    """A presigned GET of the annotated VCF, valid download_url_seconds."""
    svc = services()
    assert job.result_key
    name = safe_filename(job.result_key.rsplit("/", 1)[-1]) or "annotated.vcf"
    return str(
        svc.browser_s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": job.result_bucket or svc.aws.names.results_bucket,
                "Key": job.result_key,
                "ResponseContentDisposition": f'attachment; filename="{name}"',
            },
            ExpiresIn=svc.settings.download_url_seconds,
        )
    )


def job_view(job: Job, with_download: bool = False) -> dict[str, Any]:
    """What a user may see of a job (no internal counters or archive references)."""
    view: dict[str, Any] = {
        k: getattr(job, k)
        for k in (
            "job_id",
            "status",
            "input_file_name",
            "input_size",
            "submitted_at",
            "started_at",
            "completed_at",
            "storage",
            "restore_tier",
            "restore_requested_at",
        )
    }
    view["status"], view["storage"] = str(job.status), str(job.storage)
    view["summary"] = job.summary
    view["error"] = job.error if job.status == JobStatus.FAILED else None
    view["links"] = {
        "page": url_for("annotations.job_page", job_id=job.job_id),
        "log": url_for("annotations.job_log", job_id=job.job_id) if job.log_key else None,
        "download": url_for("annotations.download", job_id=job.job_id) if downloadable(job) else None,
    }
    if with_download and downloadable(job):
        view["download_url"] = download_url(job)
    return view


def _page(cursor: str | None) -> Any:
    svc = services()
    try:
        return svc.jobs.list_for_user(g.user_id, svc.settings.jobs_per_page, cursor)
    except InvalidCursor:
        abort(400, "invalid page cursor")


# -- upload ------------------------------------------------------------------------
@bp.get("/annotate")
@login_required
def annotate() -> Any:
    svc = services()
    tier = _tier()
    limit = svc.upload_limit(tier)
    # The job id is fixed now: the policy only admits keys under <user_id>/<job_id>~.
    job_id = new_job_id()
    post = presigned_upload(
        svc.browser_s3,
        svc.aws.names.inputs_bucket,
        g.user_id,
        job_id,
        limit,
        svc.settings.public_url + url_for("annotations.new_job"),
        svc.settings.upload_form_seconds,
    )
    return render_template("annotate.html", post=post, limit=limit, tier=tier, suffixes=ALLOWED_SUFFIXES)


@bp.get("/annotations/new")
@login_required
def new_job() -> Any:
    """S3's success_action_redirect target (?bucket=&key=[&etag=]): create and announce the job."""
    svc = services()
    s3 = svc.aws.client("s3")
    bucket = svc.aws.names.inputs_bucket
    key = request.args.get("key", "")
    if request.args.get("bucket", bucket) != bucket:
        return _refuse("That upload is not in the GAS inputs bucket.")
    try:
        upload = parse_key(key, g.user_id)
    except UploadKeyError as exc:
        # Not this user's object: refuse without touching it.
        return _refuse(f"That upload cannot be used: {exc}.")
    structlog.contextvars.bind_contextvars(job_id=upload.job_id)

    existing = svc.jobs.get(upload.job_id)
    if existing is not None:
        return _already_submitted(existing, bucket, key)

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return _refuse("The uploaded file was not found. Please upload it again.")
        raise
    etag = request.args.get("etag")
    if etag and etag.strip('"') != head.get("ETag", "").strip('"'):
        return _refuse("The uploaded file changed after upload. Please upload it again.")

    problem = name_problem(upload.file_name)
    if problem:
        _delete_upload(bucket, key)
        return _refuse(f"The file was refused: {problem}.")
    size = int(head["ContentLength"])
    tier = _tier()
    limit = svc.upload_limit(tier)
    if size > limit:
        _delete_upload(bucket, key)
        return _refuse(
            f"The file is {size:,} bytes; {tier} accounts may upload at most {limit:,} bytes.",
            413,
        )
    if size == 0:
        _delete_upload(bucket, key)
        return _refuse("The file is empty.")

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
        if exc.response["Error"]["Code"] in ("412", "PreconditionFailed", "404", "NoSuchKey"):
            return _refuse("The uploaded file changed after upload. Please upload it again.")
        raise
    job = Job(
        job_id=upload.job_id,
        user_id=g.user_id,
        input_file_name=upload.file_name,
        input_bucket=bucket,
        input_key=input_key,
        input_size=size,
        input_etag=copied["CopyObjectResult"]["ETag"],
        submitted_at=utc_now_iso(),
    )
    if not svc.jobs.create(job):
        # Two redirects raced (double click, replay): the other one created it.
        return _already_submitted(svc.jobs.get(upload.job_id) or job, bucket, key)
    _delete_upload(bucket, key)
    log.info("job.created", input_key=input_key, input_size=size)
    # A crash right here leaves a PENDING job without its event; replaying the
    # redirect URL re-publishes it (see _already_submitted).
    _publish_requested(job)
    flash("Your file was uploaded and the annotation job submitted.", "success")
    return redirect(url_for("annotations.job_page", job_id=upload.job_id))


def _already_submitted(existing: Job, bucket: str, key: str) -> Any:
    if existing.user_id != g.user_id or existing.input_key != claimed_key(key):
        # The same form used for a second file (or someone else's job id): this
        # object can never become a job, so it does not stay behind.
        _delete_upload(bucket, key)
        return _refuse("This upload form was already used. Please start a new upload.", 409)
    if existing.status == JobStatus.PENDING:
        # Harmless if the first publish got through: the annotator's lease dedups.
        _publish_requested(existing)
    return redirect(url_for("annotations.job_page", job_id=existing.job_id))


@bp.errorhandler(PublishFailed)
def _publish_failed(_exc: PublishFailed) -> Any:
    # The job record exists; reloading this same URL re-publishes (see _already_submitted).
    message = (
        "Your file was received, but the annotation job could not be started just now. "
        "Reload this page in a moment to try again."
    )
    return render_template("error.html", code=503, message=message), 503


# -- jobs --------------------------------------------------------------------------
@bp.get("/annotations")
@login_required
def list_jobs() -> Any:
    cursor = request.args.get("cursor") or None
    page = _page(cursor)
    return render_template(
        "annotations.html",
        jobs=[job_view(j) for j in page.jobs],
        next_cursor=page.next_cursor,
        first_page=cursor is None,
    )


@bp.get("/annotations/<job_id>")
@login_required
def job_page(job_id: str) -> Any:
    job = own_job_or_404(job_id)
    return render_template("annotation.html", job=job_view(job), active=job.active)


@bp.get("/annotations/<job_id>/download")
@login_required
def download(job_id: str) -> Any:
    job = own_job_or_404(job_id)
    if not downloadable(job):
        message = (
            "The results of this job are in cold storage. Upgrade to premium to restore them."
            if job.status == JobStatus.COMPLETED
            else "This job has no results to download."
        )
        return render_template("error.html", code=409, message=message), 409
    # A fresh short-lived link on every click, so an old page never holds an expired one.
    return redirect(download_url(job))


@bp.get("/annotations/<job_id>/log")
@login_required
def job_log(job_id: str) -> Any:
    job = own_job_or_404(job_id)
    text = None
    if job.log_key:
        try:
            obj = (
                services()
                .aws.client("s3")
                .get_object(Bucket=job.result_bucket or services().aws.names.results_bucket, Key=job.log_key)
            )
            text = obj["Body"].read(LOG_MAX_BYTES).decode("utf-8", errors="replace")
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NoSuchKey", "404", "InvalidObjectState"):
                raise
    return render_template("log.html", job=job_view(job), text=text)


# -- JSON API ----------------------------------------------------------------------
@bp.get("/api/annotations")
@login_required
def api_list() -> Any:
    page = _page(request.args.get("cursor") or None)
    return jsonify(jobs=[job_view(j) for j in page.jobs], next_cursor=page.next_cursor)


@bp.get("/api/annotations/<job_id>")
@login_required
def api_job(job_id: str) -> Any:
    return jsonify(job_view(own_job_or_404(job_id), with_download=True))
