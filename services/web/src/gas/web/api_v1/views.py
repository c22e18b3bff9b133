"""The /api/v1 operations. Each declares its scope; the blueprint's before_request checks
the bearer token, its scope and the rate limit before any of them runs."""

from __future__ import annotations

import inspect
import json
import math
import time
from collections.abc import Callable
from typing import Any

import structlog
from botocore.exceptions import ClientError
from flask import Response, g, request, url_for
from flask_openapi3 import APIBlueprint, Tag

from gas.core.databases import deployed
from gas.core.job_record import Job, JobStatus, Storage
from gas.core.jobs import InvalidCursor, new_job_id
from gas.core.tokens import digest
from gas.web.api_v1.bearer import Principal
from gas.web.api_v1.models import (
    Database,
    DatabaseList,
    FilterPath,
    IdempotencyHeader,
    JobCreate,
    JobLinks,
    JobList,
    JobListQuery,
    JobLog,
    JobOut,
    JobPath,
    JobRename,
    Me,
    Problem,
    ResultLink,
    SavedFilterIn,
    SavedFilterList,
    SavedFilterOut,
    TokenInfo,
    Upload,
    UploadRequest,
    VariantPageOut,
    VariantQuery,
)
from gas.web.api_v1.problems import ApiProblem
from gas.web.context import current_user, own_job_or_404, services
from gas.web.jobs import common as jobs  # delete, rename, cancel: the job pages' own
from gas.web.jobs.common import LOG_MAX_BYTES, download_url
from gas.web.samples import shown_samples
from gas.web.saved_filters import SavedFilterError, SavedFilters
from gas.web.submission import AssemblyMismatch, PublishFailed, Refused, submit_upload
from gas.web.uploads import key_prefix, name_problem, safe_filename, upload_key_of
from gas.web.variants import FilterError, PageRequest, ResultUnavailable, VariantFilter

log = structlog.get_logger()

bp = APIBlueprint("api_v1", __name__, url_prefix="/api/v1")
# Problems every authenticated operation may answer; and 414 from gunicorn itself, before
# the app, for a request line over its limit (4094 bytes; no problem document).
COMMON = {401: Problem, 414: None, 422: Problem, 429: Problem}
REQUIRED_SCOPE: dict[str, str] = {}  # endpoint -> the scope it needs
# Refusals of gas.web.submission -> the API's problem types.
REFUSAL_PROBLEM = {
    "upload-not-yours": "not-found",
    "upload-not-found": "upload-not-found",
    "upload-changed": "upload-changed",
    "upload-used": "upload-used",
    "bad-file-name": "bad-upload",
    "empty-file": "bad-upload",
    "too-large": "too-large",
    "unknown-assembly": "bad-upload",
    "unknown-database": "bad-upload",
}

JOBS = Tag(name="jobs", description="Submit VCF files and follow their annotation jobs")
ACCOUNT = Tag(name="account", description="Who the token speaks for")
FILTERS = Tag(name="filters", description="Saved variant-table filters, usable on any of the user's jobs")


def operation(method: str, rule: str, scope: str, tag: Tag, responses: dict[int, Any], **kwargs: Any) -> Callable:
    """Register an operation needing `scope` (checked in before_request, see __init__)."""

    def register(view: Callable) -> Callable:
        REQUIRED_SCOPE[f"{bp.name}.{view.__name__}"] = scope
        doc = inspect.cleandoc(view.__doc__ or "")
        summary, _, description = doc.partition("\n\n")
        route = getattr(bp, method)(
            rule,
            operation_id=view.__name__,
            summary=summary.replace("\n", " "),
            description=(description + f"\n\nScope: `{scope}`.").strip(),
            tags=[tag],
            security=[{"bearer": [scope]}],
            responses={**COMMON, **responses},
            **kwargs,
        )
        return route(view)

    return register


def principal() -> Principal:
    return g.principal


