"""Benchmark: the variants table's Parquet encoder (engine/pqwrite.py, decision 135) against
Arrow's ParquetWriter with the options the engine used before it (the peer), on the same
record batches, alternated in one process.

    .venv/bin/python bench/parquet_encoder.py TABLE.parquet [--repeats 5] [--workdir DIR]

TABLE is a job's variants table (``gas-annotate`` writes it); its row groups are read back
as the engine builds them (the coded columns as dictionary codes, parquet.BATCH_SCHEMA plus
any sources' columns) and written ``--repeats`` times by each writer. Prints each writer's
CPU time (this process's user + system: both write on the calling thread) beside the wall
time, the best and the median, the file sizes, and whether the files read back equal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gas.annotator.engine.parquet import BATCH_SCHEMA, CODED_COLUMNS, DICTIONARY_COLUMNS
from gas.annotator.engine.pqwrite import ParquetFile

STATISTICS, DELTA = ("record", "chrom", "pos"), ("record", "pos")


class ArrowFile:
    """pqwrite.ParquetFile's interface over Arrow's ParquetWriter, as parquet.VariantsWriter
    used it before decision 135 (pyarrow.parquet's defaults, zstd 1, dictionaries for the
    categorical columns, statistics on record/chrom/pos, no stored Arrow schema)."""

    def __init__(self, path: Path, schema: pa.Schema, dictionary: tuple[str, ...], statistics: tuple[str, ...]):
        leaves = [f"{f.name}.list.element" if pa.types.is_list(f.type) else f.name for f in schema]
        self.writer = pq.ParquetWriter(
            str(path),
            schema,
            compression="zstd",
            compression_level=1,
            use_dictionary=[leaf for f, leaf in zip(schema, leaves, strict=True) if f.name in dictionary],
            write_statistics=list(statistics),
            store_schema=False,
        )

    def write(self, batch: pa.RecordBatch) -> None:
        self.writer.write_table(pa.Table.from_batches([batch]))

    def close(self, key_value: dict[str, str]) -> None:
        self.writer.add_key_value_metadata(key_value)
        self.writer.close()


def engine_batches(table: Path) -> tuple[pa.Schema, list[pa.RecordBatch]]:
    """The table's row groups as the engine's batches: coded columns as dictionary codes."""
    source = pq.ParquetFile(table)
    extra = [f for f in source.schema_arrow if f.name not in BATCH_SCHEMA.names]
    schema = pa.schema([*BATCH_SCHEMA, *extra])
    batches = []
    for g in range(source.num_row_groups):
        t = source.read_row_group(g)
        columns: list[Any] = []
        for f in schema:
            c = t.column(f.name).combine_chunks()
            if f.name in CODED_COLUMNS:
                if pa.types.is_list(c.type):
                    c = pa.ListArray.from_arrays(c.offsets, c.values.dictionary_encode(), mask=c.is_null())
                else:
                    c = c.dictionary_encode()
            columns.append(c)
        batches.append(pa.RecordBatch.from_arrays(columns, schema=schema))
    return schema, batches


def write(writer: Any, batches: list[pa.RecordBatch]) -> tuple[float, float]:
    """(CPU, wall) seconds of writing the batches and closing the file."""
    cpu, wall = time.process_time(), time.perf_counter()
    for b in batches:
        writer.write(b)
    writer.close({"gas.bench": "1"})
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="pq-enc-"))
    work.mkdir(parents=True, exist_ok=True)
    schema, batches = engine_batches(args.table)
    rows = sum(b.num_rows for b in batches)
    print(f"{args.table}: {rows} rows, {len(batches)} row groups, {len(schema)} columns")
    paths = {"gas": work / "gas.parquet", "arrow": work / "arrow.parquet"}
    writers = {
        "gas": lambda: ParquetFile(paths["gas"], schema, DICTIONARY_COLUMNS, STATISTICS, DELTA, "GAS bench"),
        "arrow": lambda: ArrowFile(paths["arrow"], schema, DICTIONARY_COLUMNS, STATISTICS),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in writers}
    for k in range(args.repeats):
        for name, make in writers.items():
            cpu, wall = write(make(), batches)
            times[name].append((cpu, wall))
            print(f"  run {k + 1} {name:5s}: {cpu:.3f} s CPU, {wall:.3f} s wall")
    for name, runs in times.items():
        cpus, walls = [c for c, _ in runs], [w for _, w in runs]
        print(
            f"{name:5s}: CPU best {min(cpus):.3f} median {statistics.median(cpus):.3f} s"
            f" ({1e9 * statistics.median(cpus) / rows:.0f} ns/row), wall best {min(walls):.3f}"
            f" median {statistics.median(walls):.3f} s, {paths[name].stat().st_size} bytes"
        )
    gas, arrow = (statistics.median(c for c, _ in times[n]) for n in ("gas", "arrow"))
    print(f"gas / arrow CPU (medians): {gas / arrow:.2f} ({100 * (1 - gas / arrow):.0f}% less)")
    equal = pq.read_table(paths["gas"]).equals(pq.read_table(paths["arrow"]))
    print(f"read back equal: {equal}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
