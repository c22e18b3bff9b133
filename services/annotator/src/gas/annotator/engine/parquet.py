"""The variants as Parquet: one row per record and ALT, one row group per block.

The schema is a contract with the web viewer (docs/annotation-engine.md): ``record`` is the
0-based index of the data line in the annotated VCF; ``consequence`` the most severe term of
this ALT, ``consequences`` all of its terms (severity order). The rows are built in
``output.variants_batch``.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pyarrow._compute import call_function

from gas.annotator.engine import arrowops as pc
from gas.annotator.engine.pqwrite import ParquetFile
from gas.core.vocab import TABLE_COLUMNS, TABLE_SCHEMA_KEY, TABLE_SCHEMA_VERSION, TABLE_VIEW_KEY

_TYPES = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}
# The columns and their kinds are the vocabulary's (gas.core.vocab.TABLE_COLUMNS).
SCHEMA = pa.schema(
    [
        pa.field(c.name, pa.list_(_TYPES[c.type]) if c.list else _TYPES[c.type], nullable=c.nullable)
        for c in TABLE_COLUMNS
    ]
)
# The categorical columns, written with a dictionary per row group (the lists among them are
# CODED_COLUMNS: their dictionary is the batch's).
DICTIONARY_COLUMNS = tuple(c.name for c in TABLE_COLUMNS if c.categorical)
# Columns the engine builds as codes into a small constant dictionary (decision 118): their
# Arrow type in the rows (BATCH_SCHEMA) is dictionary<int32, string>, which the Parquet writer
# writes as it is (no hashing of each value); the file stores no Arrow schema, so readers get
# SCHEMA's plain strings back.
CODED_COLUMNS = (
    *("known_source", "region", "variant_class", "tstv", "consequence"),
    *("flags", "gene_types", "consequences"),  # lists of codes
)
CODE_TYPE = pa.dictionary(pa.int32(), pa.string())
BATCH_SCHEMA = pa.schema(
    [
        f.with_type(pa.list_(CODE_TYPE) if pa.types.is_list(f.type) else CODE_TYPE) if f.name in CODED_COLUMNS else f
        for f in SCHEMA
    ]
)
_CHROM, _POS, _CONSEQUENCE, _IMPACT = (SCHEMA.get_field_index(c) for c in ("chrom", "pos", "consequence", "impact"))


class TableView:
    """What the web viewer's first page needs of the whole table (vocab.TABLE_VIEW_KEY, decision
    105), gathered as row groups are written so that no web host reads the whole file for it:
    rows, rows per most severe term (the consequence filter's choices), rows per picked IMPACT
    (a bundle's: the IMPACT filter's choices, decision 103) and whether the rows are in
    position order (each chromosome in one run, positions ascending: a sorted VCF)."""

    def __init__(self) -> None:
        self.rows = 0
        self.terms: dict[str, int] = {}
        self.impacts: dict[str, int] = {}
        self.position_sorted = True
        self._last: tuple[str, int] | None = None  # the last (chrom, pos) seen
        self._seen: set[str] = set()

    def add(self, chrom: pa.Array, pos: pa.Array, consequence: pa.Array, impact: pa.Array) -> None:
        self.rows += len(chrom)
        for column, totals in ((consequence, self.terms), (impact, self.impacts)):
            if column.null_count == len(column):  # genes-only: no IMPACT
                continue
            for term, n in pc.value_counts(column).items():
                totals[term] = totals.get(term, 0) + n
        if self.position_sorted and len(chrom):
            self.position_sorted = self._in_order(chrom, pos)

    def _in_order(self, chrom: pa.Array, pos: pa.Array) -> bool:
        encoded = call_function("dictionary_encode", [chrom])
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        names = encoded.dictionary.to_pylist()
        positions = pos.to_numpy(zero_copy_only=False)
        same = np.diff(codes) == 0
        if np.any(np.diff(positions)[same] < 0):
            return False
        for k, start in enumerate([0, *(np.flatnonzero(~same) + 1).tolist()]):
            name = names[codes[start]]
            if k == 0 and self._last is not None and self._last[0] == name:
                if positions[0] < self._last[1]:
                    return False
            elif name in self._seen:  # a chromosome met again after another
                return False
            self._seen.add(name)
        self._last = (names[codes[-1]], int(positions[-1]))
        return True

    def to_json(self) -> str:
        view = {"rows": self.rows, "position_sorted": self.position_sorted, "terms": self.terms}
        return json.dumps(view | {"impacts": self.impacts})


class VariantsWriter:
    """A Parquet file written one record batch (row group) at a time, on a thread of its own.

    Encoding and compressing a row group (``pqwrite.ParquetFile``: C without the GIL, ~0.25
    us of CPU per row) runs on its thread beside the next blocks' annotation instead of
    holding up the main thread, which writes the VCF in input order. The queue is bounded, so
    at most ``QUEUED`` blocks' rows wait in memory; an error on the thread is raised by the
    next ``write`` or by ``close``. ``prepare``, when given, finishes each batch on that thread
    before it is written (``output.with_gene_context``).
    """

    QUEUED = 2

    def __init__(
        self,
        path: Path,
        metadata: dict[str, str],
        extra: list[Any] | None = None,
        prepare: Callable[[pa.RecordBatch], pa.RecordBatch] | None = None,
    ):
        self.path = path
        # extra: nullable columns appended by annotation sources (sources.table_fields).
        self.schema = pa.schema([*BATCH_SCHEMA, *(extra or [])])
        # The file stores no Arrow schema (decision 118): the schema's metadata is written
        # into the file's key-value metadata by close, with the view.
        self.metadata = {**metadata, TABLE_SCHEMA_KEY: TABLE_SCHEMA_VERSION}
        # Dictionaries for the categorical columns only (cheaper, and smaller than everywhere);
        # min/max statistics where a reader prunes row groups: record, chrom, pos; the
        # ascending record and pos as deltas (decision 135).
        self.writer: ParquetFile | None = ParquetFile(
            path,
            self.schema,
            dictionary=DICTIONARY_COLUMNS,
            statistics=("record", "chrom", "pos"),
            delta=("record", "pos"),
            created_by=f"GAS annotation engine version {metadata.get('gas.engine_version', 'unknown')}",
        )
        self.rows = 0
        self.prepare = prepare
        self.view = TableView()
        self._queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(self.QUEUED)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_batches, name="variants-parquet", daemon=True)
        self._thread.start()

    def _write_batches(self) -> None:
        assert self.writer is not None
        while (batch := self._queue.get()) is not None:
            if self._error is None:  # after a failure, drain the queue so no put() blocks
                try:
                    self.writer.write(batch if self.prepare is None else self.prepare(batch))
                except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                    self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, batch: Any, first_record: int) -> None:
        """Queue a block's rows; ``first_record`` turns its local record index into the file's."""
        self._check()
        if batch is None or batch.num_rows == 0:
            return
        record = pc.add(batch.column(0), pa.scalar(first_record, pa.int64()))
        columns = [record] + [batch.column(i) for i in range(1, batch.num_columns)]
        self._queue.put(pa.RecordBatch.from_arrays(columns, schema=self.schema))
        self.rows += batch.num_rows
        self.view.add(batch.column(_CHROM), batch.column(_POS), batch.column(_CONSEQUENCE), batch.column(_IMPACT))

    def close(self) -> None:
        """Wait for the queued rows, close the file (with its footer unless the thread failed);
        raises the writing thread's error."""
        if self.writer is None:
            return
        self._queue.put(None)
        self._thread.join()
        writer, self.writer = self.writer, None
        if self._error is None:
            # In the footer, which a reader fetches first.
            writer.close({**self.metadata, TABLE_VIEW_KEY: self.view.to_json()})
        else:
            writer.abort()
        self._check()