def _json(model: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(model.model_dump_json(), status=status, mimetype="application/json", headers=headers)


def _links(job: Job) -> JobLinks:
    return JobLinks(
        self=url_for("api_v1.get_job", job_id=job.job_id),
        log=url_for("api_v1.get_job_log", job_id=job.job_id),
        result=url_for("api_v1.get_job_result", job_id=job.job_id),
        variants=url_for("api_v1.get_job_variants", job_id=job.job_id),
        page=url_for("jobs.job_page", job_id=job.job_id),
    )


def job_out(job: Job) -> JobOut:
    return JobOut.of(job, _links(job))


def _not_deleting(job: Job) -> None:
    if job.deleting:
        raise ApiProblem("job-deleting", "This job is being deleted.")


def _field_problem(field: str, message: str, slug: str = "validation") -> ApiProblem:
    return ApiProblem(slug, f"{field}: {message}", extra={"errors": [{"field": field, "message": message}]})


# -- account -------------------------------------------------------------------------------
@operation("get", "/me", "read", ACCOUNT, {200: Me})
def get_me() -> Any:
    """The token's user and what the token may do

    Use it to check a token (`gas login` does)."""
    svc = services()
    who = principal()
    user = current_user()
    token = TokenInfo(
        kind=who.kind,
        scopes=sorted(who.scopes),
        expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(who.expires_epoch)),
        rate_limit=svc.settings.api_rate_limit,
        rate_window_seconds=svc.settings.api_rate_window_seconds,
    )
    me = Me(
        user_id=who.user_id,
        name=user.name,
        email=user.email,
        tier=user.tier.value,
        upload_limit=svc.upload_limit(user.tier),
        token=token,
    )
    return _json(me)


@operation("get", "/databases", "read", JOBS, {200: DatabaseList, 403: Problem})
def list_databases() -> Any:
    """The annotation databases this deployment has

    A job's `database` names one: the genes-only database of each assembly, and every
    bundle (gene model + FASTA) deployed. An unknown name is refused (422) when the job is
    created; check it here before uploading (`gas databases`, `gas submit --database`)."""
    found = [Database(**d.to_dict()) for d in deployed()]
    return _json(DatabaseList(databases=found))


# -- uploads ---------------------------------------------------------------------------------
@operation("post", "/uploads", "submit", JOBS, {201: Upload, 403: Problem, 413: Problem})
def create_upload(body: UploadRequest) -> Any:
    """Get a presigned POST for one file

    Send the file straight to storage with it (multipart/form-data: every field of
    `fields`, then the file as `file`), then create the job with `upload_id`. The form
    admits exactly this name and at most `max_bytes` (the account tier's limit)."""
    svc = services()
    name = safe_filename(body.file_name)
    problem = name_problem(name)
    if problem:
        raise _field_problem("body.file_name", problem)
    tier = current_user().tier
    limit = svc.upload_limit(tier)
    if body.size > limit:
        raise ApiProblem("too-large", f"The file is {body.size:,} bytes; {tier} accounts may upload at most {limit:,}.")
    upload_id = new_job_id()  # the job it becomes has the same id
    post = svc.upload_form(g.user_id, upload_id, limit, file_name=name)
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + svc.settings.upload_form_seconds))
    upload = Upload(
        upload_id=upload_id,
        file_name=name,
        url=post["url"],
        fields=post["fields"],
        max_bytes=limit,
        expires_at=expires,
    )
    log.info("api.upload_created", job_id=upload_id)
    return _json(upload, 201)


# -- jobs --------------------------------------------------------------------------------------
def _upload_key(upload_id: str) -> str | None:
    """The object uploaded for this upload id, if any (the form admits one exact key)."""
    svc = services()
    listed = (
        svc.aws.client("s3")
        .list_objects_v2(Bucket=svc.aws.names.inputs_bucket, Prefix=key_prefix(g.user_id, upload_id), MaxKeys=1)
        .get("Contents", [])
    )
    return str(listed[0]["Key"]) if listed else None


