"""The local copy of a job's Parquet result: whether it may be read, its fetch into a
bounded on-disk cache, its rewrite as Arrow batches with an index, and a small LRU."""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from gas.core.job_record import Job, JobStatus, Storage
from gas.core.vocab import TABLE_COLUMNS, TableColumn, TableSchemaError, check_table_schema

# Arrow's default allocator (mimalloc) keeps the pages it freed: building one local copy
# left a web worker ~150 MiB larger for good. The system allocator gives most of it back
# (measured with bench/results_table.py: worker peak 266 -> 215 MiB).
pa.set_memory_pool(pa.system_memory_pool())


BATCH_ROWS = 16_384  # rows per batch of the local copy


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
    # every GENE NAME sorted, and each one's index in `genes` (built on the first gene filter)
    _upper: tuple[list[str], list[int]] | None = None

    @property
    def total(self) -> int:
        return int(self.batch_rows.sum())

    def resolve_genes(self, patterns: tuple[str, ...]) -> list[int]:
        """Indices of the genes named (case-insensitive; 'BRCA*' = every name starting BRCA)."""
        if self._upper is None:
            pairs = sorted((g.upper(), i) for i, g in enumerate(self.genes))
            self._upper = [k for k, _ in pairs], [i for _, i in pairs]
        keys, indexes = self._upper
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
            found.update(indexes[lo:hi])
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


LOCAL_FORMAT = 3  # 2: the gene and disease context columns; 3: every vocab column, null-filled
_ARROW_TYPES = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}


def _vocab_field(column: TableColumn) -> pa.Field:
    value = _ARROW_TYPES[column.type]
    return pa.field(column.name, pa.list_(value) if column.list else value)


def build_local_copy(parquet_path: Path, out_dir: Path) -> None:
    """Rewrite a downloaded Parquet result as `variants.arrow` (batches of BATCH_ROWS, LZ4,
    plus `_gene`: the index of each row's first gene in the sorted gene list, for sorting
    by gene), `genes.arrow` (gene -> batches, rows led by it) and `index.json`. Streams:
    one Parquet row group and one batch in memory at a time."""
    source = pq.ParquetFile(parquet_path)
    check_table_schema(source.schema_arrow.metadata)  # TableSchemaError: a newer major version
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
    # Tables written before a column (the gene and disease context, a bundle's picked
    # consequence): that column, null, so old tables still open.
    missing = [_vocab_field(c) for c in TABLE_COLUMNS if c.name not in base.names]
    for f in missing:
        base = base.append(f)
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
            columns = [*columns, *(pa.nulls(n, f.type) for f in missing)]
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
        # LOCAL_FORMAT: a local copy made by older code (without columns added since) is not reused.
        digest = hashlib.sha256(f"{job.variants_key}\0{etag}\0{LOCAL_FORMAT}".encode()).hexdigest()[:16]
        return f"{job.job_id}-{digest}"

    @staticmethod
    def head(s3: Any, bucket: str, job: Job) -> dict[str, Any]:
        """The job's Parquet result's current version (ETag, ContentLength)."""
        assert job.variants_key
        try:
            head: dict[str, Any] = s3.head_object(Bucket=bucket, Key=job.variants_key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                raise ResultUnavailable("gone", "The variant table of this job is not there any more.") from None
            raise
        return head

    def ready(self, job: Job, head: dict[str, Any]) -> bool:
        """Whether this version's local copy is built (on this host)."""
        return (self.root / self.entry_name(job, head["ETag"]) / "index.json").exists()

    def get(self, s3: Any, bucket: str, job: Job, head: dict[str, Any] | None = None) -> Path:
        """The local copy of the job's current Parquet result (fetched and built if new)."""
        assert job.variants_key
        head = head or self.head(s3, bucket, job)
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
                try:
                    build_local_copy(parquet, work)
                except TableSchemaError as exc:
                    raise ResultUnavailable(
                        "no_table",
                        f"This release of GAS cannot read this job's variant table ({exc}); "
                        "download the annotated VCF.",
                    ) from None
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
