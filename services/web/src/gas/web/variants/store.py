"""The variant store: queries, exports and one record's detail of jobs' tables, read
from S3 through the local cache."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from gas.core.job_record import Job
from gas.core.vocab import CSQ_INFO_IDS
from gas.web.variants.cache import ResultCache, _load_index, _Lru, readable
from gas.web.variants.export import FORMATS, PROVENANCE, csv_bytes, provenance, select_vcf_records, tsv_bytes
from gas.web.variants.facets import Facets, facet_counts
from gas.web.variants.query import FilterError, PageRequest, VariantFilter
from gas.web.variants.remote import PAGES, StoredTable, StoredTables
from gas.web.variants.table import COLUMNS, LocalTable, TableColumns, VariantPage

log = structlog.get_logger()
_CSQ_HEADER = f"##INFO=<ID={CSQ_INFO_IDS[0]},".encode()  # a bundle's CSQ (Ensembl VEP's layout)


# -- the store -----------------------------------------------------------------------
class VariantStore:
    """Queries and exports of jobs' variant tables (one per process)."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        cache: ResultCache,
        genotypes: Any = None,
        defer: Callable[[Callable[[], None]], None] | None = None,
    ):
        self.s3 = s3
        self.bucket = bucket
        self.cache = cache
        # gas.web.samples.JobGenotypes (given by the app: samples imports this package), the
        # sample filter's reader of a job's genotypes file.
        self.genotypes = genotypes
        self._tables = _Lru(8)  # entry -> LocalTable (its index in memory)
        self._counts = _Lru(32)  # (entry, filter) -> matches per batch / per gene
        self.stored = StoredTables()  # footers of tables read from S3 before their local copy
        self._building: set[tuple[str, str]] = set()  # (job, ETag) local copies being built here
        self._building_lock = threading.Lock()
        # One background build at a time per process: each holds a table's batches in memory, and
        # many first opens at once must not add up (a page that finds it busy asks again later).
        self._build_slot = threading.BoundedSemaphore(1)
        # Runs a background build's start; the app's runs it once the response is sent, so
        # the build does not compete with the page that started it.
        self.defer = defer or (lambda start: start())

    def head(self, job: Job) -> dict[str, Any]:
        """The job's table's current version (one S3 HEAD, a boto3 request's CPU): a table page
        takes it once and passes it to query, term_counts, columns and table."""
        readable(job)
        return self.cache.head(self.s3, job.result_bucket or self.bucket, job)

    def _stored(self, job: Job, head: dict[str, Any]) -> StoredTable | None:
        """The job's table as read from S3 while this host has no local copy of it, when the
        engine wrote the first page's view into it (decision 105); then the local copy is
        built in the background. None: the local copy answers (built first if needed)."""
        bucket = job.result_bucket or self.bucket
        if self.cache.ready(job, head):
            return None
        assert job.variants_key
        stored = self.stored.get(self.s3, bucket, job.variants_key, head)
        if stored is not None:
            self._build_later(job, bucket, head)
        return stored

    def _build_later(self, job: Job, bucket: str, head: dict[str, Any]) -> None:
        key = (job.job_id, head["ETag"])

        def build() -> None:
            try:
                self.cache.get(self.s3, bucket, job, head)
            except Exception as exc:  # the next request that needs it builds it, or says why
                log.warning("variants.local_copy_failed", job_id=job.job_id, error=type(exc).__name__)
            finally:
                with self._building_lock:
                    self._building.discard(key)
                self._build_slot.release()

        def start() -> None:
            with self._building_lock:
                if key in self._building or not self._build_slot.acquire(blocking=False):
                    return
                self._building.add(key)
            threading.Thread(target=build, name=f"local-copy-{job.job_id}", daemon=True).start()

        self.defer(start)

    def table(self, job: Job, head: dict[str, Any] | None = None) -> LocalTable:
        readable(job)
        entry = self.cache.get(self.s3, job.result_bucket or self.bucket, job, head)
        table: LocalTable | None = self._tables.get(entry)
        if table is None:
            table = LocalTable(entry, _load_index(entry), self._counts)
            if self.genotypes is not None:
                table.genotypes = self.genotypes(self.s3, job.result_bucket or self.bucket, job, entry, self.cache)
            self._tables.put(entry, table)
        return table

    def query(
        self, job: Job, filt: VariantFilter, page: PageRequest, head: dict[str, Any] | None = None
    ) -> VariantPage:
        head = head or self.head(job)
        if filt.empty and page.sort == "position":  # file order: rows offset.. of the file
            stored = self._stored(job, head)
            if stored is not None:
                rows = stored.rows(page.offset, page.size)
                PAGES.labels("storage").inc()
                end = page.offset + len(rows)
                return VariantPage(
                    rows=rows,
                    total=stored.total,
                    matched=stored.total,
                    offset=page.offset,
                    size=page.size,
                    sort=page.sort,
                    next_offset=end if end < stored.total else None,
                    position_sorted=stored.position_sorted,
                    source_columns=stored.source_columns,
                )
        table = self.table(job, head)
        table.check(filt, page.sort)
        try:
            rows, matched = table.page(filt, page)
        except FileNotFoundError:  # evicted by another process between two reads: once more
            table = self.table(job)
            rows, matched = table.page(filt, page)
        PAGES.labels("local_copy").inc()
        end = page.offset + len(rows)
        return VariantPage(
            rows=rows,
            total=table.index.total,
            matched=matched,
            offset=page.offset,
            size=page.size,
            sort=page.sort,
            next_offset=end if end < matched else None,
            position_sorted=table.index.position_sorted,
            source_columns=table.source_columns,
        )

    def facets(self, job: Job, filt: VariantFilter) -> Facets:
        """The summary's counts of the rows `filt` keeps (the charts of a filtered table)."""
        table = self.table(job)
        table.check(filt)  # an unknown column is a 400 (FilterError), as in the table
        try:
            return facet_counts(table, filt)
        except FileNotFoundError:  # evicted by another process meanwhile: once more
            return facet_counts(self.table(job), filt)

    def term_counts(self, job: Job, head: dict[str, Any] | None = None) -> dict[str, int]:
        """Rows per most severe consequence term present (the filter's choices)."""
        head = head or self.head(job)
        stored = self._stored(job, head)
        return stored.terms if stored is not None else self.table(job, head).term_counts()

    def columns(self, job: Job, head: dict[str, Any] | None = None) -> TableColumns:
        """What the job's table offers the form (sources' columns, kinds, IMPACTs), from the
        stored footer on a first open (the engine's view counts the IMPACTs; a table written
        before that: unknown until the local copy is built), else from the local copy."""
        head = head or self.head(job)
        stored = self._stored(job, head)
        if stored is not None:
            return TableColumns(stored.source_columns, stored.kinds, stored.impacts)
        table = self.table(job, head)
        return TableColumns(table.source_columns, table.kinds, table.impact_counts())

    def export_name(self, job: Job, filt: VariantFilter, fmt: str) -> str:
        stem = job.name or job.input_file_name
        for suffix in (".vcf.gz", ".vcf"):
            stem = stem.removesuffix(suffix)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "variants"
        # The database the rows came from, as researchers keep several annotations of a file.
        database = re.sub(r"[^A-Za-z0-9._-]+", "_", job.database_version or "").strip("._-")[:60]
        return ".".join(part for part in (stem, database, filt.slug(), fmt) if part)

    def export(self, job: Job, filt: VariantFilter, fmt: str) -> Iterator[bytes]:
        """The filtered rows as TSV or CSV (a header line, then one row per ALT), or as VCF
        (the annotated VCF's full header, then only the records with a matching ALT).

        Checks availability before the first byte (ResultUnavailable), then streams."""
        if fmt not in FORMATS:
            raise FilterError("format", f"one of {', '.join(FORMATS)}")
        readable(job, need_vcf=fmt == "vcf")
        table = self.table(job)
        table.check(filt)  # an unknown column is a 400 before the first byte
        if filt.sample is not None:  # and so is an unknown sample
            table.sample_rows(filt.sample, filt.gt)
        if fmt == "vcf":
            return self._vcf(job, table, filt)
        return self._delimited(table, filt, fmt, provenance(table.index.metadata, job.database_version))

    def _delimited(self, table: LocalTable, filt: VariantFilter, fmt: str, extra: tuple[str, ...]) -> Iterator[bytes]:
        # the sources' columns after the engine's, each headed with its source's name
        labels = [*COLUMNS, *(c.label for c in table.source_columns), *PROVENANCE]
        yield (("\t" if fmt == "tsv" else ",").join(labels) + "\n").encode()
        encode = tsv_bytes if fmt == "tsv" else csv_bytes
        for batch in table.matching_batches(filt, table.row_columns[:-1]):
            yield encode(batch, extra)

    def _vcf(self, job: Job, table: LocalTable, filt: VariantFilter) -> Iterator[bytes]:
        assert job.result_key
        records = (np.unique(batch.column("record").to_numpy()) for batch in table.matching_batches(filt, ["record"]))
        body = self.s3.get_object(Bucket=job.result_bucket or self.bucket, Key=job.result_key)["Body"]
        try:
            yield from select_vcf_records(body.iter_chunks(1 << 20), records)
        finally:
            body.close()  # read only up to the last match

    # -- one record ---------------------------------------------------------------
    def detail(self, job: Job, record: int) -> VariantDetail:
        """Every field of the record's rows (one per ALT) and, when the annotated VCF is
        there, its data line split into fields and per-sample genotypes. Ownership and
        archive rules are the table's (ResultUnavailable); LookupError when no such record."""
        table = self.table(job)
        rows = table.record_rows(record)
        if not rows:
            raise LookupError(record)
        line = self._vcf_line(job, record) if job.result_key else None
        if line is None:
            return VariantDetail(rows=rows, vcf=None, csq_fields=[])
        header, data, csq = line
        return VariantDetail(rows=rows, vcf=parse_vcf_line(header, data), csq_fields=csq)

    def _vcf_line(self, job: Job, record: int) -> tuple[list[str], str, list[str]] | None:
        """The #CHROM header fields, data line `record` of the annotated VCF and the CSQ
        field names its header declares, streamed (reading stops after the line; one chunk
        and the line are held at most)."""
        body = self.s3.get_object(Bucket=job.result_bucket or self.bucket, Key=job.result_key)["Body"]
        header: list[str] = []
        csq: list[str] = []
        data = b""
        try:
            pieces = select_vcf_records(body.iter_chunks(1 << 20), iter([np.array([record], dtype=np.int64)]))
            pending = b""
            for piece in pieces:
                pending += piece
                lines = pending.split(b"\n")
                pending = lines.pop()
                for raw in lines:
                    if raw.startswith(_CSQ_HEADER) and b"Format: " in raw:
                        names = raw.split(b"Format: ", 1)[1].split(b'"', 1)[0]
                        csq = names.decode(errors="replace").strip().split("|")
                    elif raw.startswith(b"#CHROM"):
                        header = raw.decode(errors="replace").rstrip("\r").split("\t")
                    elif not raw.startswith(b"#"):
                        data = raw
                if len(pending) > MAX_DETAIL_LINE:
                    return None  # a line too long to show
        finally:
            body.close()
        if not data or not header:
            return None
        return header, data.decode(errors="replace").rstrip("\r"), csq