@operation(
    "post",
    "/jobs",
    "submit",
    JOBS,
    {200: JobOut, 201: JobOut, 403: Problem, 404: Problem, 409: Problem, 413: Problem, 503: Problem},
)
def create_job(body: JobCreate, header: IdempotencyHeader) -> Any:
    """Create the job of an uploaded file

    201 with the new job; 200 with the same job when this upload already became it (a
    retry). With an `Idempotency-Key`, reusing the key for a different request is refused
    (422) for a day. A file that looks like another assembly than `assembly` is refused
    with 409 `assembly-mismatch` (the upload is kept): send the detected assembly, or
    `"assembly_confirmed": true`."""
    svc = services()
    user_id = g.user_id
    if header.idempotency_key:
        fingerprint = digest(json.dumps(body.model_dump(mode="json"), sort_keys=True))
        if svc.tokens.claim_idempotency_key(user_id, header.idempotency_key, fingerprint) != fingerprint:
            raise ApiProblem("idempotency-key-reused", "This Idempotency-Key was used for a different request.")
    upload_id = str(body.upload_id)
    key = _upload_key(upload_id)
    if key is None:
        # No upload (any more): a claim deletes the upload only after creating the job, so
        # reading the job after the listing finds it if this upload became one (a retry).
        existing = svc.jobs.get_for_user(upload_id, user_id)
        if existing is None:
            raise ApiProblem("upload-not-found", "No file was uploaded for this upload id (or the upload expired).")
        key = upload_key_of(existing.input_key)
    try:
        submitted = submit_upload(
            svc,
            current_user(),
            key,
            name=body.name,
            assembly=body.assembly,
            assembly_confirmed=body.assembly_confirmed,
            database=body.database,
        )
    except Refused as refused:
        raise ApiProblem(REFUSAL_PROBLEM[refused.reason], refused.message) from None
    except AssemblyMismatch as mismatch:
        check = mismatch.check
        likely = f"; it looks like {check.likely}" if check.likely else ""
        raise ApiProblem(
            "assembly-mismatch",
            f"This file does not look like {mismatch.chosen}: {check.conflict}{likely}. Create the job with that "
            'assembly, or with "assembly_confirmed": true to annotate it as ' + f"{mismatch.chosen} anyway.",
            extra={
                "chosen_assembly": mismatch.chosen,
                "detected_assembly": check.likely,
                "reason": check.conflict,
                "reasons": check.reasons,
            },
        ) from None
    except PublishFailed:
        raise ApiProblem("unavailable", "The job was created but could not be started; retry this request.") from None
    job = submitted.job
    location = url_for("api_v1.get_job", job_id=job.job_id)
    return _json(job_out(job), 201 if submitted.created else 200, {"Location": location})


@operation("get", "/jobs", "read", JOBS, {200: JobList, 403: Problem})
def list_jobs(query: JobListQuery) -> Any:
    """List the user's jobs, newest first

    One page at a time: pass `next_cursor` back as `cursor` until it is null."""
    try:
        page = services().jobs.list_for_user(g.user_id, query.limit, query.cursor)
    except InvalidCursor:
        raise _field_problem("query.cursor", "not a cursor this API issued for you") from None
    return _json(JobList(jobs=[job_out(j) for j in page.jobs], next_cursor=page.next_cursor))


@operation("get", "/jobs/<job_id>", "read", JOBS, {200: JobOut, 403: Problem, 404: Problem})
def get_job(path: JobPath) -> Any:
    """One job: status, times, summary, error"""
    return _json(job_out(own_job_or_404(path.job_id)))


