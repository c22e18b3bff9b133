"""Autocomplete of the variant table's phenotype/disease filter (docs/web.md).

`GET /annotations/<id>/phenotypes?q=seiz[&limit=N]` answers the HPO terms and OMIM/Orphanet
diseases whose id or name matches, as JSON: `[{"id", "name", "label", "genes"}]` (genes: how
many genes the filter on it keeps). Bounded: a query of at most MAX_QUERY characters (longer
is a 400), at most MAX_SUGGESTIONS answers; signed in, and only for the user's own job, as
every route under /annotations/<id>.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from gas.core.phenotypes import MAX_QUERY, MAX_SUGGESTIONS
from gas.web.context import login_required, own_job_or_404
from gas.web.jobs.blueprint import bp
from gas.web.phenotypes import suggestions


@bp.get("/annotations/<job_id>/phenotypes")
@login_required
def phenotype_search(job_id: str) -> Any:
    own_job_or_404(job_id)
    query = request.args.get("q", "")
    if len(query) > MAX_QUERY:
        return jsonify(error=f"q: at most {MAX_QUERY} characters"), 400
    limit_text = request.args.get("limit", str(MAX_SUGGESTIONS))
    if not (limit_text.isascii() and limit_text.isdigit() and 1 <= int(limit_text) <= MAX_SUGGESTIONS):
        return jsonify(error=f"limit: a whole number from 1 to {MAX_SUGGESTIONS}"), 400
    found = suggestions(query, int(limit_text))
    return jsonify([{"id": s.id, "name": s.name, "label": f"{s.id} {s.name}", "genes": s.genes} for s in found])
