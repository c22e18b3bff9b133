"""API errors as RFC 9457 problem details (`application/problem+json`).

Every error the API answers has a problem type, declared once here: a stable slug, its
HTTP status and a title. Its `type` URI is `<GAS_PUBLIC_URL>/api/v1/problems/<slug>`,
which serves the description below; clients compare the slug (the last path segment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str


_TYPES = (
    ProblemType(
        "unauthorized",
        401,
        "Authentication required",
        "No bearer token, or one that is unknown, expired or revoked. Send `Authorization: Bearer <token>` "
        "with a personal access token (Profile → API tokens) or a Globus access token for GAS's scope.",
    ),
    ProblemType(
        "insufficient-scope",
        403,
        "The token lacks a scope",
        "The token is valid but was not given the scope this operation needs (`read` or `submit`).",
    ),
    ProblemType("bad-request", 400, "Bad request", "The request could not be understood."),
    ProblemType("not-found", 404, "Not found", "No such resource, or it belongs to another user."),
    ProblemType("method-not-allowed", 405, "Method not allowed", "The resource does not support this method."),
    ProblemType(
        "upload-not-found",
        404,
        "Upload not found",
        "No file was uploaded for this upload id (or it expired): upload it with the presigned POST first.",
    ),
    ProblemType(
        "upload-changed",
        409,
        "The upload changed",
        "The uploaded object changed while the job was being created. Upload the file again.",
    ),
    ProblemType(
        "upload-used",
        409,
        "Upload already used",
        "This upload id already became another job. Create a new upload.",
    ),
    ProblemType(
        "results-cold",
        409,
        "Results in cold storage",
        "The job's results were moved to cold storage (free accounts, after the retention period). "
        "Upgrading to premium restores them; while they are restored the job's storage is RESTORING.",
    ),
    ProblemType(
        "not-finished", 409, "The job has not finished", "The job is still PENDING or RUNNING: try again later."
    ),
    ProblemType("job-failed", 409, "The job failed", "The job FAILED and has no results; its `error` says why."),
    ProblemType("job-cancelled", 409, "The job was cancelled", "The job was CANCELLED by its user and has no results."),
    ProblemType(
        "job-finished",
        409,
        "The job has finished",
        "Only a PENDING or RUNNING job can be cancelled; this one is COMPLETED, FAILED or CANCELLED.",
    ),
    ProblemType(
        "job-busy",
        409,
        "The job is busy",
        "The job cannot be deleted while it is RUNNING, or its results are RESTORING: try again later.",
    ),
    ProblemType(
        "job-deleting",
        409,
        "The job is being deleted",
        "The job is being deleted and serves nothing any more. A deletion cut short finishes when the job is "
        "deleted again.",
    ),
    ProblemType(
        "no-variant-table",
        409,
        "No variant table",
        "The job was annotated before results had a variant table: download the annotated VCF instead.",
    ),
    ProblemType(
        "assembly-mismatch",
        409,
        "The file looks like another assembly",
        "The file's header, contig lengths or positions are those of another assembly than the one chosen "
        "(`detected_assembly`, `reason`, `reasons` say which and why). Annotating against the wrong assembly "
        "gives wrong genes for every variant. Create the job again with the detected `assembly`, or with "
        '`"assembly_confirmed": true` to annotate as the one chosen anyway (recorded on the job). The upload '
        "is kept until then (a day).",
    ),
    ProblemType(
        "too-large",
        413,
        "File too large",
        "The file exceeds the upload limit of the account's tier (free or premium).",
    ),
    ProblemType(
        "validation",
        422,
        "Invalid request",
        "The request's body, query or headers do not match the operation's schema; `errors` names each field.",
    ),
    ProblemType(
        "bad-upload",
        422,
        "The upload cannot be annotated",
        "The uploaded file is empty, its name is not a safe `.vcf` / `.vcf.gz` name, or its assembly is unknown.",
    ),
    ProblemType(
        "idempotency-key-reused",
        422,
        "Idempotency-Key reused",
        "This Idempotency-Key was already used, within the last day, for a different request.",
    ),
    ProblemType(
        "rate-limited",
        429,
        "Too many requests",
        "The token made more requests than the limit per window allows, or the client address sent too many "
        "tokens GAS had to look up; retry after `Retry-After` seconds.",
    ),
    ProblemType("server-error", 500, "Internal error", "The server failed; the request id helps its operators."),
    ProblemType(
        "unavailable",
        503,
        "Temporarily unavailable",
        "A service GAS depends on did not answer. The request is safe to retry (with the same Idempotency-Key).",
    ),
)
TYPES: dict[str, ProblemType] = {t.slug: t for t in _TYPES}
_BY_STATUS = {404: "not-found", 405: "method-not-allowed", 413: "too-large", 401: "unauthorized"}


def type_uri(slug: str) -> str:
    return current_app.extensions["gas"].settings.public_url + "/api/v1/problems/" + slug


@dataclass
class ApiProblem(Exception):
    """Raise to answer with a problem document."""

    slug: str
    detail: str
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)
        if self.slug not in TYPES:
            raise ValueError(f"unknown problem type {self.slug!r}")


def problem_response(problem: ApiProblem) -> Response:
    kind = TYPES[problem.slug]
    body: dict[str, Any] = {
        "type": type_uri(kind.slug),
        "title": kind.title,
        "status": kind.status,
        "detail": problem.detail,
        "instance": request.path,
        **problem.extra,
    }
    if g.get("request_id"):
        body["request_id"] = g.request_id
    response = Response(json.dumps(body), status=kind.status, mimetype=PROBLEM_JSON)
    response.headers.update(problem.headers)
    return response


def from_http_exception(exc: HTTPException) -> Response:
    """Werkzeug's errors (unknown route, wrong method, body too large, 500) as problems."""
    code = exc.code or 500
    slug = _BY_STATUS.get(code, "server-error" if code >= 500 else "bad-request")
    detail = exc.description or exc.name
    if code >= 500:
        detail = "The server failed to answer this request."
    headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else {}  # type: ignore[attr-defined]
    return problem_response(ApiProblem(slug, detail, headers))
