"""A job's variants as a table: filters, pages and exports over its Parquet result.

Independent of Flask, so the web pages and the REST API share one implementation::

    filt = VariantFilter.from_args(args)          # FilterError (a ValueError) names the bad parameter
    page = PageRequest.from_args(args)            # size capped at MAX_PAGE_SIZE, never refused for it
    result = store.query(job, filt, page)         # VariantPage(rows, total, matched, offset, next_offset, ...)
    for chunk in store.export(job, filt, "tsv"):  # bytes, streamed ("tsv", "csv" or "vcf")
        ...
    store.export_name(job, filt, "tsv")           # "premium_2.gene-TP53.region-CDS.tsv"

`store` is a `VariantStore` (one per process). A result that is not there to read (the job
did not complete, its results are in cold storage or being restored, or it predates the
table) raises `ResultUnavailable`, whose `reason` says which and whose message is for the
user; nothing is served from a cold result.

How a page stays cheap on a large result: the job's Parquet file (`variants_key`) is
fetched once per process host into a local cache keyed by job and ETag (bounded in size,
least recently used entries go first) and rewritten there as an Arrow IPC file of
`BATCH_ROWS`-row batches, which can be read one batch and a few columns at a time without
decoding the rest, plus an index: the sorted gene names with the batches each occurs in,
and each batch's chromosomes and position range. A gene filter then reads only the
batches that hold the gene; a position range only the batches that overlap it; a deep
page only the batch it falls in (matches per batch are counted once per filter and kept
in a small LRU). Memory is bounded by a few batches whatever the result's size.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import fcntl
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from gas.core.job_record import Job, JobStatus, Storage

# Arrow's default allocator (mimalloc) keeps the pages it freed: building one local copy
# left a web worker ~150 MiB larger for good. The system allocator gives most of it back
# (measured with bench/results_table.py: worker peak 266 -> 215 MiB).
pa.set_memory_pool(pa.system_memory_pool())

# -- the table's vocabulary (the engine's, docs/annotation-engine.md) -----------------
REGIONS = ("start_codon", "stop_codon", "CDS", "UTR", "exon", "intron", "upstream", "downstream", "intergenic")
VARIANT_CLASSES = ("SNV", "MNV", "INS", "DEL", "DELINS")
FLAGS = ("CPG", "REPEAT", "BLACKLIST")
CHROMOSOMES = tuple(str(n) for n in range(1, 23)) + ("X", "Y", "MT")
# position: file order; gene: first gene, then file order; consequence: most severe first;
# qual / -qual: lowest / highest QUAL first. Ties keep file order; empty values sort last.
SORTS = ("position", "gene", "consequence", "qual", "-qual")
# Ensembl VEP's consequence terms, most severe first: the engine's order
# (gas.annotator.engine.effects.SEVERITY, which the web does not import; a test keeps the
# two equal). A term outside it sorts after them, a row without a consequence last.
SEVERITY = (
    "transcript_ablation",
    "splice_acceptor_variant",
    "splice_donor_variant",
    "stop_gained",
    "frameshift_variant",
    "stop_lost",
    "start_lost",
    "transcript_amplification",
    "inframe_insertion",
    "inframe_deletion",
    "missense_variant",
    "protein_altering_variant",
    "splice_region_variant",
    "incomplete_terminal_codon_variant",
    "start_retained_variant",
    "stop_retained_variant",
    "synonymous_variant",
    "coding_sequence_variant",
    "5_prime_UTR_variant",
    "3_prime_UTR_variant",
    "non_coding_transcript_exon_variant",
    "intron_variant",
    "NMD_transcript_variant",
    "non_coding_transcript_variant",
    "upstream_gene_variant",
    "downstream_gene_variant",
    "intergenic_variant",
)
PAGE_SIZES = (50, 100, 500)  # offered on the page; any size up to MAX_PAGE_SIZE is taken
FORMATS = ("tsv", "csv", "vcf")
ExportFormat = Literal["tsv", "csv", "vcf"]

# The columns of a page row and of the TSV/CSV exports, in order (the Parquet schema less
# `record`, the row's data line in the annotated VCF, which pages keep for links).
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
    "known_source",  # last: columns added later go at the end, so exports keep their order
)
LIST_COLUMNS = frozenset({"genes", "gene_types", "flags", "consequences"})

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_GENES = 100  # names in one gene filter
BATCH_ROWS = 16_384  # rows per batch of the local copy
_GENE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\*?$")
_TERM = re.compile(r"^[A-Za-z0-9_]{1,64}$")
MAX_POSITION = 1 << 32
MAX_OFFSET = 1 << 40  # rows to skip
MAX_PAGE_NUMBER = 10**12 - 1  # a larger size is refused; up to it, capped at MAX_PAGE_SIZE


# -- filters -----------------------------------------------------------------------
class FilterError(ValueError):
    """A filter or page parameter that cannot be used; `parameter` names it (a 400)."""

    def __init__(self, parameter: str, problem: str):
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")


class Args(Protocol):
    """Query arguments: a werkzeug MultiDict, or any mapping of name -> str | list[str]."""

    def get(self, key: str, /) -> Any: ...


def _values(args: Args | Mapping[str, Any], name: str) -> list[str]:
    """Every value of a parameter, repeated or comma-separated, stripped, blanks dropped."""
    getlist = getattr(args, "getlist", None)
    if getlist is not None:
        raw: list[Any] = list(getlist(name))
    else:
        value = args.get(name)
        raw = [] if value is None else list(value) if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise FilterError(name, "must be text")
        out += [part.strip() for part in item.split(",") if part.strip()]
    return out


def _one(args: Args | Mapping[str, Any], name: str) -> str | None:
    values = _values(args, name)
    if len(values) > 1:
        raise FilterError(name, "give one value")
    return values[0] if values else None


def _choices(args: Args | Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    chosen = []
    by_lower = {a.lower(): a for a in allowed}
    for value in _values(args, name):
        canonical = by_lower.get(value.lower())
        if canonical is None:
            raise FilterError(name, f"unknown value '{value[:40]}' (one of {', '.join(allowed)})")
        if canonical not in chosen:
            chosen.append(canonical)
    return tuple(a for a in allowed if a in chosen)


# ASCII digits only: str.isdigit() and int() also take '²', '①' or '١٢' (the first two
# then fail in int(): a 500), and int() takes '1_000' and spaces.
_WHOLE = re.compile(r"[0-9]{1,12}")


def whole_number(name: str, value: str, low: int, high: int) -> int:
    """`value` as a whole number in low..high (FilterError naming `name` otherwise): the one
    number parser of the table's parameters, for the web pages and the API."""
    if not _WHOLE.fullmatch(value):
        raise FilterError(name, f"'{value[:40]}' is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise FilterError(name, f"must be between {low:,} and {high:,}")
    return number


def _int(args: Args | Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = _one(args, name)
    return None if value is None else whole_number(name, value, low, high)


def normalise_chrom(name: str) -> str | None:
    """'chr7' -> '7', 'chrM' / 'M' -> 'MT'; None when not a main chromosome."""
    bare = name[3:] if name.lower().startswith("chr") else name
    bare = bare.upper() if bare.lower() in ("x", "y", "m", "mt") else bare
    bare = "MT" if bare == "M" else bare
    return bare if bare in CHROMOSOMES else None


def chrom_spellings(chrom: str) -> list[str]:
    """Every way a VCF may spell a main chromosome (the table keeps the file's spelling)."""
    if chrom == "MT":
        return ["MT", "M", "chrM", "chrMT"]
    return [chrom, f"chr{chrom}"]


@dataclass(frozen=True)
class VariantFilter:
    """Filters combine with AND; the values of one filter with OR."""

    genes: tuple[str, ...] = ()  # exact names (any case); a trailing * makes a prefix
    regions: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    known: bool | None = None  # True: with an rsID; False: novel; None: both
    flags: tuple[str, ...] = ()  # any of these flags
    consequences: tuple[str, ...] = ()  # most severe consequence term
    chrom: str | None = None
    start: int | None = None  # 1-based, inclusive; needs chrom
    end: int | None = None

    # Query parameter names; the API uses the same.
    PARAMETERS = ("gene", "region", "class", "known", "flag", "consequence", "chrom", "start", "end")

    @classmethod
    def from_args(cls, args: Args | Mapping[str, Any]) -> VariantFilter:
        """Parse query arguments (unknown names are ignored); FilterError on a bad value."""
        genes = _values(args, "gene")
        if len(genes) > MAX_GENES:
            raise FilterError("gene", f"at most {MAX_GENES} names")
        for gene in genes:
            if not _GENE.match(gene):
                raise FilterError(
                    "gene", f"'{gene[:40]}' is not a gene name (letters, digits, . _ -; a trailing * for a prefix)"
                )
        known_value = (_one(args, "known") or "all").lower()
        if known_value not in ("known", "novel", "all"):
            raise FilterError("known", "one of known, novel, all")
        for term in _values(args, "consequence"):
            if not _TERM.match(term):
                raise FilterError("consequence", f"'{term[:40]}' is not an SO consequence term (e.g. missense_variant)")
        chrom_value = _one(args, "chrom")
        chrom = None
        if chrom_value is not None:
            chrom = normalise_chrom(chrom_value)
            if chrom is None:
                raise FilterError("chrom", f"'{chrom_value[:20]}' is not a chromosome (1-22, X, Y, MT)")
        start = _int(args, "start", 1, MAX_POSITION)
        end = _int(args, "end", 1, MAX_POSITION)
        if (start is not None or end is not None) and chrom is None:
            raise FilterError("start" if start is not None else "end", "a position range needs chrom")
        if start is not None and end is not None and end < start:
            raise FilterError("end", "must not be before start")
        return cls(
            genes=tuple(dict.fromkeys(genes)),
            regions=_choices(args, "region", REGIONS),
            classes=_choices(args, "class", VARIANT_CLASSES),
            known={"known": True, "novel": False, "all": None}[known_value],
            flags=_choices(args, "flag", FLAGS),
            consequences=_choices(args, "consequence", SEVERITY),
            chrom=chrom,
            start=start,
            end=end,
        )

    @property
    def empty(self) -> bool:
        return self == VariantFilter()

    def to_args(self) -> list[tuple[str, str]]:
        """The filter as query arguments (canonical: parsing them gives this filter back)."""
        args: list[tuple[str, str]] = []
        for name, values in (
            ("gene", self.genes),
            ("region", self.regions),
            ("class", self.classes),
            ("flag", self.flags),
            ("consequence", self.consequences),
        ):
            if values:
                args.append((name, ",".join(values)))
        if self.known is not None:
            args.append(("known", "known" if self.known else "novel"))
        if self.chrom is not None:
            args.append(("chrom", self.chrom))
        if self.start is not None:
            args.append(("start", str(self.start)))
        if self.end is not None:
            args.append(("end", str(self.end)))
        return args

    def slug(self) -> str:
        """The filter in a file name: 'gene-TP53.region-CDS_UTR', or 'all'."""
        parts = []
        for name, value in self.to_args():
            if name == "start":
                continue
            if name == "end":
                name, value = "to", value
            if name == "chrom" and self.start is not None:
                value = f"{value}_{self.start}"
            parts.append(f"{name}-{value.replace(',', '_').replace('*', 'x')}")
        text = ".".join(parts) or "all"
        return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:120]


@dataclass(frozen=True)
class PageRequest:
    offset: int = 0
    size: int = DEFAULT_PAGE_SIZE
    sort: str = "position"

    @classmethod
    def from_args(cls, args: Args | Mapping[str, Any], default_size: int = DEFAULT_PAGE_SIZE) -> PageRequest:
        """offset, size (capped at MAX_PAGE_SIZE), sort; or a `cursor` from a VariantPage."""
        sort = (_one(args, "sort") or "position").lower()
        if sort not in SORTS:
            raise FilterError("sort", f"one of {', '.join(SORTS)}")
        size = min(_int(args, "size", 1, MAX_PAGE_NUMBER) or default_size, MAX_PAGE_SIZE)
        cursor = _one(args, "cursor")
        if cursor is not None:
            return cls(offset=decode_cursor(cursor, sort), size=size, sort=sort)
        offset = _int(args, "offset", 0, MAX_OFFSET) or 0
        return cls(offset=offset, size=size, sort=sort)


def encode_cursor(offset: int, sort: str) -> str:
    return base64.urlsafe_b64encode(f"{sort}:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        raise FilterError("cursor", "not a cursor of this table") from None
    cursor_sort, _, number = text.partition(":")
    if cursor_sort != sort:
        raise FilterError("cursor", "not a cursor of this table and sort order")
    return whole_number("cursor", number, 0, MAX_OFFSET)


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


class ResultUnavailable(Exception):
    """The job's variant table cannot be read now; str() is for the user."""

    def __init__(self, reason: Literal["not_completed", "cold", "restoring", "no_table", "gone"], message: str):
        self.reason = reason
        super().__init__(message)


def readable(job: Job, need_vcf: bool = False) -> None:
    """Raise ResultUnavailable unless the job's variant table (and VCF) may be read now."""
    if job.deleting:
        raise ResultUnavailable("gone", "This job is being deleted.")
    if job.status != JobStatus.COMPLETED:
        raise ResultUnavailable("not_completed", "This job has no results to show.")
    if job.storage == Storage.ARCHIVED:
        raise ResultUnavailable(
            "cold", "The results of this job are in cold storage — upgrade to premium to restore them."
        )
    if job.storage == Storage.RESTORING:
        raise ResultUnavailable("restoring", "The results of this job are being restored from cold storage.")
    if not job.variants_key or (need_vcf and not job.result_key):
        raise ResultUnavailable(
            "no_table", "This job was annotated before the variant table existed; download the annotated VCF."
        )


# -- the local copy ----------------------------------------------------------------
@dataclass
class TableIndex:
    """What a local copy knows about its batches, loaded once per process."""

    batch_rows: np.ndarray  # rows per batch
    genes: list[str]  # every gene name, sorted
    gene_batches: list[np.ndarray]  # for genes[i]: the batches it occurs in
    first_gene_rows: np.ndarray  # rows whose first gene is genes[i]; last: rows with no gene
    batch_chroms: list[dict[str, tuple[int, int]]]  # per batch: chrom -> (min pos, max pos)
    position_sorted: bool
    metadata: dict[str, str]
    _upper: list[tuple[str, int]] = field(default_factory=list)  # (GENE NAME, index), sorted

    @property
    def total(self) -> int:
        return int(self.batch_rows.sum())

    def resolve_genes(self, patterns: tuple[str, ...]) -> list[int]:
        """Indices of the genes named (case-insensitive; 'BRCA*' = every name starting BRCA)."""
        if not self._upper:
            self._upper = sorted((g.upper(), i) for i, g in enumerate(self.genes))
        keys = [k for k, _ in self._upper]
        found: set[int] = set()
        for pattern in patterns:
            upper = pattern.upper()
            if upper.endswith("*"):
                stem = upper[:-1]
                lo = bisect.bisect_left(keys, stem)
                hi = bisect.bisect_left(keys, stem + "\U0010ffff")
            else:
                lo = bisect.bisect_left(keys, upper)
                hi = bisect.bisect_right(keys, upper)
            found.update(i for _, i in self._upper[lo:hi])
        return sorted(found)

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_rows": self.batch_rows.tolist(),
            "batch_chroms": [{c: list(r) for c, r in b.items()} for b in self.batch_chroms],
            "position_sorted": self.position_sorted,
            "metadata": self.metadata,
        }


def _decode_metadata(schema: pa.Schema) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in (schema.metadata or {}).items() if k.decode().startswith("gas.")}


