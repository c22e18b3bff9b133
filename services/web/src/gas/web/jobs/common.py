"""What the job pages, the results table and the REST API share: a job as a user may see
it, its download link and summary, the assembly question, and what a user may do to a
job (delete, rename, cancel), each implemented once.

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

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import structlog
from botocore.exceptions import ClientError
from flask import abort, make_response, render_template, url_for
from prometheus_client import Counter
from werkzeug.datastructures import MultiDict

from gas.core.aws import Aws
from gas.core.job_record import Job, JobStatus, Storage
from gas.core.jobs import Cancelling
from gas.web.charts import LISTED, Chart, charts
from gas.web.context import Services, services
from gas.web.submission import AssemblyMismatch
from gas.web.uploads import MAX_JOB_NAME, clean_job_name, safe_filename
from gas.web.variants import Condition, FilterError, ResultUnavailable, VariantFilter, readable

log = structlog.get_logger()

LOG_MAX_BYTES = 1024 * 1024  # the count log is small; never stream a huge object into a page
SUMMARY_MAX_BYTES = 1024 * 1024  # likewise the summary JSON
COLD_PREFIX = "cold/"  # where the archiver's s3-glacier backend keeps cold copies
JOBS_CANCELLED = Counter(
    "gas_web_jobs_cancelled_total", "Jobs their users cancelled, by the status they had", ["status"]
)
for _status in ("PENDING", "RUNNING"):
    JOBS_CANCELLED.labels(_status)


# -- what a user sees of a job ----------------------------------------------------
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
        "page": url_for("jobs.job_page", job_id=job.job_id),
        "log": url_for("jobs.job_log", job_id=job.job_id) if job.log_key else None,
        "download": url_for("jobs.download", job_id=job.job_id) if downloadable(job) else None,
        "variants": url_for("jobs.variants", job_id=job.job_id) if table_readable(job) else None,
        "input": url_for("jobs.input_download", job_id=job.job_id),
        "samples": url_for("jobs.samples", job_id=job.job_id) if job.genotypes_key and table_readable(job) else None,
    }
    if with_download and downloadable(job):
        view["download_url"] = download_url(job)
    return view


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


def ask_assembly(asked: AssemblyMismatch, post_to: str, cancel: str | None) -> Any:
    """The page that says the file does not look like the chosen assembly, and why; its
    answers post to `post_to`. An upload's (`asked.key`) are sent with the key, and
    "anyway" keeps the bundle chosen (the likely assembly is genes only)."""
    hidden = {"key": asked.key} if asked.key else {}
    page = render_template("jobs/assembly_check.html", asked=asked, post_to=post_to, hidden=hidden, cancel=cancel)
    return page, 409


# -- what a user may do to a job ---------------------------------------------------
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


# -- the charts' filter links -----------------------------------------------------------
@contextmanager
def filter_errors() -> Iterator[None]:
    """Within: a bad filter ends the request with the error page's 400, results that cannot
    be read now with its 409 (and the upgrade link when they are in cold storage)."""
    try:
        yield
    except FilterError as exc:
        abort(make_response(render_template("error.html", code=400, message=f"Bad filter: {exc}"), 400))
    except ResultUnavailable as exc:
        page = render_template("error.html", code=409, message=str(exc), upgrade=exc.reason == "cold")
        abort(make_response(page, 409))


def filter_args(filt: VariantFilter, parameter: str, value: str) -> list[tuple[str, str]] | None:
    """The filter with `parameter` set to `value` (its other values dropped: the charts
    count the filter's rows only, so a click narrows it), re-read by the table's parser;
    None when the parser refuses the value (e.g. a contig the filter cannot name)."""
    if parameter == "where":  # the filter's conditions stay; one on the same column is replaced
        try:
            column = Condition.parse(value).column
        except FilterError:
            return None
        args = [(k, v) for k, v in filt.to_args() if k != "where"]
        args += [("where", c.text) for c in filt.where if c.column != column]
    else:
        args = [(k, v) for k, v in filt.to_args() if k != parameter]
    if parameter == "chrom" and filt.chrom != value:
        args = [(k, v) for k, v in args if k not in ("start", "end")]  # a range of another chromosome
    args.append((parameter, value))
    try:
        return VariantFilter.from_args(MultiDict(args)).to_args()
    except FilterError:
        return None


def table_link(job_id: str, args: list[tuple[str, str]]) -> str:
    base = url_for("jobs.variants", job_id=job_id)
    return f"{base}?{urlencode(args)}" if args else base


def charts_link(job_id: str, args: list[tuple[str, str]]) -> str:
    """The job page's charts of the rows these table arguments keep."""
    base = url_for("jobs.job_page", job_id=job_id)
    return (f"{base}?{urlencode(args)}" if args else base) + "#summary"


def filtered_charts(job_id: str, summary: dict[str, Any], filt: VariantFilter) -> list[Chart]:
    """The charts of `summary` (the engine's, or a filter's: gas.web.variants.facets), each
    bar a link to the table with its value added to `filt`, each "other" bar a link to the
    list of every term."""
    query = urlencode(filt.to_args())

    def href(parameter: str, value: str) -> str | None:
        args = filter_args(filt, parameter, value)
        return None if args is None else table_link(job_id, args)

    out = []
    for chart in charts(summary):
        more = None
        if chart.key in LISTED:
            more = url_for("jobs.chart_terms", job_id=job_id, key=chart.key) + (f"?{query}" if query else "")
        out.append(chart.linked(href, more))
    return out
