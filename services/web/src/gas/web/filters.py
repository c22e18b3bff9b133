"""Saved filters in the web (gas.web.saved_filters): the variant table's "Save this filter"
form posts here, its list applies a filter to the job on screen, `/filters` lists them.

| route | what |
|---|---|
| `GET /filters` | the user's saved filters, each with its query and a Delete |
| `POST /filters` (name, query, next) | save (a name already used is replaced); back to `next` |
| `POST /filters/<id>/delete` (next) | delete; 404 when the user has no such filter |

Every POST carries the CSRF token (CSRFProtect: without it, 400). `next` is only ever a
variant table of this site (`/annotations/<id>/variants?...`), never an open redirect.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from gas.web.context import login_required, services
from gas.web.saved_filters import MAX_FILTERS, MAX_NAME, SavedFilterError, SavedFilters

log = structlog.get_logger()
bp = Blueprint("filters", __name__)
_TABLE = re.compile(r"^/annotations/[A-Za-z0-9_-]{1,64}/variants(\?[^#\\\s]*)?$")


def store() -> SavedFilters:
    return SavedFilters(services().aws)


def _next(default: str) -> str:
    target = request.form.get("next", "")
    return target if _TABLE.match(target) else default


@bp.get("/filters")
@login_required
def list_filters() -> Any:
    return render_template("filters.html", filters=store().list(g.user_id), max_filters=MAX_FILTERS, max_name=MAX_NAME)


@bp.post("/filters")
@login_required
def save() -> Any:
    try:
        saved = store().save(g.user_id, request.form.get("name"), request.form.get("query"))
    except SavedFilterError as exc:
        message = f"The filter was not saved: {exc.parameter}: {exc.problem}"
        return render_template("error.html", code=400, message=message, parameter=exc.parameter), 400
    log.info("filters.saved", user_id=g.user_id, filter_id=saved.filter_id)
    flash(f"Saved the filter “{saved.name}”: it is listed on the variant table of each of your jobs.", "success")
    return redirect(_next(url_for("filters.list_filters")))


@bp.post("/filters/<filter_id>/delete")
@login_required
def delete(filter_id: str) -> Any:
    if not re.fullmatch(r"[0-9a-f]{16}", filter_id) or not store().delete(g.user_id, filter_id):
        abort(404)
    log.info("filters.deleted", user_id=g.user_id, filter_id=filter_id)
    flash("Deleted the saved filter.", "success")
    return redirect(_next(url_for("filters.list_filters")))