def build_local_copy(parquet_path: Path, out_dir: Path) -> None:
    """Rewrite a downloaded Parquet result as `variants.arrow` (batches of BATCH_ROWS, LZ4,
    plus `_gene`: the index of each row's first gene in the sorted gene list, for sorting
    by gene), `genes.arrow` (gene -> batches, rows led by it) and `index.json`. Streams:
    one Parquet row group and one batch in memory at a time."""
    source = pq.ParquetFile(parquet_path)
    # Pass 1, one column: every gene name, for codes that sort.
    names: set[str] = set()
    for rg in range(source.num_row_groups):
        genes = source.read_row_group(rg, columns=["genes"]).column(0)
        names.update(pc.unique(pc.list_flatten(genes)).to_pylist())
    names.discard(None)
    gene_list = pa.array(sorted(names), pa.string())
    none_code = len(gene_list)
    gene_batches: list[list[int]] = [[] for _ in range(none_code)]
    first_rows = np.zeros(none_code + 1, dtype=np.int64)
    batch_rows: list[int] = []
    batch_chroms: list[dict[str, tuple[int, int]]] = []
    position_sorted = True
    last_key: tuple[str, int] | None = None
    seen_chroms: set[str] = set()

    base = source.schema_arrow
    # Tables written before the engine had known_source: the column, null (database-known
    # rows are then not told apart, as those jobs did not).
    old = "known_source" not in base.names
    if old:
        base = base.insert(base.get_field_index("rsid") + 1, pa.field("known_source", pa.string()))
    schema = base.append(pa.field("_gene", pa.int32(), nullable=False))
    options = ipc.IpcWriteOptions(compression="lz4")
    with ipc.new_file(str(out_dir / "variants.arrow"), schema, options=options) as writer:
        for batch in source.iter_batches(batch_size=BATCH_ROWS):
            n = batch.num_rows
            genes = batch.column("genes")
            first = pc.list_flatten(pc.list_slice(genes, 0, 1))
            first_parent = pc.list_parent_indices(pc.list_slice(genes, 0, 1)).to_numpy()
            codes = np.full(n, none_code, dtype=np.int32)
            codes[first_parent] = pc.index_in(first, value_set=gene_list).to_numpy(zero_copy_only=False)
            first_rows += np.bincount(codes, minlength=none_code + 1)
            batch_id = len(batch_rows)
            present = pc.index_in(pc.unique(pc.list_flatten(genes)), value_set=gene_list)
            for code in present.drop_null().to_pylist():
                gene_batches[code].append(batch_id)
            chroms: dict[str, tuple[int, int]] = {}
            chrom_col, pos_col = batch.column("chrom"), batch.column("pos")
            for chrom in pc.unique(chrom_col).to_pylist():
                stats = pc.min_max(pc.filter(pos_col, pc.equal(chrom_col, chrom)))
                chroms[chrom] = (int(stats["min"].as_py()), int(stats["max"].as_py()))
            batch_chroms.append(chroms)
            position_sorted, last_key = _still_sorted(position_sorted, last_key, seen_chroms, chrom_col, pos_col)
            batch_rows.append(n)
            columns = batch.columns
            if old:
                at = batch.schema.get_field_index("rsid") + 1
                columns = [*columns[:at], pa.nulls(n, pa.string()), *columns[at:]]
            writer.write_batch(pa.RecordBatch.from_arrays([*columns, pa.array(codes, pa.int32())], schema=schema))
    gene_table = pa.table(
        {
            "gene": gene_list,
            "batches": pa.array(gene_batches, pa.list_(pa.int32())),
            "first_rows": pa.array(first_rows[:none_code], pa.int64()),
        }
    )
    with ipc.new_file(str(out_dir / "genes.arrow"), gene_table.schema) as writer:
        writer.write_table(gene_table)
    index = TableIndex(
        batch_rows=np.asarray(batch_rows, dtype=np.int64),
        genes=[],
        gene_batches=[],
        first_gene_rows=first_rows,
        batch_chroms=batch_chroms,
        position_sorted=position_sorted,
        metadata=_decode_metadata(source.schema_arrow),
    )
    payload = index.to_json() | {"no_gene_rows": int(first_rows[none_code])}
    (out_dir / "index.json").write_text(json.dumps(payload))


