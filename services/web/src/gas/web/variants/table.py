"""Reading one local copy: filters batch by batch, counts, pages in each sort order,
records' rows and the batches an export streams."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from gas.core.vocab import TABLE_COLUMN
from gas.web.phenotypes import filter_genes
from gas.web.variants.cache import TableIndex, _Lru
from gas.web.variants.query import (
    IMPACTS,
    MAX_POSITION,
    NOT_QUERYABLE,
    SEVERITY,
    ColumnKind,
    Condition,
    FilterError,
    PageRequest,
    VariantFilter,
    check_columns,
    chrom_spellings,
    encode_cursor,
    static_kind,
)

# The columns of a page row and of the TSV/CSV exports, in order: the web's choice of the
# table's columns (gas.core.vocab.TABLE_COLUMNS; a test holds them to it), less `record`,
# the row's data line in the annotated VCF, which pages keep for links.
COLUMNS = (
    "chrom",
    "pos",
    "id",
    "rsid",
    "ref",
    "alt",
    "qual",
    "filter",
    "genes",
    "gene_types",
    "region",
    "nearest_gene",
    "nearest_distance",
    "flags",
    "variant_class",
    "tstv",
    "consequence",
    "consequences",
    "known_source",  # columns added later go at the end, so exports keep their order
    "diseases",  # gene and disease context (docs/annotation-engine.md)
    "phenotype_count",
    # the picked transcript consequence of a bundle (null for genes-only databases)
    "impact",
    "symbol",
    "transcript",
    "hgvsc",
    "hgvsp",
)
LIST_COLUMNS = frozenset(c for c in COLUMNS if TABLE_COLUMN[c].list)


@dataclass(frozen=True)
class SourceColumn:
    """A column a deployment's annotation source added to this table (the lower-cased INFO id)."""

    name: str
    source: str  # the source's name, as the job's summary and the VCF's ##GAS_source say
    info_id: str
    kind: str  # ColumnKind

    @property
    def label(self) -> str:
        """Its header in exports and the CLI: the source named before the column."""
        return f"{self.source}.{self.name}"


def _kind(field: pa.Field) -> str:
    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "flag"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    return "text"


@dataclass(frozen=True)
class TableColumns:
    """What a table offers the form: its sources' columns, every column's kind (where= and
    sorts), and the IMPACTs present with their rows (None: not known yet, on a first open
    served from storage before the local copy exists)."""

    source_columns: tuple[SourceColumn, ...]
    kinds: dict[str, str]
    impacts: dict[str, int] | None


def column_kinds(schema: pa.Schema, sources: tuple[SourceColumn, ...]) -> dict[str, ColumnKind]:
    """The kind of each column of a table with this schema: the engine's (vocab), the sources'."""
    return {name: kind for name in schema.names if (kind := static_kind(name)) is not None} | {
        c.name: c.kind for c in sources
    }


def row_columns(sources: tuple[SourceColumn, ...]) -> list[str]:
    """The columns of a page row: the engine's, the sources', then `record`."""
    return [*COLUMNS, *(c.name for c in sources), "record"]


def source_columns(schema: pa.Schema, metadata: dict[str, str]) -> tuple[SourceColumn, ...]:
    """The table's columns that a deployment's source added, each with that source (the
    table's `gas.sources` metadata: name and {INFO id: source's id}). A column neither the
    vocabulary nor a source declares (a later release's, read by this one) is not shown."""
    owner: dict[str, tuple[str, str]] = {}
    try:
        declared = json.loads(metadata.get("gas.sources") or "[]")
    except ValueError:
        declared = []
    for s in declared if isinstance(declared, list) else []:
        if isinstance(s, dict) and isinstance(s.get("fields"), dict):
            for info_id in s["fields"]:
                owner[str(info_id).lower()] = (str(s.get("name", "source")), str(info_id))
    columns = []
    for f in schema:
        if f.name not in TABLE_COLUMN and f.name not in NOT_QUERYABLE and f.name in owner:
            source, info_id = owner[f.name]
            columns.append(SourceColumn(f.name, source, info_id, _kind(f)))
    return tuple(columns)


