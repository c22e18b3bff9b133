"""The variants table's Parquet writer (engine/pqwrite.py, decision 135) against Arrow's
ParquetWriter as the engine used it before (bench/parquet_encoder.py's ArrowFile, the peer):
``gas-annotate`` run with each on the same input must give tables that read back equal, with
the same key-value metadata, row groups and min/max statistics; arrays of every kind the
writer takes read back as written; malformed arrays are refused in C."""

from __future__ import annotations

import ctypes
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sources_gen import make_inputs, sources_file

from gas.annotator.engine import textops
from gas.annotator.engine.pqwrite import ParquetFile

BENCH = Path(__file__).resolve().parents[2] / "bench"
SAMPLES = ("test.vcf", "premium_1.vcf", "premium_2.vcf", "free_1.vcf")
# gas-annotate with Arrow's writer in place of pqwrite's (the same batches reach it).
WITH_ARROW = f"""
import sys
sys.path.insert(0, {str(BENCH)!r})
from parquet_encoder import ArrowFile
from gas.annotator.engine import parquet
parquet.ParquetFile = lambda path, schema, dictionary, statistics, delta, created_by: ArrowFile(
    path, schema, dictionary, statistics
)
from gas.annotator.engine.cli import main
sys.exit(main(sys.argv[1:]))
"""


def annotate_both(vcf: Path, out: Path, *args: str | Path) -> tuple[Path, Path]:
    """The variants tables gas-annotate writes for vcf: with pqwrite, and with Arrow's writer."""
    tables = []
    for name, command in (("gas", ["-m", "gas.annotator.engine.cli"]), ("arrow", ["-c", WITH_ARROW])):
        argv = [sys.executable, *command, str(vcf), "-o", str(out / name), *map(str, args)]
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        (table,) = (out / name).glob("*.variants.parquet")
        tables.append(table)
    return tables[0], tables[1]


def assert_same_table(new: Path, peer: Path) -> None:
    a, b = pq.ParquetFile(new), pq.ParquetFile(peer)
    assert a.read().equals(b.read())
    assert a.schema.equals(b.schema)  # the Parquet schema: required/optional, LIST, STRING
    assert a.schema_arrow == b.schema_arrow
    assert a.metadata.metadata == b.metadata.metadata  # key-value: the engine's, the view, the schema version
    assert a.metadata.format_version == b.metadata.format_version == "2.6"
    assert a.metadata.created_by.startswith("GAS annotation engine version ")
    assert a.metadata.num_row_groups == b.metadata.num_row_groups
    for g in range(a.metadata.num_row_groups):
        ga, gb = a.metadata.row_group(g), b.metadata.row_group(g)
        assert ga.num_rows == gb.num_rows
        for c in range(ga.num_columns):
            ca, cb = ga.column(c), gb.column(c)
            delta = ca.path_in_schema in ("record", "pos")  # DELTA_BINARY_PACKED here, PLAIN in Arrow's
            assert ca.encodings == (("RLE", "DELTA_BINARY_PACKED") if delta else cb.encodings)
            assert ca.has_dictionary_page == cb.has_dictionary_page
            sa, sb = ca.statistics, cb.statistics
            assert (sa is None) == (sb is None), ga.column(c).path_in_schema
            if sa is not None:  # record, chrom, pos: what the web prunes row groups with
                assert (sa.min, sa.max, sa.null_count, sa.has_min_max) == (sb.min, sb.max, sb.null_count, True)
    # a reader's row-group filter on the statistics gets the same rows
    chrom = a.read_row_group(0).column("chrom")[0].as_py()
    where = [("chrom", "=", chrom), ("pos", ">", 1000)]
    assert pq.read_table(new, filters=where).equals(pq.read_table(peer, filters=where))


@pytest.mark.parametrize("sample", SAMPLES)
def test_gas_annotate_table_equals_arrows_writer(tmp_path, samples, db_dir, sample):
    args = ("--db-dir", db_dir, "--assembly", "GRCh37", "--allow-assembly-mismatch")
    assert_same_table(*annotate_both(samples / sample, tmp_path, *args))


def test_table_with_sources_columns_equals_arrows_writer(tmp_path, db_dir):
    files = make_inputs(tmp_path)
    new, peer = annotate_both(files["input"], tmp_path, "--sources", sources_file(tmp_path, files), "--db-dir", db_dir)
    extra = [f for f in pq.read_schema(new) if f.name == "clinvar_id" or f.type == pa.bool_()]
    assert extra, pq.read_schema(new)  # an int64 and a bool (a BED flag) column among them
    assert_same_table(new, peer)