MAX_DETAIL_LINE = 8 << 20  # the longest VCF data line a variant detail reads
MAX_DETAIL_SAMPLES = 5000  # genotypes shown in a variant detail


@dataclass(frozen=True)
class VcfRecord:
    fields: list[tuple[str, str]]  # CHROM .. FILTER, as in the file
    info: list[tuple[str, str]]  # INFO key, value ("" for a flag)
    format_keys: list[str]
    samples: list[tuple[str, list[str]]]  # sample name, its FORMAT values
    samples_total: int


def parse_vcf_line(header: list[str], line: str) -> VcfRecord:
    """A data line split by the #CHROM header: fixed fields, INFO, and per-sample values."""
    cells = line.split("\t")
    names = [header[0].lstrip("#"), *header[1:7]]  # "#CHROM" is the column CHROM
    fixed = list(zip(names, cells[:7], strict=False))
    info: list[tuple[str, str]] = []
    if len(cells) > 7 and cells[7] != ".":
        for item in cells[7].split(";"):
            key, _, value = item.partition("=")
            info.append((key, value))
    keys = cells[8].split(":") if len(cells) > 8 else []
    sample_names = header[9:]
    samples = [
        (name, value.split(":"))
        for name, value in zip(sample_names[:MAX_DETAIL_SAMPLES], cells[9 : 9 + MAX_DETAIL_SAMPLES], strict=False)
    ]
    return VcfRecord(fields=fixed, info=info, format_keys=keys, samples=samples, samples_total=len(sample_names))


@dataclass(frozen=True)
class VariantDetail:
    rows: list[dict[str, Any]]  # every column of the table, one row per ALT
    vcf: VcfRecord | None  # None: no annotated VCF, or the line is too long to show
    csq_fields: list[str]  # names of a CSQ entry's fields (the VCF header's), [] unknown
