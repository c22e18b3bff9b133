"""The variants as Parquet: one row per record and ALT, one row group per block.

The schema is a contract with the web viewer (docs/annotation-engine.md): ``record`` is the
0-based index of the data line in the annotated VCF; ``consequence`` the most severe term of
this ALT, ``consequences`` all of its terms (severity order). The rows are built in
``output.variants_batch``.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa

from gas.annotator.engine import arrowops as pc
from gas.core.vocab import TABLE_COLUMNS, TABLE_SCHEMA_KEY, TABLE_SCHEMA_VERSION

_TYPES = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}
# The columns and their kinds are the vocabulary's (gas.core.vocab.TABLE_COLUMNS).
SCHEMA = pa.schema(
    [
        pa.field(c.name, pa.list_(_TYPES[c.type]) if c.list else _TYPES[c.type], nullable=c.nullable)
        for c in TABLE_COLUMNS
    ]
)
DICTIONARY_COLUMNS = tuple(c.name for c in TABLE_COLUMNS if c.categorical)


class VariantsWriter:
    """A Parquet file written one record batch (row group) at a time, on a thread of its own.

    Encoding and compressing a row group is C++ that releases the GIL (~0.5 us of CPU per
    row): on its thread it runs beside the next blocks' annotation instead of holding up the
    main thread, which writes the VCF in input order. The queue is bounded, so at most
    ``QUEUED`` blocks' rows wait in memory; an error on the thread is raised by the next
    ``write`` or by ``close``.
    """

    QUEUED = 2

    def __init__(self, path: Path, metadata: dict[str, str], extra: list[Any] | None = None):
        import pyarrow.parquet as pq  # imported when the first rows arrive: keeps start-up short

        self.path = path
        # extra: nullable columns appended by annotation sources (sources.table_fields).
        schema = pa.schema([*SCHEMA, *(extra or [])])
        self.schema = schema.with_metadata({**metadata, TABLE_SCHEMA_KEY: TABLE_SCHEMA_VERSION})
        # Dictionaries for the categorical columns only (cheaper, and smaller than everywhere);
        # min/max statistics where a reader prunes row groups: record, chrom, pos.
        self.writer: Any = pq.ParquetWriter(
            str(path),
            self.schema,
            compression="zstd",
            compression_level=1,
            use_dictionary=list(DICTIONARY_COLUMNS),
            write_statistics=["record", "chrom", "pos"],
        )
        self.rows = 0
        self._queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(self.QUEUED)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_batches, name="variants-parquet", daemon=True)
        self._thread.start()

    def _write_batches(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is None:  # after a failure, drain the queue so no put() blocks
                try:
                    self.writer.write_batch(batch)
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

    def close(self) -> None:
        """Wait for the queued rows, close the file; raises the writing thread's error."""
        if self.writer is None:
            return
        self._queue.put(None)
        self._thread.join()
        writer, self.writer = self.writer, None
        writer.close()
        self._check()