def _random_batch(rng: random.Random, rows: int, offset: int) -> pa.RecordBatch:
    """Columns of every kind pqwrite writes, nulls and empty lists included, sliced so that the
    arrays start at an offset."""
    n = rows + offset

    def maybe(value, p=0.2):
        return None if rng.random() < p else value

    words = [f"w{k}" * rng.randint(1, 9) for k in range(300)]  # > 256: 9-bit indices
    text = ["".join(rng.choice("ACGT") for _ in range(rng.choice([0, 1, 3, 16, 17, 40]))) for _ in range(n)]
    big = [rng.choice([-(2**63), 2**63 - 1, 0, rng.randint(-(2**40), 2**40)]) for _ in range(n)]
    ascending = np.cumsum([rng.choice([0, 0, 1, 7, 1000]) for _ in range(n)]).tolist()
    columns = {
        "record": pa.array(ascending, pa.int64()),
        "big": pa.array([maybe(v) for v in big], pa.int64()),
        "delta_nulls": pa.array([maybe(v) for v in big], pa.int64()),
        "qual": pa.array([maybe(rng.random() * 100) for _ in range(n)], pa.float64()),
        "flag": pa.array([maybe(rng.random() < 0.5) for _ in range(n)], pa.bool_()),
        "text": pa.array([maybe(t) for t in text], pa.string()),
        "required_text": pa.array(text, pa.string()),
        "chrom": pa.array([maybe(rng.choice(words[:3]) if k % 50 else rng.choice(words)) for k in range(n)]),
        "coded": pa.DictionaryArray.from_arrays(
            pa.array([maybe(rng.randrange(len(words))) for _ in range(n)], pa.int32()), pa.array(words)
        ),
        "genes": pa.array(
            [maybe([maybe(rng.choice(words), 0.1) for _ in range(rng.choice([0, 1, 1, 2, 5]))]) for _ in range(n)],
            pa.list_(pa.string()),
        ),
        "required_list": pa.array(
            [[rng.choice(words)] * rng.choice([0, 1, 3]) for _ in range(n)], pa.list_(pa.string())
        ),
        "coded_list": pa.ListArray.from_arrays(
            pa.array(np.cumsum([0] + [rng.choice([0, 1, 2]) for _ in range(n)]), pa.int32()),
            pa.DictionaryArray.from_arrays(
                pa.array([rng.randrange(3) for _ in range(3 * n)], pa.int32()), pa.array(["a", "b", "c"])
            ),
        ),
        "all_null": pa.nulls(n, pa.string()),
        "null_lists": pa.nulls(n, pa.list_(pa.string())),
    }
    fields = [pa.field(k, v.type, nullable=not k.startswith(("required", "record"))) for k, v in columns.items()]
    batch = pa.RecordBatch.from_arrays(list(columns.values()), schema=pa.schema(fields))
    return batch.slice(offset, rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_kind_of_column_reads_back_as_written(tmp_path, seed):
    rng = random.Random(seed)
    batches = [_random_batch(rng, rows, rng.randint(0, 9)) for rows in (1, 7, 1000, 4096)]
    schema = batches[0].schema
    path = tmp_path / "t.parquet"
    writer = ParquetFile(path, schema, ("chrom",), ("record", "big", "qual", "chrom"), ("record", "delta_nulls"))
    for b in batches:
        writer.write(b)
    writer.close({"k": "v"})
    got = pq.read_table(path)
    want = pa.Table.from_batches(batches).cast(got.schema.with_metadata(None))  # coded columns: plain strings back
    assert got.equals(want)
    meta = pq.ParquetFile(path).metadata
    assert meta.metadata == {b"k": b"v"} and meta.num_rows == sum(b.num_rows for b in batches)
    for g, b in enumerate(batches):
        stats = meta.row_group(g).column(schema.get_field_index("big")).statistics
        big = [v for v in b.column("big").to_pylist() if v is not None]
        assert stats.null_count == b.num_rows - len(big) and stats.has_min_max == bool(big)
        assert not big or (stats.min, stats.max) == (min(big), max(big))


def _page(view: textops.PqColumn, rows: int) -> int:
    out = np.empty(1 << 20, np.uint8)
    return textops._native().gas_pq_page(view, rows, out.ctypes.data, out.size, ctypes.c_int64())


def test_malformed_arrays_are_refused_at_the_c_boundary():
    """gas_pq_page checks every offset and index against the sizes it is given; a column that
    does not hold what it claims is -1 (a ValueError in ParquetFile), never a read outside."""
    from gas.annotator.engine.pqwrite import _PQ_DELTA, _PQ_INDEX, _PQ_NUMBER, _PQ_STRING, _view

    strings = pa.array(["ab", "c", None, "def"])
    ok = _view(strings, _PQ_STRING, max_def=1)
    assert _page(ok, 4) > 0
    assert _page(ok, 5) == -1  # more rows than the offsets hold
    for name, value in [("offsets_size", 8), ("data_size", 2), ("valid_size", 0), ("offset", -1), ("kind", 9)]:
        bad = _view(strings, _PQ_STRING, max_def=1)
        setattr(bad, name, value)
        assert _page(bad, 4) == -1, name
    offsets = np.array([0, 2, 1, 3, 6], np.int32)  # decreasing: a string of length -1
    data = np.frombuffer(b"abcdef", np.uint8)
    broken = pa.Array.from_buffers(pa.string(), 4, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    assert _page(_view(broken, _PQ_STRING), 4) == -1
    long = pa.array(["ab", "c" * 97])  # kept alive: a view holds its buffers' addresses only
    past = _view(long, _PQ_STRING)
    past.data_size = 6
    assert _page(past, 2) == -1  # past the data
    required = _view(strings, _PQ_STRING, max_def=0)  # a null in a required column
    assert _page(required, 4) == -1
    codes = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2], pa.int32()), pa.array(["x", "y", "z"]))
    assert _page(_view(codes, _PQ_INDEX), 3) > 0
    short = _view(codes, _PQ_INDEX)
    short.dict_size = 2  # an index outside the dictionary
    assert _page(short, 3) == -1
    negative = pa.DictionaryArray.from_arrays(pa.array([0, -1], pa.int32()), pa.array(["x"]), safe=False)
    assert _page(_view(negative, _PQ_INDEX), 2) == -1
    lists = pa.array([["a"], [], ["b", "c"]], pa.list_(pa.string()))
    assert _page(_view(lists, _PQ_STRING, 2, items=True), 3) > 0
    down = pa.ListArray.from_buffers(
        pa.list_(pa.string()), 3, [None, pa.py_buffer(np.array([0, 2, 1, 3], np.int32))], children=[lists.values]
    )
    assert _page(_view(down, _PQ_STRING, 2, items=True), 3) == -1  # list offsets decreasing
    beyond = _view(lists, _PQ_STRING, 2, items=True)
    beyond.offsets_size = 8  # the items' offsets hold one item, the lists three
    assert _page(beyond, 3) == -1
    null_list = pa.array([["a"], None], pa.list_(pa.string()))
    assert _page(_view(null_list, _PQ_STRING, 2, items=True), 2) == -1  # a null list, required
    assert _page(_view(null_list, _PQ_STRING, 3, items=True), 2) > 0
    numbers = pa.array([1, 2, 3], pa.int64())
    for kind in (_PQ_NUMBER, _PQ_DELTA):
        view = _view(numbers, kind)
        view.data_size = 16  # two values, three rows
        assert _page(view, 3) == -1
    schema = pa.schema([pa.field("s", pa.string())])
    writer = ParquetFile(Path("/dev/null"), schema, (), ())
    with pytest.raises(ValueError, match="do not hold"):
        writer.write(pa.RecordBatch.from_arrays([broken], schema=schema))
    writer.abort()


def test_dictionary_codes_refuse_offsets_outside_the_data():
    lib = textops._native()
    offsets, data = np.array([0, 2, 9], np.int32), np.frombuffer(b"abc", np.uint8)
    codes, firsts, table = np.empty(2, np.int32), np.empty(2, np.int32), np.full(8, -1, np.int32)  # -1: empty
    args = (offsets.ctypes.data, offsets.nbytes, data.ctypes.data, data.size, None, 0, 0, 2, codes, codes.nbytes)
    assert lib.gas_pq_dict(*args, firsts, table, table.size) == -1
    offsets[2] = 3
    assert lib.gas_pq_dict(*args, firsts, table, table.size) == 2 and codes.tolist() == [0, 1]
    assert (table == -1).all()  # left empty for the next call
    assert lib.gas_pq_dict(*args, firsts, table, 2) == -1  # a table without room for every string