@dataclass(frozen=True)
class VariantPage:
    rows: list[dict[str, Any]]  # COLUMNS plus "record"
    total: int  # rows in the table
    matched: int  # rows the filter keeps
    offset: int
    size: int
    sort: str
    next_offset: int | None
    position_sorted: bool  # False: the VCF was not sorted, position order is file order
    source_columns: tuple[SourceColumn, ...] = ()  # the row keys a deployment's sources added

    @property
    def next_cursor(self) -> str | None:
        return None if self.next_offset is None else encode_cursor(self.next_offset, self.sort)

    @property
    def first(self) -> int:
        """1-based number of the first row shown (0 when none)."""
        return self.offset + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.rows)


@dataclass
class _Counts:
    per_batch: np.ndarray  # matches per batch
    per_first_gene: np.ndarray | None = None  # matches per first-gene code (gene order)


class LocalTable:
    """One local copy: filter evaluation batch by batch, counts, pages, batches for export."""

    def __init__(self, entry: Path, index: TableIndex, counts: _Lru):
        self.entry = entry
        self.index = index
        self.path = str(entry / "variants.arrow")
        self._counts = counts
        with ipc.open_file(pa.OSFile(self.path)) as reader:
            self.schema = reader.schema
        self.none_code = len(index.genes)
        self._term_counts: dict[str, int] | None = None
        self._context: dict[tuple[str | None, bool], list[int]] = {}  # filter -> gene codes
        self.starts = np.concatenate([[0], np.cumsum(index.batch_rows)])  # first row of each batch
        # The job's genotypes (gas.web.samples.JobGenotypes), set by the store: the sample filter.
        self.genotypes: Any = None
        self.source_columns = source_columns(self.schema, index.metadata)
        # What each column holds, for where= and sorts: the engine's (vocab) and the sources'.
        self.kinds = column_kinds(self.schema, self.source_columns)
        self.row_columns = row_columns(self.source_columns)
        self._impact_counts: dict[str, int] | None = None

    def check(self, filt: VariantFilter, sort: str | None = None) -> None:
        """FilterError unless the filter's conditions and the sort fit this table's columns."""
        check_columns(filt, sort, self.kinds)

    def _reader(self, columns: Iterable[str] | None) -> ipc.RecordBatchFileReader:
        if columns is None:
            return ipc.open_file(pa.OSFile(self.path))
        fields = sorted({self.schema.get_field_index(c) for c in columns})
        return ipc.open_file(pa.OSFile(self.path), options=ipc.IpcReadOptions(included_fields=fields))

    # -- which batches can match, and the mask within one --------------------------
    def candidate_batches(self, filt: VariantFilter) -> np.ndarray:
        n = len(self.index.batch_rows)
        keep = np.ones(n, dtype=bool)
        if filt.genes:
            keep &= False
            for code in self._gene_codes(filt):
                keep[self.index.gene_batches[code]] = True
        if filt.phenotype is not None or filt.disease_genes:
            in_context = np.zeros(n, dtype=bool)
            for code in self._context_codes(filt):
                in_context[self.index.gene_batches[code]] = True
            keep &= in_context
        if filt.chrom is not None:
            names = set(chrom_spellings(filt.chrom))
            lo, hi = filt.start or 0, filt.end or MAX_POSITION
            for b, chroms in enumerate(self.index.batch_chroms):
                if keep[b]:
                    keep[b] = any(c in names and r[1] >= lo and r[0] <= hi for c, r in chroms.items())
        return np.flatnonzero(keep)

    def _gene_codes(self, filt: VariantFilter) -> list[int]:
        return self.index.resolve_genes(filt.genes)

    def _context_codes(self, filt: VariantFilter) -> list[int]:
        """The table's genes that the phenotype filter or the disease-genes switch keeps."""
        key = (filt.phenotype, filt.disease_genes)
        if key not in self._context:
            assembly = self.index.metadata.get("gas.assembly", "")
            self._context[key] = filter_genes(filt.phenotype, filt.disease_genes, self.index.genes, assembly) or []
        return self._context[key]

    @staticmethod
    def filter_columns(filt: VariantFilter) -> list[str]:
        """The columns that the filters in use read."""
        in_use = {
            "genes": bool(filt.genes) or filt.phenotype is not None or filt.disease_genes,
            "region": bool(filt.regions) or filt.known is False,
            "variant_class": bool(filt.classes) or filt.known is False,
            "rsid": filt.known is not None,
            "flags": bool(filt.flags),
            "consequence": bool(filt.consequences),
            "chrom": filt.chrom is not None,
            "pos": filt.chrom is not None,
            "record": filt.sample is not None,  # the sample filter reads the genotypes file
            "impact": bool(filt.impacts),
        }
        return list(dict.fromkeys([*(c for c, used in in_use.items() if used), *(c.column for c in filt.where)]))

    def mask(self, batch: pa.RecordBatch, filt: VariantFilter, b: int) -> np.ndarray:
        """Rows of batch `b` the filter keeps."""
        keep = np.ones(batch.num_rows, dtype=bool)

        def any_of(column: str, values: pa.Array) -> np.ndarray:
            lists = batch.column(column)
            hit = pc.is_in(pc.list_flatten(lists), value_set=values).to_numpy(zero_copy_only=False)
            rows = np.zeros(batch.num_rows, dtype=bool)
            rows[pc.list_parent_indices(lists).to_numpy()[hit]] = True
            return rows

        def one_of(column: str, values: Iterable[str]) -> np.ndarray:
            result = pc.is_in(batch.column(column), value_set=pa.array(list(values), pa.string()))
            return result.to_numpy(zero_copy_only=False)

        if filt.genes:
            names = pa.array([self.index.genes[c] for c in self._gene_codes(filt)], pa.string())
            keep &= any_of("genes", names)
        if filt.phenotype is not None or filt.disease_genes:
            names = pa.array([self.index.genes[c] for c in self._context_codes(filt)], pa.string())
            keep &= any_of("genes", names)
        if filt.regions:
            keep &= one_of("region", filt.regions)
        if filt.classes:
            keep &= one_of("variant_class", filt.classes)
        if filt.known is not None:
            keep &= pc.is_valid(batch.column("rsid")).to_numpy(zero_copy_only=False) if filt.known else novel(batch)
        if filt.flags:
            keep &= any_of("flags", pa.array(filt.flags, pa.string()))
        if filt.consequences:
            keep &= one_of("consequence", filt.consequences)
        if filt.chrom is not None:
            keep &= one_of("chrom", chrom_spellings(filt.chrom))
            pos = batch.column("pos").to_numpy(zero_copy_only=False)
            if filt.start is not None:
                keep &= pos >= filt.start
            if filt.end is not None:
                keep &= pos <= filt.end
        if filt.sample is not None:
            start = int(self.starts[b])
            keep &= self.sample_rows(filt.sample, filt.gt)[start : start + batch.num_rows]
        if filt.impacts:
            keep &= one_of("impact", filt.impacts)
        for condition in filt.where:
            keep &= self._condition(batch.column(condition.column), condition)
        return keep

    def _condition(self, column: pa.Array, c: Condition) -> np.ndarray:
        """Rows of one column that meet a where= condition; a null meets none."""
        kind = self.kinds[c.column]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
        if kind == "number":
            assert c.numbers is not None
            values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)  # null -> NaN
            with np.errstate(invalid="ignore"):
                if c.op == "in":
                    hit = np.isin(values, np.asarray(c.numbers))
                else:
                    hit = _NUMERIC[c.op](values, c.numbers[0])
            return hit & valid & ~np.isnan(values)
        if kind == "flag":
            wanted = c.values[0] in ("true", "1")
            hit = column.to_numpy(zero_copy_only=False) == wanted
            return valid & (~hit if c.op == "!=" else hit)
        value_set = pa.array(list(c.values), pa.string())
        if kind == "list":
            hit = pc.is_in(pc.list_flatten(column), value_set=value_set).to_numpy(zero_copy_only=False)
            rows = np.zeros(len(column), dtype=bool)
            rows[pc.list_parent_indices(column).to_numpy()[hit]] = True
        else:
            rows = pc.is_in(column.cast(pa.string()), value_set=value_set).to_numpy(zero_copy_only=False)
        return valid & (~rows if c.op == "!=" else rows)

    def impact_counts(self) -> dict[str, int]:
        """Rows per IMPACT of the picked consequence present (a bundle's table), most severe
        first; empty for a genes-only database (one column read once per process and table)."""
        if self._impact_counts is None:
            totals: dict[str, int] = {}
            with self._reader(["impact"]) as reader:
                for b in range(reader.num_record_batches):
                    column = reader.get_batch(b).column(0)
                    if pa.types.is_dictionary(column.type):
                        column = column.cast(pa.string())
                    for item in pc.value_counts(column).to_pylist():
                        if item["values"] is not None:
                            totals[item["values"]] = totals.get(item["values"], 0) + item["counts"]
            self._impact_counts = {i: totals[i] for i in IMPACTS if i in totals}
        return self._impact_counts

    def sample_rows(self, sample: str, gt: str | None) -> np.ndarray:
        """Every row of the table: does `sample` have genotype class `gt` of its ALT."""
        if self.genotypes is None:
            raise FilterError("sample", "this job's file has no samples")
        rows: np.ndarray = self.genotypes.rows_in_class(sample, gt)
        return rows

    # -- counts --------------------------------------------------------------------
    def counts(self, filt: VariantFilter, by_gene: bool = False) -> _Counts:
        """Matches per batch (and per first gene when by_gene), counted once per filter."""
        key = (self.path, filt)
        cached: _Counts | None = self._counts.get(key)
        if cached is not None and (cached.per_first_gene is not None or not by_gene):
            return cached
        if filt.empty:
            counts = _Counts(self.index.batch_rows.copy(), self.index.first_gene_rows.copy())
            self._counts.put(key, counts)
            return counts
        per_batch = np.zeros(len(self.index.batch_rows), dtype=np.int64)
        per_gene = np.zeros(self.none_code + 1, dtype=np.int64) if by_gene else None
        columns = self.filter_columns(filt) + (["_gene"] if by_gene else [])
        with self._reader(columns) as reader:
            for b in self.candidate_batches(filt):
                batch = reader.get_batch(int(b))
                keep = self.mask(batch, filt, int(b))
                per_batch[b] = int(keep.sum())
                if per_gene is not None:
                    codes = batch.column("_gene").to_numpy()[keep]
                    per_gene += np.bincount(codes, minlength=self.none_code + 1)
        counts = _Counts(per_batch, per_gene)
        self._counts.put(key, counts)
        return counts

    # -- pages ---------------------------------------------------------------------
    def page(self, filt: VariantFilter, page: PageRequest) -> tuple[list[dict[str, Any]], int]:
        """The rows of one page, and how many rows match in all."""
        if page.sort not in ("position", "gene"):
            order = self.sorted_rows(filt, page.sort)
            return self._rows_by_id(order[page.offset : page.offset + page.size]), len(order)
        counts = self.counts(filt, by_gene=page.sort == "gene")
        matched = int(counts.per_batch.sum())
        if page.offset >= matched:
            return [], matched
        if page.sort == "gene":
            assert counts.per_first_gene is not None
            picks = self._gene_order_picks(filt, counts.per_first_gene, page)
        else:
            picks = self._file_order_picks(filt, counts.per_batch, page)
        return self._rows(picks), matched

    def _file_order_picks(
        self, filt: VariantFilter, per_batch: np.ndarray, page: PageRequest
    ) -> list[tuple[int, np.ndarray]]:
        """(batch, local rows) in file order for rows offset .. offset+size of the matches."""
        b, skip = _locate(per_batch, page.offset)
        wanted = page.size
        picks = []
        columns = self.filter_columns(filt)
        with self._reader(columns or ["record"]) as reader:
            while wanted > 0 and b < len(per_batch):
                if per_batch[b]:
                    if filt.empty:
                        local = np.arange(skip, min(int(per_batch[b]), skip + wanted))
                    else:
                        local = np.flatnonzero(self.mask(reader.get_batch(b), filt, b))[skip : skip + wanted]
                    picks.append((b, local))
                    wanted -= len(local)
                    skip = 0
                b += 1
        return picks

    def _gene_order_picks(
        self, filt: VariantFilter, per_gene: np.ndarray, page: PageRequest
    ) -> list[tuple[int, np.ndarray]]:
        """Rows ordered by first gene (rows without a gene last), then file order."""
        code, skip = _locate(per_gene, page.offset)
        wanted = page.size
        picks: list[tuple[int, np.ndarray]] = []
        columns = [*self.filter_columns(filt), "_gene"]
        all_batches = np.arange(len(self.index.batch_rows))
        with self._reader(columns) as reader:
            while wanted > 0 and code <= self.none_code:
                if per_gene[code]:
                    batches = self.index.gene_batches[code] if code < self.none_code else all_batches
                    for b in batches:
                        if wanted <= 0:
                            break
                        batch = reader.get_batch(int(b))
                        keep = batch.column("_gene").to_numpy() == code
                        if not filt.empty:
                            keep &= self.mask(batch, filt, int(b))
                        local = np.flatnonzero(keep)
                        if skip >= len(local):
                            skip -= len(local)
                            continue
                        local = local[skip : skip + wanted]
                        skip = 0
                        picks.append((int(b), local))
                        wanted -= len(local)
                code += 1
        return picks

    def sorted_rows(self, filt: VariantFilter, sort: str) -> np.ndarray:
        """Every matching row's number (0-based in the table) in `sort` order, computed
        once per filter and sort and kept in a small LRU: one key column and the filter's
        columns read batch by batch into numpy, then one stable argsort (16 bytes a row,
        no Python object per row)."""
        key = (self.path, filt, sort)
        cached: np.ndarray | None = _ORDERS.get(key)
        if cached is not None:
            return cached
        column = "consequence" if sort == "consequence" else sort.lstrip("-")
        starts = np.concatenate([[0], np.cumsum(self.index.batch_rows)])
        keys: list[np.ndarray] = []
        ids: list[np.ndarray] = []
        with self._reader([*self.filter_columns(filt), column]) as reader:
            for b in self.candidate_batches(filt):
                batch = reader.get_batch(int(b))
                local = np.arange(batch.num_rows) if filt.empty else np.flatnonzero(self.mask(batch, filt, int(b)))
                keys.append(_sort_key(batch.column(column), sort)[local])
                ids.append(local + starts[b])
        if not ids:
            order = np.zeros(0, dtype=np.int64)
        else:
            all_keys = np.concatenate(keys)
            order = np.concatenate(ids)[np.argsort(all_keys, kind="stable")]
        _ORDERS.put(key, order)
        return order

    def _rows_by_id(self, ids: np.ndarray) -> list[dict[str, Any]]:
        """The rows with these table row numbers, in this order (one read per batch)."""
        starts = np.concatenate([[0], np.cumsum(self.index.batch_rows)])
        batches = np.searchsorted(starts, ids, side="right") - 1
        out: list[dict[str, Any]] = [{} for _ in range(len(ids))]
        with self._reader(self.row_columns) as reader:
            for b in np.unique(batches):
                at = np.flatnonzero(batches == b)
                local = pa.array(ids[at] - starts[b], pa.int64())
                taken = reader.get_batch(int(b)).take(local).select(self.row_columns).to_pylist()
                for k, row in zip(at, taken, strict=True):
                    row["row"] = int(ids[k])  # the table's row number: the genotypes file's too
                    out[int(k)] = row
        return out

    def _rows(self, picks: list[tuple[int, np.ndarray]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        with self._reader(self.row_columns) as reader:
            for b, local in picks:
                if len(local):
                    taken = reader.get_batch(b).take(pa.array(local, pa.int64()))
                    more = taken.select(self.row_columns).to_pylist()
                    for row, n in zip(more, local.tolist(), strict=True):
                        row["row"] = int(self.starts[b]) + n  # the table's row number
                    rows += more
        return rows

    # -- the consequence terms present ----------------------------------------------
    def term_counts(self) -> dict[str, int]:
        """Rows per most severe consequence term present, in severity order (one column
        read once per process and table)."""
        if self._term_counts is None:
            totals: dict[str, int] = {}
            with self._reader(["consequence"]) as reader:
                for b in range(reader.num_record_batches):
                    counts = pc.value_counts(reader.get_batch(b).column(0).cast(pa.string()))
                    for item in counts.to_pylist():
                        if item["values"] is not None:
                            totals[item["values"]] = totals.get(item["values"], 0) + item["counts"]
            self._term_counts = order_terms(totals)
        return self._term_counts

    # -- one record's rows ---------------------------------------------------------
    def record_rows(self, record: int) -> list[dict[str, Any]]:
        """Every column of the rows of one VCF record (its ALTs). Rows are in record order,
        so a binary search over batches reads the `record` column of a few batches only."""
        n = len(self.index.batch_rows)
        if n == 0:
            return []
        columns = [c for c in self.schema.names if c != "_gene"]
        with self._reader(["record"]) as reader:
            lo, hi = 0, n - 1
            while lo < hi:  # the last batch whose first record <= record
                mid = (lo + hi + 1) // 2
                if int(reader.get_batch(mid).column(0)[0].as_py()) <= record:
                    lo = mid
                else:
                    hi = mid - 1
        rows: list[dict[str, Any]] = []
        with self._reader(columns) as reader:
            for b in range(lo, min(lo + 2, n)):  # a record's ALTs may straddle two batches
                batch = reader.get_batch(b)
                found = np.flatnonzero(batch.column("record").to_numpy() == record)
                rows += batch.take(pa.array(found, pa.int64())).select(columns).to_pylist()
        return rows

    # -- every matching batch, in file order (exports) ------------------------------
    def matching_batches(self, filt: VariantFilter, columns: list[str]) -> Iterator[pa.RecordBatch]:
        need = sorted(set(columns) | set(self.filter_columns(filt)))
        with self._reader(need) as reader:
            for b in self.candidate_batches(filt):
                batch = reader.get_batch(int(b))
                if not filt.empty:
                    keep = self.mask(batch, filt, int(b))
                    if not keep.any():
                        continue
                    if not keep.all():
                        batch = batch.filter(pa.array(keep))
                yield batch.select(columns)


def novel(batch: pa.RecordBatch) -> np.ndarray:
    """The rows of novel ALTs, as the engine counts them (its summary's "novel"): a sequence
    ALT (a variant class) annotated against the assembly (a region) without an rsID. ALTs
    outside the assembly and symbolic ALTs are neither known nor novel (decision 113)."""
    annotated = pc.and_(pc.is_valid(batch.column("region")), pc.is_valid(batch.column("variant_class")))
    return pc.and_(annotated, pc.is_null(batch.column("rsid"))).to_numpy(zero_copy_only=False)


def order_terms(totals: dict[str, int]) -> dict[str, int]:
    """Rows per term in severity order (terms outside it after, by name)."""
    rank = {t: i for i, t in enumerate(SEVERITY)}
    return dict(sorted(totals.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


_ORDERS = _Lru(4)  # (table, filter, sort) -> row numbers in order; 8 bytes a matching row


_SEVERITY = pa.array(SEVERITY, pa.string())


_NUMERIC = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "=": np.equal,
    "!=": np.not_equal,
}


def _sort_key(column: pa.Array, sort: str) -> np.ndarray:
    """A numeric key per row that ascends in `sort` order, empty values last: consequence
    severity, or a numeric column (`qual`, `af`; `-af` descending)."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if sort == "consequence":
        rank = pc.fill_null(pc.index_in(column, value_set=_SEVERITY), len(SEVERITY))
        key = rank.to_numpy(zero_copy_only=False).astype(np.float64)
        key[pc.is_null(column).to_numpy(zero_copy_only=False)] = len(SEVERITY) + 1
        return key
    # null -> NaN, which argsort puts last in both directions (-NaN is NaN)
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return -values if sort.startswith("-") else values


def _locate(counts: np.ndarray, offset: int) -> tuple[int, int]:
    """The group (batch, gene) holding match number `offset` of groups with these match
    counts, and how many of its matches come before it."""
    before = np.concatenate([[0], np.cumsum(counts)])
    group = int(np.searchsorted(before, offset, side="right") - 1)
    return group, offset - int(before[group])
