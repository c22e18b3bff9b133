"""Unfiltered pages of a finished job's table read straight from S3, before any local copy
exists (decision 105).

The engine writes what the first page needs of the whole table into the Parquet footer
(`gas.core.vocab.TABLE_VIEW_KEY`: rows, rows per most severe term, position order), and its
row groups are the VCF's blocks (the first one small). So the first open of a table reads
the footer and the row group(s) of the page's rows with ranged GETs — a few hundred KB of a
file of tens of MB — instead of fetching the file and building the local copy first; the
store then builds the local copy in the background for filters, sorts and exports.
A table written before the key (schema < 1.2) is not read here: the store builds its
local copy first, as before.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from prometheus_client import Counter

from gas.core.vocab import IMPACTS, TABLE_VIEW_KEY, TableSchemaError, check_table_schema
from gas.web.variants.cache import _Lru
from gas.web.variants.table import COLUMNS, column_kinds, order_terms, row_columns, source_columns

# Pages served, by where their rows came from: `storage` (ranged reads of the Parquet file,
# no local copy) or `local_copy`; and the bytes those ranged reads fetched.
PAGES = Counter("gas_web_table_pages_total", "Variant table pages served, by the source of their rows", ["source"])
STORAGE_BYTES = Counter(
    "gas_web_table_storage_read_bytes_total", "Bytes of Parquet tables read from S3 by ranged GETs for pages"
)
for _source in ("storage", "local_copy"):
    PAGES.labels(_source)


class S3RangeFile(io.RawIOBase):
    """One version (ETag) of an S3 object as a seekable file, each read a ranged GET. pyarrow
    reads a footer in one or two reads (the last 64 KiB, then the rest of a longer footer)
    and the columns of the row groups it is asked for in one read each (pre_buffer
    coalesces neighbouring column chunks)."""

    def __init__(self, s3: Any, bucket: str, key: str, etag: str, size: int):
        super().__init__()
        self.s3, self.bucket, self.key, self.etag, self.size = s3, bucket, key, etag, size
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self.size - self.position)
        if n <= 0:
            return 0
        data = self._get(self.position, n)
        view[: len(data)] = data
        self.position += len(data)
        return len(data)

    def _get(self, start: int, length: int) -> bytes:
        body = self.s3.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{start + length - 1}", IfMatch=self.etag
        )["Body"]
        data: bytes = body.read()
        STORAGE_BYTES.inc(len(data))
        return data


@dataclass
class StoredTable:
    """A table's footer, read from S3: its row groups, and the engine's view of the whole."""

    file: S3RangeFile
    metadata: pq.FileMetaData
    total: int
    position_sorted: bool
    terms: dict[str, int]

    def __post_init__(self) -> None:
        schema = self.metadata.schema.to_arrow_schema()
        gas = {k.decode(): v.decode() for k, v in (self.metadata.metadata or {}).items() if k.startswith(b"gas.")}
        self.source_columns = source_columns(schema, gas)  # a deployment's sources' columns
        self.impacts: dict[str, int] | None = None  # rows per picked IMPACT, when the engine counted them
        self.kinds = column_kinds(schema, self.source_columns)
        self.row_columns = row_columns(self.source_columns)
        groups = self.metadata.num_row_groups
        self.starts = np.cumsum([0] + [self.metadata.row_group(g).num_rows for g in range(groups)])
        self._lock = threading.Lock()  # one file position: one read at a time

    def rows(self, offset: int, size: int) -> list[dict[str, Any]]:
        """Rows offset .. offset+size in file order (the page's columns, `record` and `row`),
        reading only the row groups that hold them."""
        end = min(offset + size, self.total)
        if offset >= end:
            return []
        first = int(np.searchsorted(self.starts, offset, side="right") - 1)
        last = int(np.searchsorted(self.starts, end - 1, side="right") - 1)
        with self._lock:
            source = pq.ParquetFile(self.file, metadata=self.metadata, pre_buffer=True)
            part = source.read_row_groups(list(range(first, last + 1)), columns=self.row_columns)
        base = int(self.starts[first])
        rows: list[dict[str, Any]] = part.slice(offset - base, end - offset).to_pylist()
        for n, row in enumerate(rows):
            row["row"] = offset + n  # the table's row number, as a local copy's pages say
        return rows


def open_stored(s3: Any, bucket: str, key: str, head: dict[str, Any]) -> StoredTable | None:
    """The table's footer, or None when it has no view metadata (written before schema 1.2,
    or not by the engine) or lacks a page column: those tables are read from a local copy."""
    file = S3RangeFile(s3, bucket, key, head["ETag"], int(head["ContentLength"]))
    metadata = pq.read_metadata(file)
    raw = metadata.metadata or {}
    view = raw.get(TABLE_VIEW_KEY.encode())
    try:
        check_table_schema(raw)
    except TableSchemaError:
        return None  # the local copy's build says why, as for any table
    names = set(metadata.schema.to_arrow_schema().names)
    if view is None or not names.issuperset([*COLUMNS, "record"]):
        return None
    try:
        parsed = json.loads(view)
        total, position_sorted, terms = int(parsed["rows"]), bool(parsed["position_sorted"]), parsed["terms"]
        impacts = parsed.get("impacts")  # engines before it: None (counted from the local copy)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if total != metadata.num_rows or not isinstance(terms, dict):
        return None
    stored = StoredTable(
        file, metadata, total, position_sorted, order_terms({str(t): int(n) for t, n in terms.items()})
    )
    if isinstance(impacts, dict):
        stored.impacts = {i: int(impacts[i]) for i in IMPACTS if isinstance(impacts.get(i), int)}
    return stored


class StoredTables:
    """Footers read per process (a small LRU keyed by object and ETag)."""

    def __init__(self) -> None:
        self._tables = _Lru(16)

    def get(self, s3: Any, bucket: str, key: str, head: dict[str, Any]) -> StoredTable | None:
        cache_key = (bucket, key, head["ETag"])
        found = self._tables.get(cache_key)
        if found is None:
            found = open_stored(s3, bucket, key, head) or False  # False: not readable here, remembered
            self._tables.put(cache_key, found)
        return found or None
