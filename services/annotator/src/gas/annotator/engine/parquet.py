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

TABLE_SCHEMA_VERSION = "1"  # columns are only appended: readers look them up by name
DICTIONARY_COLUMNS = (
    "chrom",
    "filter",
    "genes",
    "gene_types",
    "region",
    "nearest_gene",
    "flags",
    "variant_class",
    "tstv",
    "known_source",
    "consequence",
    "consequences",
    "impact",
    "diseases",
)
SCHEMA = pa.schema(
    [
        pa.field("record", pa.int64(), nullable=False),
        pa.field("chrom", pa.string(), nullable=False),
        pa.field("pos", pa.int64(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("rsid", pa.string()),
        pa.field("known_source", pa.string()),  # database, file (an rsID in column 3) or both
        pa.field("ref", pa.string(), nullable=False),
        pa.field("alt", pa.string(), nullable=False),
        pa.field("qual", pa.float64()),
        pa.field("filter", pa.string(), nullable=False),
        pa.field("genes", pa.list_(pa.string()), nullable=False),
        pa.field("gene_types", pa.list_(pa.string()), nullable=False),
        pa.field("region", pa.string()),
        pa.field("nearest_gene", pa.string()),
        pa.field("nearest_distance", pa.int64()),
        pa.field("flags", pa.list_(pa.string()), nullable=False),
        pa.field("variant_class", pa.string()),
        pa.field("tstv", pa.string()),
        pa.field("consequence", pa.string()),
        pa.field("consequences", pa.list_(pa.string()), nullable=False),
        # Bundles only (null for genes-only databases): the picked transcript consequence of
        # this ALT and every transcript consequence as a CSQ entry (docs/annotation-engine.md).
        pa.field("impact", pa.string()),
        pa.field("symbol", pa.string()),
        pa.field("transcript", pa.string()),
        pa.field("hgvsc", pa.string()),
        pa.field("hgvsp", pa.string()),
        pa.field("amino_acids", pa.string()),
        pa.field("transcript_consequences", pa.list_(pa.string())),
        # Gene and disease context (gas.core.phenotypes, docs/annotation-engine.md): the OMIM/
        # Orphanet ids of the diseases of the row's genes, and the HPO terms annotated to them.
        pa.field("diseases", pa.list_(pa.string()), nullable=False),
        pa.field("phenotype_count", pa.int64()),
    ]
)
BUNDLE_COLUMNS = ("impact", "symbol", "transcript", "hgvsc", "hgvsp", "amino_acids", "transcript_consequences")


class VariantsWriter:
    """A Parquet file written one record batch (row group) at a time."""

    def __init__(self, path: Path, metadata: dict[str, str], extra: list[Any] | None = None):
        import pyarrow.parquet as pq  # imported when the first rows arrive: keeps start-up short

        self.path = path
        # extra: nullable columns appended by annotation sources (sources.table_fields).
        schema = pa.schema([*SCHEMA, *(extra or [])])
        self.schema = schema.with_metadata({**metadata, "gas.table_schema": TABLE_SCHEMA_VERSION})
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