def _still_sorted(
    sorted_so_far: bool, last: tuple[str, int] | None, seen: set[str], chrom: pa.Array, pos: pa.Array
) -> tuple[bool, tuple[str, int] | None]:
    """Whether the rows so far are in position order: each chromosome in one run, positions
    ascending within it (the order of a sorted VCF). `last` is the last (chrom, pos) seen."""
    if not sorted_so_far or len(chrom) == 0:
        return sorted_so_far, last
    encoded = pc.dictionary_encode(chrom)
    codes = encoded.indices.to_numpy()
    names = encoded.dictionary.to_pylist()
    positions = pos.to_numpy()
    starts = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1])
    ends = np.append(starts[1:], len(codes))
    run_names = [names[codes[s]] for s in starts]
    # Within a run positions ascend; a run continues the previous batch's chromosome or
    # starts one not seen before.
    steps = np.diff(positions)
    if np.any(steps[np.diff(codes) == 0] < 0):
        return False, last
    for k, name in enumerate(run_names):
        continues = k == 0 and last is not None and last[0] == name
        if continues:
            assert last is not None
            if positions[0] < last[1]:
                return False, last
        elif name in seen:
            return False, last
        seen.add(name)
    return True, (run_names[-1], int(positions[ends[-1] - 1]))


def _load_index(entry: Path) -> TableIndex:
    raw = json.loads((entry / "index.json").read_text())
    with ipc.open_file(pa.OSFile(str(entry / "genes.arrow"))) as reader:
        table = reader.read_all()
    first_rows = np.append(table.column("first_rows").to_numpy(), raw["no_gene_rows"]).astype(np.int64)
    return TableIndex(
        batch_rows=np.asarray(raw["batch_rows"], dtype=np.int64),
        genes=table.column("gene").to_pylist(),
        gene_batches=[np.asarray(b, dtype=np.int64) for b in table.column("batches").to_pylist()],
        first_gene_rows=first_rows,
        batch_chroms=[{c: (r[0], r[1]) for c, r in b.items()} for b in raw["batch_chroms"]],
        position_sorted=raw["position_sorted"],
        metadata=raw["metadata"],
    )


