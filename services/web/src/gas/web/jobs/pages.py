"""A user's jobs: the list, a job's page, its log, the annotated VCF's download and the
job page's status poll (JSON)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from flask import abort, g, jsonify, redirect, render_template, request, url_for

from gas.core.job_record import JobStatus
from gas.core.jobs import InvalidCursor
from gas.web.context import current_user, login_required, own_job_or_404, services
from gas.web.jobs.blueprint import bp
from gas.web.jobs.common import (
    LOG_MAX_BYTES,
    download_url,
    downloadable,
    filter_errors,
    filtered_charts,
    job_view,
    load_summary,
    table_link,
)
from gas.web.uploads import MAX_JOB_NAME
from gas.web.variants import VariantFilter


def _page(cursor: str | None) -> Any:
    svc = services()
    try:
        return svc.jobs.list_for_user(g.user_id, svc.settings.jobs_per_page, cursor)
    except InvalidCursor:
        abort(400, "invalid page cursor")


@bp.get("/annotations")
@login_required
def list_jobs() -> Any:
    cursor = request.args.get("cursor") or None
    page = _page(cursor)
    return render_template(
        "jobs/annotations.html",
        jobs=[job_view(j) for j in page.jobs],
        next_cursor=page.next_cursor,
        first_page=cursor is None,
    )


@bp.get("/annotations/<job_id>")
@login_required
def job_page(job_id: str) -> Any:
    """The job, and its summary as charts; with the variant table's filter in the query
    (`?gene=TP53&region=CDS`, the table's "Charts of these rows"), the charts count the
    rows it keeps (gas.web.variants.facets), read from the job's local copy of the table."""
    job = own_job_or_404(job_id)
    summary = load_summary(job)
    with filter_errors():  # also a sample the job does not have
        filt = VariantFilter.from_args(request.args)
        counts = services().variants.facets(job, filt).summary() if summary and not filt.empty else None
    matched = None
    if counts is not None:
        matched = counts.pop("matched")
        summary = counts
    table_args = filt.to_args()
    return render_template(
        "jobs/annotation.html",
        job=job_view(job),
        active=job.active and not job.deleting,
        charts=filtered_charts(job.job_id, summary, filt) if summary else [],
        totals=_totals(summary if summary and matched is None else {}),
        chart_filter={
            "args": table_args,
            "matched": matched,
            "table": table_link(job.job_id, table_args),
            "clear": url_for("jobs.job_page", job_id=job.job_id, _anchor="summary"),
        }
        if matched is not None
        else None,
        tier=current_user().tier,
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
    return render_template("jobs/log.html", job=job_view(job), text=text)


@bp.get("/api/annotations/<job_id>")
@login_required
def api_job(job_id: str) -> Any:
    return jsonify(job_view(own_job_or_404(job_id), with_download=True))
