"""Upload form, job creation from the S3 redirect (with the assembly check; the work is
`gas.web.submission`'s, shared with the API), job list/detail/log/download, JSON API."""

from __future__ import annotations

import json
from typing import Any

import structlog
from botocore.exceptions import ClientError
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

from gas.core.databases import deployed
from gas.core.job_record import ASSEMBLIES, DEFAULT_ASSEMBLY, Job, JobStatus, Storage
from gas.core.jobs import InvalidCursor, new_job_id
from gas.core.users import FREE
from gas.web.assembly import AssemblyCheck
from gas.web.charts import charts
from gas.web.context import login_required, own_job_or_404, services
from gas.web.submission import AssemblyMismatch, PublishFailed, Refused, delete_upload, submit_upload
from gas.web.uploads import (
    ALLOWED_SUFFIXES,
    MAX_JOB_NAME,
    META_ASSEMBLY,
    META_JOB_NAME,
    UploadKeyError,
    parse_key,
    safe_filename,
)
from gas.web.variants import ResultUnavailable, readable

bp = Blueprint("annotations", __name__)
log = structlog.get_logger()

LOG_MAX_BYTES = 1024 * 1024  # the count log is small; never stream a huge object into a page
SUMMARY_MAX_BYTES = 1024 * 1024  # likewise the summary JSON


# -- helpers -----------------------------------------------------------------------
def _tier() -> str:
    profile = services().users.get_profile(g.user_id) or {}
    return profile.get("tier", "free")


def _refuse(message: str, status: int = 400, upgrade: bool = False) -> Any:
    return render_template("error.html", code=status, message=message, retry=True, upgrade=upgrade), status


def downloadable(job: Job) -> bool:
    return (
        job.status == JobStatus.COMPLETED and bool(job.result_key) and job.storage == Storage.HOT and not job.deleting
    )


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


def table_readable(job: Job) -> bool:
    try:
        readable(job)
    except ResultUnavailable:
        return False
    return True


def _progress(job: Job) -> dict[str, Any] | None:
    """The running job's progress, with the line the page shows (job.js shows the same)."""
    progress = job.progress
    if progress is None:
        return None
    text = f"{progress['records']:,} records written, {progress['percent']}% of the file read"
    eta = progress["eta_seconds"]
    if eta is not None:
        text += ", under a minute left" if eta < 60 else f", about {round(eta / 60)} min left"
    return {**progress, "text": text}