class ResultCache:
    """Local copies of Parquet results, one directory per job and ETag, at most `max_bytes`
    in total (least recently used first out; the entry just made always stays). Safe
    across processes: an entry is built under a file lock and renamed into place."""

    def __init__(self, root: Path, max_bytes: int):
        self.root = root
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)

    def entry_name(self, job: Job, etag: str) -> str:
        digest = hashlib.sha256(f"{job.variants_key}\0{etag}".encode()).hexdigest()[:16]
        return f"{job.job_id}-{digest}"

    def get(self, s3: Any, bucket: str, job: Job) -> Path:
        """The local copy of the job's current Parquet result (fetched and built if new)."""
        assert job.variants_key
        try:
            head = s3.head_object(Bucket=bucket, Key=job.variants_key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                raise ResultUnavailable("gone", "The variant table of this job is not there any more.") from None
            raise
        entry = self.root / self.entry_name(job, head["ETag"])
        if (entry / "index.json").exists():
            with contextlib.suppress(OSError):
                os.utime(entry)  # recently used
            return entry
        with self._lock(entry.name):
            if (entry / "index.json").exists():
                return entry
            work = self.root / f".build-{entry.name}-{uuid.uuid4().hex[:8]}"
            work.mkdir()
            try:
                parquet = work / "variants.parquet"
                # Exactly the version whose ETag names the entry, streamed to disk.
                body = s3.get_object(Bucket=bucket, Key=job.variants_key, IfMatch=head["ETag"])["Body"]
                with open(parquet, "wb") as out:
                    for chunk in body.iter_chunks(1 << 20):
                        out.write(chunk)
                build_local_copy(parquet, work)
                parquet.unlink()
                os.rename(work, entry)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        self._evict(keep=entry)
        return entry

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        with open(self.root / f".{name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _entries(self) -> list[tuple[float, int, Path]]:
        found = []
        for entry in self.root.iterdir():
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                size = sum(f.stat().st_size for f in entry.iterdir())
                found.append((entry.stat().st_mtime, size, entry))
            except FileNotFoundError:
                continue  # evicted meanwhile by another process
        return sorted(found, key=lambda item: item[0])

    def _evict(self, keep: Path) -> None:
        entries = self._entries()
        total = sum(size for _, size, _ in entries)
        for _, size, entry in entries:
            if total <= self.max_bytes:
                break
            if entry == keep:
                continue
            self._remove(entry)
            total -= size

    def _remove(self, entry: Path) -> None:
        # Rename first: a reader never sees a half-deleted entry (open files stay readable).
        doomed = self.root / f".gone-{entry.name}-{uuid.uuid4().hex[:8]}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(entry, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
        (self.root / f".{entry.name}.lock").unlink(missing_ok=True)

    def forget(self, job_id: str) -> None:
        """Drop every local copy of a job (deleted)."""
        for entry in self.root.glob(f"{job_id}-*"):
            if entry.is_dir():
                self._remove(entry)

    def size(self) -> int:
        return sum(size for _, size, _ in self._entries())


# -- reading a local copy ------------------------------------------------------------
class _Lru:
    """A small thread-safe LRU map (gunicorn's gthread workers share a process)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


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
        if filt.chrom is not None:
            names = set(chrom_spellings(filt.chrom))
            lo, hi = filt.start or 0, filt.end or MAX_POSITION
            for b, chroms in enumerate(self.index.batch_chroms):
                if keep[b]:
                    keep[b] = any(c in names and r[1] >= lo and r[0] <= hi for c, r in chroms.items())
        return np.flatnonzero(keep)

    def _gene_codes(self, filt: VariantFilter) -> list[int]:
        return self.index.resolve_genes(filt.genes)

    @staticmethod
    def filter_columns(filt: VariantFilter) -> list[str]:
        """The columns that the filters in use read."""
        in_use = {
            "genes": bool(filt.genes),
            "region": bool(filt.regions),
            "variant_class": bool(filt.classes),
            "rsid": filt.known is not None,
            "flags": bool(filt.flags),
            "consequence": bool(filt.consequences),
            "chrom": filt.chrom is not None,
            "pos": filt.chrom is not None,
        }
        return [column for column, used in in_use.items() if used]

    def mask(self, batch: pa.RecordBatch, filt: VariantFilter) -> np.ndarray:
        """Rows of the batch the filter keeps."""
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
        if filt.regions:
            keep &= one_of("region", filt.regions)
        if filt.classes:
            keep &= one_of("variant_class", filt.classes)
        if filt.known is not None:
            valid = pc.is_valid(batch.column("rsid")).to_numpy(zero_copy_only=False)
            keep &= valid if filt.known else ~valid
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
        return keep

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
                keep = self.mask(batch, filt)
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
                        local = np.flatnonzero(self.mask(reader.get_batch(b), filt))[skip : skip + wanted]
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
                            keep &= self.mask(batch, filt)
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
        column = "consequence" if sort == "consequence" else "qual"
        starts = np.concatenate([[0], np.cumsum(self.index.batch_rows)])
        keys: list[np.ndarray] = []
        ids: list[np.ndarray] = []
        with self._reader([*self.filter_columns(filt), column]) as reader:
            for b in self.candidate_batches(filt):
                batch = reader.get_batch(int(b))
                local = np.arange(batch.num_rows) if filt.empty else np.flatnonzero(self.mask(batch, filt))
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
        with self._reader([*COLUMNS, "record"]) as reader:
            for b in np.unique(batches):
                at = np.flatnonzero(batches == b)
                local = pa.array(ids[at] - starts[b], pa.int64())
                taken = reader.get_batch(int(b)).take(local).select([*COLUMNS, "record"]).to_pylist()
                for k, row in zip(at, taken, strict=True):
                    out[int(k)] = row
        return out

    def _rows(self, picks: list[tuple[int, np.ndarray]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        with self._reader([*COLUMNS, "record"]) as reader:
            for b, local in picks:
                if len(local):
                    taken = reader.get_batch(b).take(pa.array(local, pa.int64()))
                    rows += taken.select([*COLUMNS, "record"]).to_pylist()
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
            rank = {t: i for i, t in enumerate(SEVERITY)}
            self._term_counts = dict(sorted(totals.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
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
                    keep = self.mask(batch, filt)
                    if not keep.any():
                        continue
                    if not keep.all():
                        batch = batch.filter(pa.array(keep))
                yield batch.select(columns)


_ORDERS = _Lru(4)  # (table, filter, sort) -> row numbers in order; 8 bytes a matching row


_SEVERITY = pa.array(SEVERITY, pa.string())


def _sort_key(column: pa.Array, sort: str) -> np.ndarray:
    """A numeric key per row that ascends in `sort` order, empty values last."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    if sort == "consequence":
        rank = pc.fill_null(pc.index_in(column, value_set=_SEVERITY), len(SEVERITY))
        key = rank.to_numpy(zero_copy_only=False).astype(np.float64)
        key[pc.is_null(column).to_numpy(zero_copy_only=False)] = len(SEVERITY) + 1
        return key
    qual = column.to_numpy(zero_copy_only=False).astype(np.float64)  # null -> NaN: argsort puts it last
    return -qual if sort == "-qual" else qual


# -- formatting ----------------------------------------------------------------------
# A text cell a spreadsheet would run as a formula (OWASP, CSV injection): it starts with
# = + - @, a tab or a carriage return. Such cells get a leading ' (shown as text, the
# value after it intact); numeric columns are numbers and stay as they are, negatives too.
_FORMULA_START = r"^([=+\-@\t\r])"


def _text_columns(batch: pa.RecordBatch) -> list[pa.Array]:
    """Each column as text (lists joined with ',', numbers as text, formula-like text
    cells neutralised); nulls stay null and are written empty."""
    out = []
    for name in COLUMNS:
        column = batch.column(name)
        if name in LIST_COLUMNS:
            column = pc.binary_join(column, ",")
        if pa.types.is_string(column.type):
            column = pc.replace_substring_regex(column, _FORMULA_START, "'\\1", max_replacements=1)
        else:
            column = pc.cast(column, pa.string())
        out.append(column)
    return out


_NULL_IS_EMPTY = pc.JoinOptions(null_handling="replace", null_replacement="")


def tsv_bytes(batch: pa.RecordBatch) -> bytes:
    """The batch as TSV lines, built column-wise (no per-row Python): each line is one
    string of the joined array, so the array's data buffer is the text."""
    columns = _text_columns(batch)
    columns[-1] = pc.binary_join_element_wise(columns[-1], pa.scalar("\n"), "", options=_NULL_IS_EMPTY)
    lines = pc.binary_join_element_wise(*columns, "\t", options=_NULL_IS_EMPTY)
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    data = lines.buffers()[2]
    if data is None:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()


def csv_bytes(batch: pa.RecordBatch) -> bytes:
    """The batch as CSV rows (RFC 4180 quoting where needed; null as empty)."""
    table = pa.RecordBatch.from_arrays(_text_columns(batch), names=list(COLUMNS))
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return out.getvalue()


CONTENT_TYPES = {
    "tsv": "text/tab-separated-values; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "vcf": "text/plain; charset=utf-8",
}


# -- how many exports at once ---------------------------------------------------------
class ExportSlots:
    """At most `limit` exports streaming at once in this process: each holds a server
    thread and a few batches of memory for as long as its client takes to read."""

    def __init__(self, limit: int):
        self._free = threading.BoundedSemaphore(limit)

    def take(self, chunks: Iterator[bytes]) -> Iterator[bytes] | None:
        """`chunks` holding a slot until they end or are closed; None when every slot is taken."""
        if not self._free.acquire(blocking=False):
            return None
        return _Held(chunks, self._free.release)


class _Held:
    """An export's chunks and its slot: freed at the end, on an error or when the server
    closes the response (a client gone mid-way)."""

    def __init__(self, chunks: Iterator[bytes], release: Any):
        self._chunks = chunks
        self._release = release

    def __iter__(self) -> _Held:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            try:
                getattr(self._chunks, "close", lambda: None)()
            finally:
                release()


# -- the store -----------------------------------------------------------------------
class VariantStore:
    """Queries and exports of jobs' variant tables (one per process)."""

    def __init__(self, s3: Any, bucket: str, cache: ResultCache):
        self.s3 = s3
        self.bucket = bucket
        self.cache = cache
        self._tables = _Lru(8)  # entry -> LocalTable (its index in memory)
        self._counts = _Lru(32)  # (entry, filter) -> matches per batch / per gene

    def table(self, job: Job) -> LocalTable:
        readable(job)
        entry = self.cache.get(self.s3, job.result_bucket or self.bucket, job)
        table: LocalTable | None = self._tables.get(entry)
        if table is None:
            table = LocalTable(entry, _load_index(entry), self._counts)
            self._tables.put(entry, table)
        return table

    def query(self, job: Job, filt: VariantFilter, page: PageRequest) -> VariantPage:
        table = self.table(job)
        try:
            rows, matched = table.page(filt, page)
        except FileNotFoundError:  # evicted by another process between two reads: once more
            table = self.table(job)
            rows, matched = table.page(filt, page)
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
        )

    def term_counts(self, job: Job) -> dict[str, int]:
        """Rows per most severe consequence term present (the filter's choices)."""
        return self.table(job).term_counts()

    def export_name(self, job: Job, filt: VariantFilter, fmt: str) -> str:
        stem = job.name or job.input_file_name
        for suffix in (".vcf.gz", ".vcf"):
            stem = stem.removesuffix(suffix)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80] or "variants"
        return f"{stem}.{filt.slug()}.{fmt}"

    def export(self, job: Job, filt: VariantFilter, fmt: str) -> Iterator[bytes]:
        """The filtered rows as TSV or CSV (a header line, then one row per ALT), or as VCF
        (the annotated VCF's full header, then only the records with a matching ALT).

        Checks availability before the first byte (ResultUnavailable), then streams."""
        if fmt not in FORMATS:
            raise FilterError("format", f"one of {', '.join(FORMATS)}")
        readable(job, need_vcf=fmt == "vcf")
        table = self.table(job)
        if fmt == "vcf":
            return self._vcf(job, table, filt)
        return self._delimited(table, filt, fmt)

    def _delimited(self, table: LocalTable, filt: VariantFilter, fmt: str) -> Iterator[bytes]:
        header = ("\t" if fmt == "tsv" else ",").join(COLUMNS) + "\n"
        yield header.encode()
        encode = tsv_bytes if fmt == "tsv" else csv_bytes
        for batch in table.matching_batches(filt, list(COLUMNS)):
            yield encode(batch)

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
                    if raw.startswith(b"##INFO=<ID=CSQ,") and b"Format: " in raw:
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


