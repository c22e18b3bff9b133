"""The API's request and response models: they validate requests (flask-openapi3) and
are the schemas of the OpenAPI document (`/api/v1/openapi.json`)."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gas.core.databases import find, unknown_message
from gas.core.job_record import ASSEMBLIES, Job, JobStatus
from gas.core.phenotypes import MAX_QUERY
from gas.core.tokens import SCOPES
from gas.core.vocab import IMPACTS, KNOWN_SOURCES
from gas.web.uploads import MAX_JOB_NAME
from gas.web.variants import (
    FLAGS,
    MAX_CONDITION_TEXT,
    MAX_CONDITIONS,
    MAX_OFFSET,
    MAX_PAGE_NUMBER,
    MAX_PAGE_SIZE,
    MAX_POSITION,
    OPERATORS,
    REGIONS,
    SORTS,
    VARIANT_CLASSES,
    VariantPage,
)

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
VCF_FILE_NAME = r"^(.*[\\/])?\.*[^\\/.][^\\/]*\.[vV][cC][fF](\.[gG][zZ])?$"


class UploadRequest(Strict):
    file_name: str = Field(
        min_length=1,
        max_length=255,
        # What the server takes: the last path component, leading dots dropped, must end
        # in .vcf or .vcf.gz after at least one character (any case). Declared in the schema;
        # checked by the validator below, whose message a person can read (not the regex).
        json_schema_extra={"pattern": VCF_FILE_NAME},
        description="The file's name (.vcf or .vcf.gz)",
    )

    @field_validator("file_name")
    @classmethod
    def _vcf_name(cls, value: str) -> str:
        if not re.match(VCF_FILE_NAME, value):
            raise ValueError("only .vcf and .vcf.gz files can be annotated")
        return value

    size: int = Field(
        ge=1,
        description="The file's size in bytes: at most the account tier's upload limit (`upload_limit` of "
        "`GET /me`), which depends on the user; over it is a 413 `too-large`",
    )


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
    name: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_JOB_NAME,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="A name or note of your choosing (one line)",
    )
    assembly: str = Field(
        ASSEMBLIES[0],
        description="Reference genome of the VCF's positions",
        json_schema_extra={"enum": list(ASSEMBLIES)},
    )
    assembly_confirmed: bool = Field(
        False,
        description="Annotate as `assembly` although the file looks like another assembly: "
        "the answer to a 409 `assembly-mismatch` (recorded on the job)",
    )

    database: str | None = Field(
        None,
        max_length=64,
        description="The annotation database (`GET /databases` lists this deployment's): an assembly's name "
        "for its genes-only database, or a bundle's name (per-transcript consequences). Unset: the genes-only "
        "database of `assembly`; a bundle on a human assembly sets `assembly` to it",
    )

    @field_validator("assembly")
    @classmethod
    def _known_assembly(cls, value: str) -> str:
        if value not in ASSEMBLIES:
            raise ValueError(f"must be one of {', '.join(ASSEMBLIES)}")
        return value

    @field_validator("database")
    @classmethod
    def _deployed_database(cls, value: str | None) -> str | None:
        if value is not None and find(value) is None:
            raise ValueError(unknown_message(value))
        return value


class Database(BaseModel):
    name: str = Field(description="What a job's `database` names")
    kind: Literal["genes", "bundle"] = Field(
        description="`genes`: gene-level terms only; `bundle`: a gene model and its FASTA, per-transcript "
        "consequences (CSQ), HGVS and amino-acid changes"
    )
    assembly: str = Field(description="The human assembly it is on; empty for a bundle of another genome")
    label: str
    sources: str = Field(description="`genes only`, or the bundle's name and its sources' sha256")


class DatabaseList(BaseModel):
    databases: list[Database]


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
    cursor: str | None = Field(
        None, description="next_cursor of the previous page: opaque, issued by this API for you; any other is a 422"
    )
    limit: int = Field(20, ge=1, le=100)


class JobLinks(BaseModel):
    self: str
    log: str
    result: str
    variants: str
    page: str = Field(description="The job's web page")


class JobProgress(BaseModel):
    records: int = Field(description="Records written so far")
    percent: float = Field(description="Percent of the uploaded file (as stored, compressed or not) read so far")
    eta_seconds: int | None = Field(
        description="Estimated seconds left, from the attempt's rate so far; null until 5% is read"
    )
    updated_at: str = Field(description="When the annotator last reported (every few seconds)")


class JobOut(BaseModel):
    job_id: str
    name: str | None
    assembly: str
    assembly_warning: str | None = Field(
        description="Why the file looked like another assembly, when it was annotated as this one anyway"
    )
    assembly_confirmed: bool
    database: str | None = Field(
        description="The bundle the job is annotated against; null: the genes-only database of `assembly`"
    )
    database_kind: str = Field(description='"genes only", or "bundle NAME"')
    database_version: str | None = Field(description="The annotation database the results came from")
    database_sources: str | None = Field(
        description="Finished jobs: the sources the results came from (`genes only`, or the bundle's sha256s)"
    )
    rerun_of: str | None = Field(description="The job this one re-runs on the other assembly")
    status: JobStatus
    input_file_name: str
    input_size: int
    submitted_at: str
    started_at: str | None
    completed_at: str | None
    cancelled_at: str | None = Field(description="CANCELLED jobs: when their user cancelled them")
    storage: str = Field(description="HOT, ARCHIVED (cold storage) or RESTORING")
    restore_requested_at: str | None
    summary: dict[str, int] | None
    progress: JobProgress | None = Field(description="RUNNING jobs, once the annotator has reported: how far it got")
    error: str | None = Field(description="FAILED jobs: why, in one line")
    deleting: bool = Field(description="Being deleted (a deletion cut short: DELETE it again to finish)")
    links: JobLinks

    @classmethod
    def of(cls, job: Job, links: JobLinks) -> JobOut:
        return cls(
            job_id=job.job_id,
            name=job.name,
            assembly=job.assembly,
            assembly_warning=job.assembly_warning,
            assembly_confirmed=job.assembly_confirmed,
            database=job.database,
            database_kind=job.database_kind,
            database_version=job.database_version,
            database_sources=job.database_sources,
            rerun_of=job.rerun_of,
            status=job.status,
            input_file_name=job.input_file_name,
            input_size=job.input_size,
            submitted_at=job.submitted_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            cancelled_at=job.cancelled_at,
            storage=str(job.storage),
            restore_requested_at=job.restore_requested_at,
            summary=job.summary,
            progress=JobProgress(**job.progress) if job.progress else None,
            error=job.error if job.status == JobStatus.FAILED else None,
            deleting=job.deleting,
            links=links,
        )


class JobRename(Strict):
    name: str | None = Field(
        ...,
        max_length=MAX_JOB_NAME,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="The new name or note (one line); null or an empty string removes it",
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


# -- variants --------------------------------------------------------------------------------
def _listed(choices: tuple[str, ...]) -> str:
    return ", ".join(f"`{c}`" for c in choices)


class VariantQuery(Strict):
    """The web table's filters (gas.web.variants): the values of one filter combine with OR
    (repeat the parameter or separate them with commas), filters with AND."""

    gene: list[str] | None = Field(None, description="Gene names, any case; a trailing `*` makes a prefix")
    region: list[str] | None = Field(None, description=f"Regions: {_listed(REGIONS)}")
    variant_class: list[str] | None = Field(None, alias="class", description=f"Classes: {_listed(VARIANT_CLASSES)}")
    known: str | None = Field(
        None,
        description="`known` (with an rsID), `novel` (a sequence ALT annotated against the assembly, no rsID) "
        "or `all` (default)",
    )
    flag: list[str] | None = Field(None, description=f"Any of the flags {_listed(FLAGS)}")
    consequence: list[str] | None = Field(None, description="Most severe consequence (SO term)")
    chrom: str | None = Field(None, description="A chromosome: 1-22, X, Y, MT (with or without `chr`)")
    start: int | None = Field(
        None, ge=1, le=MAX_POSITION, description="First position (1-based, inclusive); needs `chrom`"
    )
    end: int | None = Field(
        None, ge=1, le=MAX_POSITION, description="Last position (inclusive, not before `start`); needs `chrom`"
    )
    phenotype: str | None = Field(
        None,
        max_length=MAX_QUERY,
        description="Rows in the genes of an HPO term or any term below it (`HP:0001250`), or of an OMIM/Orphanet "
        "disease (`OMIM:607208`, `ORPHA:33069`); an exact term or disease name is taken too",
    )
    disease_genes: str | None = Field(None, description="`1`: only rows in a gene with an OMIM/Orphanet disease")
    impact: list[str] | None = Field(
        None, description=f"IMPACT of the picked transcript consequence (bundles): {_listed(IMPACTS)}"
    )
    where: list[str] | None = Field(
        None,
        max_length=MAX_CONDITIONS,
        description=f"Conditions on any column, ANDed, at most {MAX_CONDITIONS} of at most {MAX_CONDITION_TEXT} "
        f"characters: `COLUMN OP VALUE`, OP one of {_listed(OPERATORS)} (`af<0.01`, `clnsig=Pathogenic`, "
        "`impact in HIGH,MODERATE`). Columns: the variant's fields and the job's `source_columns` (any case); "
        "`<`, `<=`, `>`, `>=` on numeric columns only; a list column matches `=`/`in` when any item does. "
        "A null value matches no condition, `!=` included. Repeat the parameter (values are not split at commas)",
    )
    sort: str | None = Field(
        None,
        description=f"{_listed(SORTS)} (default `position`), or any numeric column: `af` ascending, `-af` "
        "descending; nulls last either way, ties in file order",
    )
    size: int | None = Field(
        None,
        ge=1,
        le=MAX_PAGE_NUMBER,
        description=f"Rows per page (default 50); more than {MAX_PAGE_SIZE} is capped",
    )
    offset: int | None = Field(None, ge=0, le=MAX_OFFSET, description="Rows to skip (default 0)")
    cursor: str | None = Field(
        None,
        description="`next_cursor` of the previous page (same filters and sort): opaque, issued by this API; "
        "any other value is a 422",
    )
    sample: str | None = Field(None, description="A sample of the job's file: rows where it has genotype `gt`")
    gt: str | None = Field(
        None,
        description="With `sample`: `carrier` (default: a copy of the row's ALT), `het`, `hom_alt` or `no_call` "
        '(bcftools\' GT="alt", "het", "AA", "mis")',
    )
    show: list[str] | None = Field(
        None, description="Samples (at most 10) whose GT, DP and GQ each row carries in `genotypes`"
    )


class Genotype(BaseModel):
    gt: str | None = Field(description="GT as written in the annotated VCF")
    dp: int | None
    gq: int | None


class Variant(BaseModel):
    """One ALT of one record (docs/annotation-engine.md, the variants table)."""

    record: int = Field(description="0-based index of the record's data line in the annotated VCF")
    chrom: str
    pos: int
    id: str | None
    rsid: str | None
    ref: str
    alt: str
    qual: float | None
    filter: str
    genes: list[str]
    gene_types: list[str]
    region: str | None
    nearest_gene: str | None
    nearest_distance: int | None
    flags: list[str]
    variant_class: str | None
    tstv: str | None
    consequence: str | None = Field(description="Most severe consequence of this ALT")
    consequences: list[str]
    known_source: str | None = Field(
        None,
        description=f"Where the ALT is known from: {_listed(KNOWN_SOURCES)} (the database, an rsID in the ID "
        "column, both); null: novel, or outside the assembly or symbolic (neither)",
    )
    diseases: list[str] | None = Field(
        None, description="OMIM/Orphanet ids of the diseases of the row's genes (HPO); null: a job annotated before"
    )
    phenotype_count: int | None = Field(None, description="HPO terms annotated to the row's genes; null: none")
    impact: str | None = Field(
        None, description=f"Bundles: IMPACT of the picked transcript consequence ({_listed(IMPACTS)}); null otherwise"
    )
    symbol: str | None = Field(None, description="Bundles: the picked transcript's gene symbol")
    transcript: str | None = Field(None, description="Bundles: the picked transcript (stable id and version)")
    hgvsc: str | None = Field(None, description="Bundles: HGVS c. of the picked transcript")
    hgvsp: str | None = Field(None, description="Bundles: HGVS p. of the picked transcript")
    sources: dict[str, str | int | float | bool | None] | None = Field(
        None, description="The deployment's annotation sources' fields, by column (see the page's `source_columns`)"
    )
    genotypes: dict[str, Genotype] | None = Field(None, description="Per sample asked for with `show`")


class SourceColumnOut(BaseModel):
    column: str = Field(description="The key in each variant's `sources`, and the column name in `where` and `sort`")
    source: str = Field(description="The annotation source that added it")
    info_id: str = Field(description="Its INFO id in the annotated VCF")
    kind: Literal["number", "text", "list", "flag"]


class VariantPageOut(BaseModel):
    job_id: str
    total: int = Field(description="Rows (ALTs) in the job's table")
    matched: int = Field(description="Rows the filters keep")
    offset: int
    size: int = Field(description="Page size used (after the cap)")
    sort: str
    position_sorted: bool = Field(description="False: the VCF was not sorted; position order is file order")
    filters: dict[str, str] = Field(
        description="The filters applied, canonical (as query parameters; several `where` joined with ` AND `)"
    )
    next_cursor: str | None = Field(description="Pass as ?cursor= (with the same filters) for the next page")
    source_columns: list[SourceColumnOut] = Field(
        default_factory=list, description="The columns the deployment's annotation sources added to this job's table"
    )
    variants: list[Variant]
    # The VariantPage's own fields, under the same names.
    _SAME_AS_PAGE: ClassVar = ("total", "matched", "offset", "size", "sort", "position_sorted", "next_cursor")

    @classmethod
    def of(cls, job_id: str, page: VariantPage, filters: list[tuple[str, str]]) -> VariantPageOut:
        return cls(
            job_id=job_id,
            **{name: getattr(page, name) for name in cls._SAME_AS_PAGE},
            filters={name: " AND ".join(v for k, v in filters if k == name) for name, _ in filters},
            source_columns=[
                SourceColumnOut(column=c.name, source=c.source, info_id=c.info_id, kind=c.kind)
                for c in page.source_columns
            ],
            variants=[Variant.model_validate(_with_sources(row, page)) for row in page.rows],
        )


def _with_sources(row: dict[str, Any], page: VariantPage) -> dict[str, Any]:
    if not page.source_columns:
        return row
    return row | {"sources": {c.name: row.get(c.name) for c in page.source_columns}}


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


# -- saved filters (gas.web.saved_filters) -------------------------------------------------
class SavedFilterIn(Strict):
    name: str = Field(
        description="A name of at most 80 characters (spaces collapsed); saving under a name already used "
        "(any case) replaces that filter"
    )
    query: str = Field(
        description="The variant table's filter as a query string (`gene=TP53&region=CDS`), as "
        "`GET /jobs/{id}/variants` takes it; at most 2,000 characters; parsed before it is stored and "
        "stored in canonical form; a filter that keeps every row is refused"
    )


class SavedFilterOut(BaseModel):
    id: str = Field(description="Its id (`DELETE /filters/{id}`)")
    name: str
    query: str = Field(description="Canonical: append it to `GET /jobs/{id}/variants?` of any of your jobs")
    created_at: str


class SavedFilterList(BaseModel):
    filters: list[SavedFilterOut] = Field(description="By name; at most 50")


class FilterPath(BaseModel):
    filter_id: str