@operation("get", "/jobs/<job_id>/log", "read", JOBS, {200: JobLog, 403: Problem, 404: Problem, 409: Problem})
def get_job_log(path: JobPath) -> Any:
    """The job's count log

    Counts only (variants, genes, regions), never the file's content. 409 while the job
    has not finished."""
    job = own_job_or_404(path.job_id)
    _not_deleting(job)
    if not job.log_key:
        if job.active:
            raise ApiProblem("not-finished", f"The job is {job.status}; its log is written when it finishes.")
        raise ApiProblem("not-found", "This job has no log.")
    svc = services()
    try:
        obj = svc.aws.client("s3").get_object(Bucket=job.result_bucket or svc.aws.names.results_bucket, Key=job.log_key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise ApiProblem("not-found", "This job's log is gone.") from None
        raise
    raw = obj["Body"].read(LOG_MAX_BYTES)
    truncated = int(obj.get("ContentLength", len(raw))) > len(raw)
    return _json(JobLog(job_id=job.job_id, text=raw.decode("utf-8", errors="replace"), truncated=truncated))


@operation("get", "/jobs/<job_id>/result", "read", JOBS, {200: ResultLink, 403: Problem, 404: Problem, 409: Problem})
def get_job_result(path: JobPath) -> Any:
    """A short-lived link to the annotated VCF

    409 with a reason when there is nothing to download now: the job has not finished,
    it failed, or its results are in cold storage (free accounts after the retention
    period; upgrading restores them)."""
    job = own_job_or_404(path.job_id)
    _not_deleting(job)
    if job.active:
        raise ApiProblem("not-finished", f"The job is {job.status}.")
    if job.status == JobStatus.CANCELLED:
        raise ApiProblem("job-cancelled", "The job was cancelled: it has no results.")
    if job.status == JobStatus.FAILED or not job.result_key:
        raise ApiProblem("job-failed", f"The job failed: {job.error or 'no results'}.")
    if job.storage != Storage.HOT:
        detail = (
            "The results are being restored from cold storage; try again later."
            if job.storage == Storage.RESTORING
            else "The results are in cold storage. Upgrade to premium to restore them."
        )
        raise ApiProblem("results-cold", detail, extra={"storage": str(job.storage)})
    seconds = services().settings.download_url_seconds
    name = safe_filename(job.result_key.rsplit("/", 1)[-1]) or "annotated.vcf"
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.floor(time.time()) + seconds))
    return _json(ResultLink(job_id=job.job_id, file_name=name, url=download_url(job), expires_at=expires))


@operation(
    "get",
    "/jobs/<job_id>/variants",
    "read",
    JOBS,
    {200: VariantPageOut, 403: Problem, 404: Problem, 409: Problem},
)
def get_job_variants(path: JobPath, query: VariantQuery) -> Any:
    """One page of the job's variants, filtered as on the web table

    One row per ALT of each record. Filters combine with AND, the values of one filter
    with OR; a bad value is 422 naming the parameter. Follow `next_cursor` (with the same
    filters) for the next page. 409 with a reason when there is no table to read now:
    the job has not finished, failed, is being deleted, or its results are in cold
    storage."""
    job = own_job_or_404(path.job_id)
    svc = services()
    # The web table's own parsing (gas.web.variants), of the raw query: one meaning of
    # every parameter for both. `query` (validated above) is the document's description.
    try:
        filt = VariantFilter.from_args(request.args)
        page = PageRequest.from_args(request.args, svc.settings.variants_per_page)
        show = shown_samples(request.args)
        result = svc.variants.query(job, filt, page)
        if show:
            svc.variants.table(job).genotypes.add_columns(result.rows, show)
    except FilterError as exc:
        raise _field_problem(f"query.{exc.parameter}", exc.problem) from None
    except ResultUnavailable as exc:
        raise _unavailable(job, exc) from None
    return _json(VariantPageOut.of(job.job_id, result, filt.to_args()))


def _unavailable(job: Job, exc: ResultUnavailable) -> ApiProblem:
    """Why a job's variant table cannot be read now, as the problem the API answers."""
    extra: dict[str, Any] = {"reason": exc.reason}
    if exc.reason == "gone":
        return ApiProblem("job-deleting", str(exc), extra=extra)
    if exc.reason == "not_completed":
        if job.active:
            return ApiProblem("not-finished", f"The job is {job.status}.", extra=extra)
        if job.status == JobStatus.CANCELLED:
            return ApiProblem("job-cancelled", "The job was cancelled: it has no results.", extra=extra)
        return ApiProblem("job-failed", f"The job failed: {job.error or 'no results'}.", extra=extra)
    if exc.reason in ("cold", "restoring"):
        return ApiProblem("results-cold", str(exc), extra={**extra, "storage": str(job.storage)})
    return ApiProblem("no-variant-table", str(exc), extra=extra)


