"""`/annotations/<id>/charts/<key>?<filter>`: every term of one chart with its count, the
page behind a chart's "other" bar (the charts draw the MAX_BARS largest), each term a link
to the table filtered by it. Counted from the job's table (gas.web.variants.facets) with the
table's filter, so it agrees with the chart; TERMS_PER_PAGE terms a page, largest first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import abort, render_template, request, url_for

from gas.web.charts import LISTED
from gas.web.context import login_required, own_job_or_404, services
from gas.web.jobs.blueprint import bp
from gas.web.jobs.common import charts_link, filter_args, filter_errors, job_view, table_link
from gas.web.variants import MAX_PAGE_NUMBER, VariantFilter, whole_number

TERMS_PER_PAGE = 100
# The table filter of each listed chart, and the words of its page.
_LISTS = {
    "consequences": ("consequence", "Most severe consequence", "records"),
    "chromosomes": ("chrom", "Chromosome or contig", "records"),
    "genes": ("gene", "Gene", "records overlapping it"),
}
assert set(_LISTS) == set(LISTED)


@bp.get(f"/annotations/<job_id>/charts/<any({', '.join(_LISTS)}):key>")
@login_required
def chart_terms(job_id: str, key: str) -> Any:
    job = own_job_or_404(job_id)
    parameter, heading, unit = _LISTS[key]
    with filter_errors():
        filt = VariantFilter.from_args(request.args)
        number = whole_number("page", request.args.get("page") or "1", 1, MAX_PAGE_NUMBER)
        counts = services().variants.facets(job, filt).terms(key)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    pages = max(1, -(-len(ordered) // TERMS_PER_PAGE))
    if number > pages:
        abort(404)
    shown = ordered[(number - 1) * TERMS_PER_PAGE : number * TERMS_PER_PAGE]
    query = filt.to_args()

    def link(term: str) -> str | None:
        args = filter_args(filt, parameter, term)
        return None if args is None else table_link(job.job_id, args)

    def page_link(n: int) -> str:
        base = url_for("jobs.chart_terms", job_id=job.job_id, key=key)
        args = query + ([("page", str(n))] if n > 1 else [])
        return f"{base}?{urlencode(args)}" if args else base

    return render_template(
        "jobs/chart_terms.html",
        job=job_view(job),
        key=key,
        heading=heading,
        unit=unit,
        rows=[(term, count, link(term)) for term, count in shown],
        terms=len(ordered),
        page=number,
        pages=pages,
        previous=page_link(number - 1) if number > 1 else None,
        next=page_link(number + 1) if number < pages else None,
        filter_args=query,
        charts_link=charts_link(job.job_id, query),
        table=table_link(job.job_id, query),
    )