MAX_CARRY = 1 << 20  # longest part of a line kept between chunks; a longer line streams through


class _Wanted:
    """The data lines to keep, pulled from ascending arrays of record indices as needed."""

    def __init__(self, records: Iterator[np.ndarray]):
        self._records = records
        self._pending = np.zeros(0, dtype=np.int64)
        self._highest = -1
        self._exhausted = False

    def below(self, end: int) -> np.ndarray:
        """The wanted line numbers before `end` not taken yet (taken now)."""
        while not self._exhausted and (self._pending.size == 0 or self._pending[-1] < end):
            nxt = next(self._records, None)
            if nxt is None:
                self._exhausted = True
                break
            # A record's ALTs may straddle two batches: each record once.
            nxt = nxt.astype(np.int64)
            nxt = nxt[nxt > self._highest]
            if nxt.size:
                self._highest = int(nxt[-1])
                self._pending = np.concatenate([self._pending, nxt])
        here = self._pending[self._pending < end]
        self._pending = self._pending[self._pending >= end]
        return here

    @property
    def done(self) -> bool:
        return self._exhausted and self._pending.size == 0


def select_vcf_records(chunks: Iterable[bytes], records: Iterator[np.ndarray]) -> Iterator[bytes]:
    """The header of a VCF streamed in `chunks`, then only its data lines whose 0-based
    index is in `records` (ascending arrays, as the table's batches give them).

    Memory stays bounded whatever the file's size: one chunk and at most MAX_CARRY of a
    line are held; a longer line is passed through or skipped piece by piece; reading
    stops once the last wanted line is out."""
    wanted = _Wanted(records)
    line_no = 0  # data lines seen
    in_header = True
    rest = b""  # the start of a line continued in the next chunk
    through: bool | None = None  # a line longer than MAX_CARRY under way: written or skipped

    def keep(line_start: bytes) -> bool:
        """Whether the line starting with these bytes is written (and count it)."""
        nonlocal in_header, line_no
        if in_header and line_start.startswith(b"#"):
            return True
        in_header = False
        line_no += 1
        return bool(wanted.below(line_no).size)

    for chunk in itertools.chain(_chunked(chunks), [None]):
        if chunk is None:  # the end: a last line without a newline
            if through:
                yield b"\n"
            if not rest:
                break
            chunk = b"\n"
        if through is not None:
            cut = chunk.find(b"\n")
            if through:
                yield chunk if cut < 0 else chunk[: cut + 1]
            if cut < 0:
                continue
            through, chunk = None, chunk[cut + 1 :]
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest += chunk
        else:
            text, rest = rest + chunk[: cut + 1], chunk[cut + 1 :]
            lines = text.split(b"\n")
            lines.pop()  # after the last newline
            if in_header:
                k = 0
                while k < len(lines) and lines[k].startswith(b"#"):
                    k += 1
                if k:
                    yield b"\n".join(lines[:k]) + b"\n"
                if k < len(lines):
                    in_header = False
                lines = lines[k:]
            if lines:
                here = wanted.below(line_no + len(lines)) - line_no
                line_no += len(lines)
                if here.size:
                    yield b"\n".join(lines[int(i)] for i in here) + b"\n"
        if len(rest) > MAX_CARRY:
            through = keep(rest)
            if through:
                yield rest
            rest = b""
        if not through and not in_header and wanted.done:
            break


def _chunked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:
            yield chunk


def _locate(counts: np.ndarray, offset: int) -> tuple[int, int]:
    """The group (batch, gene) holding match number `offset` of groups with these match
    counts, and how many of its matches come before it."""
    before = np.concatenate([[0], np.cumsum(counts)])
    group = int(np.searchsorted(before, offset, side="right") - 1)
    return group, offset - int(before[group])
