"""The variant table of a job (server-side pages, filters in the URL) and its exports.

Query, filter parsing and export live in `gas.web.variants` (shared with the API); this
module only turns them into pages and downloads:

| route | what |
|---|---|
| `/annotations/<id>/variants?gene=&region=&...&sort=&offset=&size=` | one page of the filtered table |
| `/annotations/<id>/variants.tsv` / `.csv` / `.vcf` (same filters) | the filtered rows, streamed |
| `/annotations/<id>/variants/<record>` | one record: every field, consequences, genotypes, link-outs |
| `/annotations/<id>/phenotypes?q=` | the phenotype filter's autocomplete (gas.web.jobs.phenotypes) |

A bad filter value answers 400 naming the parameter; a result that cannot be read (in
cold storage, being restored, not completed) answers 409 with the reason and serves
nothing from it.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlencode

import structlog
from flask import Response, abort, current_app, g, render_template, request, stream_with_context, url_for

from gas.core.job_record import Job
from gas.web.charts import Chart
from gas.web.context import login_required, own_job_or_404, services
from gas.web.jobs.blueprint import bp
from gas.web.jobs.common import charts_link, filter_errors, job_view, load_summary
from gas.web.linkouts import row_links
from gas.web.phenotypes import disease_links, label
from gas.web.samples import SAMPLES_PER_PAGE, sample_page, shown_samples
from gas.web.saved_filters import MAX_NAME, SavedFilters
from gas.web.variants import (
    CONTENT_TYPES,
    FLAGS,
    FORMATS,
    MAX_OFFSET,
    MAX_PAGE_NUMBER,
    OPERATORS,
    PAGE_SIZES,
    REGIONS,
    SORTS,
    VARIANT_CLASSES,
    Condition,
    ExportSlots,
    FilterError,
    PageRequest,
    ResultUnavailable,
    TableColumns,
    VariantFilter,
    whole_number,
)

log = structlog.get_logger()
EXPORT_RETRY_SECONDS = 10  # Retry-After of an export refused because every slot is taken


def _unavailable(job: Job, exc: ResultUnavailable) -> Any:
    return (
        render_template("jobs/variants.html", job=job_view(job), unavailable=exc, reason=exc.reason, filt=None),
        409,
    )


@bp.get("/annotations/<job_id>/variants")
@login_required
def variants(job_id: str) -> Any:
    job = own_job_or_404(job_id)
    svc = services()
    view = job_view(job)
    head = None  # the table's version: one S3 HEAD, passed to every call below
    try:
        filt = VariantFilter.from_args(request.args)
        page = PageRequest.from_args(request.args, svc.settings.variants_per_page)
        show = shown_samples(request.args)
        head = svc.variants.head(job)
        result = svc.variants.query(job, filt, page, head)
        if show:  # genotype columns of the chosen samples, for this page's rows
            svc.variants.table(job, head).genotypes.add_columns(result.rows, show)
    except ResultUnavailable as exc:
        return _unavailable(job, exc)
    except FilterError as exc:
        form: dict[str, Any] = {name: request.args.get(name, "") for name in (*VariantFilter.PARAMETERS, "show")}
        form["consequence"] = request.args.getlist("consequence")
        form["impact"] = request.args.getlist("impact")
        form["where"] = [w for w in request.args.getlist("where") if w.strip()]
        form |= {name: request.args.get(name, "") for name in ("where_column", "where_op", "where_value")}
        form["disease_genes"] = request.args.get("disease_genes", "") not in ("", "0")
        try:  # the valid terms and columns, with their counts, beside the error
            head = head or svc.variants.head(job)
            terms, table = svc.variants.term_counts(job, head), _table_choices(job, svc.variants.columns(job, head))
        except ResultUnavailable:
            terms, table = {}, {}
        page_html = render_template(
            "jobs/variants.html", job=view, error=exc, form=form, filt=None, terms=terms, **table, **_choices()
        )
        return page_html, 400
    args = filt.to_args() + ([("show", ",".join(show))] if show else [])

    def link(**changes: Any) -> str:
        """This table with the same filter and other page/sort settings."""
        params = dict(args)
        settings = {"sort": page.sort, "size": page.size, **changes}
        if settings["sort"] != "position":
            params["sort"] = settings["sort"]
        if settings["size"] != svc.settings.variants_per_page:
            params["size"] = str(settings["size"])
        if settings.get("offset"):
            params["offset"] = str(settings["offset"])
        base = url_for("jobs.variants", job_id=job.job_id)
        return f"{base}?{urlencode(params)}" if params else base

    def export_link(fmt: str) -> str:
        base = url_for("jobs.export", job_id=job.job_id, fmt=fmt)
        return f"{base}?{urlencode(args)}" if args else base

    def without(condition: Condition) -> str:
        """This table without one condition (a chip's link), back on its first page."""
        params = filt.without(condition).to_args() + ([("show", ",".join(show))] if show else [])
        if page.sort != "position":
            params.append(("sort", page.sort))
        base = url_for("jobs.variants", job_id=job.job_id)
        return f"{base}?{urlencode(params)}" if params else base

    table = _table_choices(job, svc.variants.columns(job, head))
    sorts = [*SORTS, *(f"{sign}{c}" for c in table["numeric"] for sign in ("", "-"))]
    for row in result.rows:
        row["links"] = row_links(row, job.assembly)
        row["disease_links"] = disease_links(row.get("diseases"))
    pages = max(1, -(-result.matched // page.size))
    current = page.offset // page.size + 1
    save_query = urlencode(filt.to_args())  # what "Save this filter" stores
    shown = sorted({1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)})
    return render_template(
        "jobs/variants.html",
        job=view,
        filt=filt,
        form=_form_values(filt) | {"show": ", ".join(show)},
        chips=[(c.text, without(c)) for c in filt.where],
        show=show,
        result=result,
        page=page,
        terms=svc.variants.term_counts(job, head),
        pager={
            "current": current,
            "pages": pages,
            # Page numbers around this one, the first and the last; None marks a gap.
            "numbers": [
                (n, link(offset=(n - 1) * page.size) if n != current else None, gap)
                for n, gap in zip(shown, [False] + [b - a > 1 for a, b in itertools.pairwise(shown)], strict=True)
            ],
            "sizes": {s: link(size=s, offset=0) for s in PAGE_SIZES},
        },
        links={
            "next": link(offset=result.next_offset) if result.next_offset is not None else None,
            "previous": link(offset=max(0, page.offset - page.size)) if page.offset else None,
            "first": link(offset=0) if page.offset else None,
            "last": link(offset=(pages - 1) * page.size) if current < pages else None,
            "sort": {s: link(sort=s, offset=0) for s in sorts},
            "exports": {fmt: export_link(fmt) for fmt in FORMATS},
            "clear": url_for("jobs.variants", job_id=job.job_id),
            "here": link(offset=page.offset),
            # The job page's charts of these rows (of every row without a filter).
            "charts": charts_link(job.job_id, args),
        },
        export_names={fmt: svc.variants.export_name(job, filt, fmt) for fmt in FORMATS},
        # The user's saved filters, each applied to this job (gas.web.saved_filters).
        saved_filters=[
            (saved, f"{url_for('jobs.variants', job_id=job.job_id)}?{saved.query}", saved.query == save_query)
            for saved in SavedFilters(svc.aws).list(g.user_id)
        ],
        save_query=save_query,
        max_filter_name=MAX_NAME,
        **table,
        **_choices(),
    )


@bp.get("/annotations/<job_id>/variants/<int:record>")
@login_required
def variant(job_id: str, record: int) -> Any:
    """One record of the table: a page of its own, so it works without JavaScript; the
    table's rows link here, and `back` (a table URL of this job) is the way back."""
    job = own_job_or_404(job_id)
    if record > MAX_OFFSET:
        abort(404)
    view = job_view(job)
    try:
        detail = services().variants.detail(job, record)
    except ResultUnavailable as exc:
        return _unavailable(job, exc)
    except LookupError:
        abort(404)
    table = url_for("jobs.variants", job_id=job.job_id)
    back = request.args.get("back", "")
    if not (back == table or back.startswith(table + "?")):
        back = table  # only this job's table: never an open redirect
    links = [row_links(row, job.assembly) for row in detail.rows]
    diseases = [disease_links(row.get("diseases")) for row in detail.rows]
    return render_template(
        "jobs/variant.html", job=view, record=record, detail=detail, links=links, diseases=diseases, back=back
    )


@bp.get("/annotations/<job_id>/samples")
@login_required
def samples(job_id: str) -> Any:
    """The per-sample counts (the engine's summary), a page of SAMPLES_PER_PAGE at a time, as
    a chart and a table; each sample links to the table filtered by it."""
    job = own_job_or_404(job_id)
    try:
        number = whole_number("page", request.args.get("page") or "1", 1, MAX_PAGE_NUMBER)
    except FilterError:
        abort(400, "page: a page number")
    page = sample_page(load_summary(job) if job.genotypes_key else None, number)
    if page is None:
        abort(404)
    chart = Chart("samples", "Variants per sample", [(r.name, r.variants) for r in page.rows])
    base = url_for("jobs.samples", job_id=job.job_id)
    table = url_for("jobs.variants", job_id=job.job_id)
    return render_template(
        "jobs/samples.html",
        job=job_view(job),
        page=page,
        chart=chart,
        per_page=SAMPLES_PER_PAGE,
        page_link=lambda n: f"{base}?page={n}" if n > 1 else base,
        filter_link=lambda name, gt: f"{table}?{urlencode([('sample', name), ('gt', gt), ('show', name)])}",
    )


def _choices() -> dict[str, Any]:
    return {"regions": REGIONS, "classes": VARIANT_CLASSES, "flags": FLAGS, "operators": OPERATORS}


def _table_choices(job: Job, table: TableColumns) -> dict[str, Any]:
    """What this job's table offers: the IMPACTs present (a bundle's, with their rows), its
    sources' columns, and every column a condition may name (the form's select)."""
    sources = {c.name for c in table.source_columns}
    return {
        "impacts": table.impacts or {},
        # the picked transcript consequence's columns are shown (on a first open served from
        # storage the IMPACTs are not counted yet: then the job's database says)
        "bundle": bool(table.impacts) if table.impacts is not None else job.database is not None,
        "source_columns": table.source_columns,
        # the sources' columns first, then the numeric ones (what conditions are mostly for)
        "where_columns": sorted(table.kinds, key=lambda c: (c not in sources, table.kinds[c] != "number", c)),
        "numeric": [name for name, kind in sorted(table.kinds.items()) if kind == "number"],
    }


def _form_values(filt: VariantFilter) -> dict[str, Any]:
    return {
        "gene": ", ".join(filt.genes),
        "region": list(filt.regions),
        "class": list(filt.classes),
        "flag": list(filt.flags),
        "known": "all" if filt.known is None else "known" if filt.known else "novel",
        "consequence": list(filt.consequences),
        "chrom": filt.chrom or "",
        "start": filt.start or "",
        "end": filt.end or "",
        "phenotype": label(filt.phenotype) if filt.phenotype else "",
        "disease_genes": filt.disease_genes,
        "sample": filt.sample or "",
        "gt": filt.gt or "carrier",
        "impact": list(filt.impacts),
        "where": [c.text for c in filt.where],
        "where_column": "",
        "where_op": "=",
        "where_value": "",
    }


@bp.get("/annotations/<job_id>/variants.<fmt>")
@login_required
def export(job_id: str, fmt: str) -> Any:
    job = own_job_or_404(job_id)
    if fmt not in FORMATS:
        abort(404)
    svc = services()
    with filter_errors():
        filt = VariantFilter.from_args(request.args)
        chunks = svc.variants.export(job, filt, fmt)
    # One slot set per app, i.e. per gunicorn worker process (setdefault: one wins).
    slots = current_app.extensions.setdefault("gas.export_slots", ExportSlots(svc.settings.export_concurrency))
    held = slots.take(chunks)
    if held is None:
        log.info("variants.export_refused", job_id=job.job_id, format=fmt, reason="busy")
        message = "Too many downloads are being prepared right now; try again in a few seconds."
        page = render_template("error.html", code=503, message=message)
        return page, 503, {"Retry-After": str(EXPORT_RETRY_SECONDS)}
    name = svc.variants.export_name(job, filt, fmt)
    log.info("variants.export", job_id=job.job_id, format=fmt, filtered=not filt.empty)
    return Response(
        stream_with_context(held),
        mimetype=CONTENT_TYPES[fmt].split(";")[0],
        content_type=CONTENT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
