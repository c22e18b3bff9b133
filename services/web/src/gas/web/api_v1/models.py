"""The API's request and response models: they validate requests (flask-openapi3) and
are the schemas of the OpenAPI document (`/api/v1/openapi.json`)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gas.core.job_record import ASSEMBLIES, Job, JobStatus
from gas.core.tokens import SCOPES

Scope = Literal["read", "submit"]
assert (Scope.__args__) == SCOPES  # type: ignore[attr-defined]


class Strict(BaseModel):
    # An unknown field is a mistake (a typo'd "asembly" must not be ignored).
    model_config = ConfigDict(extra="forbid")


# -- errors ------------------------------------------------------------------------------
class FieldError(BaseModel):
    field: str = Field(description="Where: body.<name>, query.<name>, header.<name> or path.<name>")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (media type application/problem+json)."""

    type: str = Field(description="Stable URI of the problem type; its last segment is the slug")
    title: str
    status: int
    detail: str
    instance: str | None = Field(None, description="The request path")
    request_id: str | None = None
    errors: list[FieldError] | None = Field(None, description="Validation problems only: each bad field")


# -- uploads and jobs ---------------------------------------------------------------------
class UploadRequest(Strict):
    file_name: str = Field(min_length=1, max_length=255, description="The file's name (.vcf or .vcf.gz)")
    size: int = Field(ge=1, description="The file's size in bytes (at most the tier's upload limit)")


class Upload(BaseModel):
    """A presigned POST: send the file as multipart/form-data to `url` with every field of
    `fields` and the file last, as `file`."""

    upload_id: UUID = Field(description="Create the job with this id once the file is uploaded")
    file_name: str = Field(description="The name the file is stored under (made safe)")
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_at: str


class JobCreate(Strict):
    upload_id: UUID
    name: str | None = Field(None, min_length=1, max_length=100, description="A label of your choosing")
    assembly: str = Field(
        ASSEMBLIES[0],
        description="Reference genome of the VCF's positions",
        json_schema_extra={"enum": list(ASSEMBLIES)},
    )

    @field_validator("assembly")
    @classmethod
    def _known_assembly(cls, value: str) -> str:
        if value not in ASSEMBLIES:
            raise ValueError(f"must be one of {', '.join(ASSEMBLIES)}")
        return value


class IdempotencyHeader(BaseModel):
    idempotency_key: str | None = Field(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retried POST safe: the same key (within a day) never creates a second job",
    )


class JobPath(BaseModel):
    job_id: str


class JobListQuery(Strict):
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(20, ge=1, le=100)


class JobLinks(BaseModel):
    self: str
    log: str
    result: str
    page: str = Field(description="The job's web page")


class JobOut(BaseModel):
    job_id: str
    name: str | None
    assembly: str
    status: JobStatus
    input_file_name: str
    input_size: int
    submitted_at: str
    started_at: str | None
    completed_at: str | None
    storage: str = Field(description="HOT, ARCHIVED (cold storage) or RESTORING")
    restore_requested_at: str | None
    summary: dict[str, int] | None
    error: str | None = Field(description="FAILED jobs: why, in one line")
    links: JobLinks

    @classmethod
    def of(cls, job: Job, links: JobLinks) -> JobOut:
        return cls(
            job_id=job.job_id,
            name=job.name,
            assembly=job.assembly,
            status=job.status,
            input_file_name=job.input_file_name,
            input_size=job.input_size,
            submitted_at=job.submitted_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            storage=str(job.storage),
            restore_requested_at=job.restore_requested_at,
            summary=job.summary,
            error=job.error if job.status == JobStatus.FAILED else None,
            links=links,
        )


class JobList(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class JobLog(BaseModel):
    job_id: str
    text: str
    truncated: bool


class ResultLink(BaseModel):
    job_id: str
    file_name: str
    url: str = Field(description="A presigned GET of the annotated VCF")
    expires_at: str


# -- who is asking -------------------------------------------------------------------------
class TokenInfo(BaseModel):
    kind: Literal["personal", "globus"]
    scopes: list[Scope]
    expires_at: str
    rate_limit: int = Field(description="Requests allowed per window")
    rate_window_seconds: int


class Me(BaseModel):
    user_id: str
    name: str | None
    email: str | None
    tier: str
    upload_limit: int
    token: TokenInfo