@operation("patch", "/jobs/<job_id>", "submit", JOBS, {200: JobOut, 403: Problem, 404: Problem, 409: Problem})
def rename_job(path: JobPath, body: JobRename) -> Any:
    """Rename a job

    `{"name": "..."}` sets the job's name (one line, at most 200 characters), `null` or
    `""` removes it (pages then show the file name). Any job but one being deleted (409)."""
    job = own_job_or_404(path.job_id)
    _not_deleting(job)
    try:
        renamed = jobs.rename_job(services(), job.job_id, g.user_id, body.name)
    except jobs.BadName as bad:
        raise _field_problem("body.name", str(bad)) from None
    if renamed is None:  # marked for deletion meanwhile
        raise ApiProblem("job-deleting", "This job is being deleted.")
    return _json(job_out(renamed))


@operation("post", "/jobs/<job_id>/cancel", "submit", JOBS, {200: JobOut, 403: Problem, 404: Problem, 409: Problem})
def cancel_job(path: JobPath) -> Any:
    """Cancel a PENDING or RUNNING job

    The job becomes CANCELLED at once (final): a PENDING job never starts, a RUNNING
    job's annotation stops within seconds. No email is sent and nothing is charged as an
    attempt; its input is kept until the job is deleted. Cancelling a CANCELLED job
    answers it again; a COMPLETED or FAILED job is 409 `job-finished`."""
    job = own_job_or_404(path.job_id)
    _not_deleting(job)
    answer = jobs.cancel_job(services(), job.job_id, g.user_id)
    if answer.job is None:
        raise ApiProblem("not-found", "No such job.")
    if answer.refused:
        slug = "job-deleting" if answer.job.deleting else "job-finished"
        raise ApiProblem(slug, f"This job cannot be cancelled: {answer.refused}.")
    return _json(job_out(answer.job))


@operation("delete", "/jobs/<job_id>", "submit", JOBS, {204: None, 403: Problem, 404: Problem, 409: Problem})
def delete_job(path: JobPath) -> Any:
    """Delete a job and everything it stored

    Its input, annotated VCF, variant table, log, summary and any cold copies; then the
    job itself (the same deletion as the job page's). 409 while the job is RUNNING or its
    results are RESTORING; a PENDING job is deleted before it starts. A deletion cut short
    (`deleting` true) finishes when deleted again."""
    job = own_job_or_404(path.job_id)
    try:
        deleted = jobs.delete_job(services(), job.job_id, g.user_id)
    except jobs.JobBusy as busy:
        raise ApiProblem("job-busy", str(busy)) from None
    if deleted is None:  # deleted meanwhile by another request
        raise ApiProblem("not-found", "No such job.")
    log.info("api.job_deleted", job_id=job.job_id)
    return Response(status=204)


# -- saved filters ---------------------------------------------------------------------------
@operation("get", "/filters", "read", FILTERS, {200: SavedFilterList})
def list_filters() -> Any:
    """The user's saved filters, by name

    The same filters as the web table's "Saved filters" (docs/web.md)."""
    saved = SavedFilters(services().aws).list(g.user_id)
    return _json(SavedFilterList(filters=[SavedFilterOut(**f.to_json()) for f in saved]))


@operation("post", "/filters", "submit", FILTERS, {201: SavedFilterOut, 403: Problem})
def save_filter(body: SavedFilterIn) -> Any:
    """Save a filter under a name

    At most 50 per user (a 51st is 422 naming `body.name`); a name already used (any case)
    replaces that filter. The query is parsed as the variant table parses it: a bad value is
    422 naming `body.query` and the table's parameter."""
    try:
        saved = SavedFilters(services().aws).save(g.user_id, body.name, body.query)
    except SavedFilterError as bad:
        raise _field_problem(f"body.{bad.parameter}", bad.problem) from None
    return _json(SavedFilterOut(**saved.to_json()), 201)


@operation("delete", "/filters/<filter_id>", "submit", FILTERS, {204: None, 403: Problem, 404: Problem})
def delete_filter(path: FilterPath) -> Any:
    """Delete a saved filter

    404 when the user has no filter with that id."""
    if not SavedFilters(services().aws).delete(g.user_id, path.filter_id):
        raise ApiProblem("not-found", "No such saved filter.")
    return Response(status=204)