def job_view(job: Job, with_download: bool = False) -> dict[str, Any]:
    """What a user may see of a job (no internal counters or archive references)."""
    view: dict[str, Any] = {
        k: getattr(job, k)
        for k in (
            "job_id",
            "name",
            "title",
            "status",
            "input_file_name",
            "input_size",
            "submitted_at",
            "started_at",
            "completed_at",
            "cancelled_at",
            "storage",
            "restore_tier",
            "restore_requested_at",
            "assembly",
            "assembly_warning",
            "database",
            "database_kind",
            "database_version",
            "database_sources",
            "rerun_of",
            "deleting",
        )
    }
    view["status"], view["storage"] = str(job.status), str(job.storage)
    view["summary"] = job.summary
    view["progress"] = _progress(job)
    view["error"] = job.error if job.status == JobStatus.FAILED else None
    view["other_assembly"] = job.other_assembly
    # What the page offers (the store refuses the rest anyway).
    view["can_delete"] = job.status != JobStatus.RUNNING and job.storage != Storage.RESTORING
    view["can_rerun"] = job.finished and not job.deleting
    view["can_cancel"] = job.active and not job.deleting
    view["can_rename"] = not job.deleting
    view["has_samples"] = bool(job.genotypes_key)  # the sample filter, genotype columns, per-sample counts
    view["links"] = {
        "page": url_for("annotations.job_page", job_id=job.job_id),
        "log": url_for("annotations.job_log", job_id=job.job_id) if job.log_key else None,
        "download": url_for("annotations.download", job_id=job.job_id) if downloadable(job) else None,
        "variants": url_for("results.variants", job_id=job.job_id) if table_readable(job) else None,
        "input": url_for("manage.input_download", job_id=job.job_id),
        "samples": url_for("results.samples", job_id=job.job_id) if job.genotypes_key and table_readable(job) else None,
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
    post = svc.upload_form(
        g.user_id, job_id, limit, redirect_url=svc.settings.public_url + url_for("annotations.new_job")
    )
    return render_template(
        "annotate.html",
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
    tier = _tier()
    try:
        submitted = submit_upload(svc, g.user_id, tier, key, etag, **choice)
    except Refused as refused:
        return _refuse(refused.message, refused.status, upgrade=refused.reason == "too-large" and tier == FREE)
    except AssemblyMismatch as mismatch:
        return _ask_assembly(
            mismatch.file_name,
            mismatch.chosen,
            mismatch.name,
            mismatch.check,
            form_action=url_for("annotations.confirm_new_job"),
            hidden={"key": mismatch.key},
            cancel=url_for("annotations.cancel_new_job"),
            database=mismatch.database,
        )
    if submitted.created:
        flash("Your file was uploaded and the annotation job submitted.", "success")
    return redirect(url_for("annotations.job_page", job_id=submitted.job.job_id))


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
    return redirect(url_for("annotations.annotate"))


def _ask_assembly(
    file_name: str,
    chosen: str,
    name: str | None,
    check: AssemblyCheck,
    form_action: str,
    hidden: dict[str, str],
    cancel: str | None,
    database: str | None = None,
) -> Any:
    """The page that says the file does not look like the chosen assembly, and why.
    `database`: the bundle chosen, which "anyway" keeps (the likely assembly is genes only)."""
    return render_template(
        "assembly_check.html",
        file_name=file_name,
        chosen=chosen,
        name=name,
        check=check,
        form_action=form_action,
        hidden=hidden,
        cancel=cancel,
        database=database,
    ), 409


@bp.errorhandler(PublishFailed)
def _publish_failed(_exc: PublishFailed) -> Any:
    # The job record exists; reloading this same URL re-publishes (gas.web.submission).
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
    summary = load_summary(job)
    return render_template(
        "annotation.html",
        job=job_view(job),
        active=job.active and not job.deleting,
        charts=charts(summary) if summary else [],
        totals=_totals(summary or {}),
        tier=g.user.get("tier", FREE),  # the profile load_user read for this request
        max_job_name=MAX_JOB_NAME,
    )


def _totals(summary: dict[str, Any]) -> dict[str, Any]:
    """The counts the job page states once, above the charts: records (data lines), their
    alleles (one table row each), how many were annotated, and how many lay outside the
    assembly (written with variant class and ts/tv only), past a chromosome end among them."""
    variants, tstv = summary.get("variants"), summary.get("tstv")
    if not isinstance(variants, dict):
        variants = {}
    records = variants.get("written")
    outside = int(variants.get("outside_assembly") or 0)
    past = summary.get("past_contig_end")
    past = {str(k): int(v) for k, v in past.items()} if isinstance(past, dict) else {}
    extra = summary.get("multiallelic_extra_alleles")
    return {
        "records": records,
        "alleles": records + int(extra) if records is not None and isinstance(extra, int) else None,
        "annotated": records - outside if records is not None else None,
        "outside": outside,
        "past_end": sum(past.values()),
        "past_end_by_contig": sorted(past.items(), key=lambda kv: (-kv[1], kv[0]))[:10],
        "ratio": tstv.get("ratio") if isinstance(tstv, dict) else None,
    }


def load_summary(job: Job) -> dict[str, Any] | None:
    """The engine's summary JSON of a completed job (it stays hot when results are archived)."""
    if job.status != JobStatus.COMPLETED or not job.summary_key or job.deleting:
        return None
    svc = services()
    try:
        obj = svc.aws.client("s3").get_object(
            Bucket=job.result_bucket or svc.aws.names.results_bucket, Key=job.summary_key
        )
        raw = obj["Body"].read(SUMMARY_MAX_BYTES)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "InvalidObjectState"):
            return None
        raise
    try:
        summary = json.loads(raw)
    except ValueError:
        log.warning("job.summary_unreadable", job_id=job.job_id)
        return None
    return summary if isinstance(summary, dict) else None


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


# -- JSON (the job page's status poll) --------------------------------------------------
@bp.get("/api/annotations/<job_id>")
@login_required
def api_job(job_id: str) -> Any:
    return jsonify(job_view(own_job_or_404(job_id), with_download=True))
