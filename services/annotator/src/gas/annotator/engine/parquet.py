"""The variants as Parquet: one row per record and ALT, one row group per block.

The schema is a contract with the web viewer (docs/annotation-engine.md): ``record`` is the
0-based index of the data line in the annotated VCF; ``consequence`` the most severe term of
this ALT, ``consequences`` all of its terms (severity order). The rows are built in
``output.variants_batch``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from gas.annotator.engine import kernels as pc
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
    """A Parquet file written one record batch (row group) at a time."""

    def __init__(self, path: Path, metadata: dict[str, str], extra: list[Any] | None = None):
        import pyarrow.parquet as pq  # imported when the first rows arrive: keeps start-up short

        self.path = path
        # extra: nullable columns appended by annotation sources (sources.table_fields).
        schema = pa.schema([*SCHEMA, *(extra or [])])
        self.schema = schema.with_metadata({**metadata, TABLE_SCHEMA_KEY: TABLE_SCHEMA_VERSION})
        # Dictionaries for the categorical columns only (cheaper, and smaller than everywhere);
        # min/max statistics where a reader prunes row groups: record, chrom, pos.
        self.writer = pq.ParquetWriter(
            str(path),
            self.schema,
            compression="zstd",
            compression_level=1,
            use_dictionary=list(DICTIONARY_COLUMNS),
            write_statistics=["record", "chrom", "pos"],
        )
        self.rows = 0

    def write(self, batch: Any, first_record: int) -> None:
        """Write a block's rows; ``first_record`` turns its local record index into the file's."""
        if batch is None or batch.num_rows == 0:
            return
        record = pc.add(batch.column(0), pa.scalar(first_record, pa.int64()))
        columns = [record] + [batch.column(i) for i in range(1, batch.num_columns)]
        self.writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self.schema))
        self.rows += batch.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
