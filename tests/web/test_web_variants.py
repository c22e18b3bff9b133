"""gas.web.variants: filter parsing, and pages, counts and exports of a real Parquet table
(through its local copy) checked row for row against a plain-Python reference filter."""

from __future__ import annotations

import csv
import io
import itertools
import random

import numpy as np
import pytest
from results_support import expected_rows, make_result

from gas.web import variants as V
from gas.web.variants import (
    COLUMNS,
    MAX_PAGE_SIZE,
    FilterError,
    LocalTable,
    PageRequest,
    VariantFilter,
    build_local_copy,
    select_vcf_records,
)
from gas.web.variants import cache as variant_cache
from gas.web.variants import export as variant_export


# -- parsing -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ({"gene": "TP 53"}, "gene"),
        ({"gene": "<script>"}, "gene"),
        ({"gene": ",".join(f"G{i}" for i in range(101))}, "gene"),
        ({"region": "exonic"}, "region"),
        ({"class": "SNP"}, "class"),
        ({"flag": "CPG,LOUD"}, "flag"),
        ({"known": "maybe"}, "known"),
        ({"consequence": "Missense Variant"}, "consequence"),
        ({"chrom": "chr99"}, "chrom"),
        ({"chrom": "1", "start": "-5"}, "start"),
        ({"chrom": "1", "start": "abc"}, "start"),
        ({"chrom": "1", "start": "500", "end": "100"}, "end"),
        ({"start": "100"}, "start"),
        ({"end": "100"}, "end"),
        ({"chrom": ["1", "2"]}, "chrom"),
    ],
)
def test_bad_filter_values_name_the_parameter(args, parameter):
    with pytest.raises(FilterError) as raised:
        VariantFilter.from_args(args)
    assert raised.value.parameter == parameter
    assert isinstance(raised.value, ValueError) and str(raised.value).startswith(parameter + ":")


@pytest.mark.parametrize(
    ("args", "parameter"),
    [({"sort": "ran dom"}, "sort"), ({"sort": "-genes"}, "sort"), ({"size": "0"}, "size"), ({"size": "x"}, "size"),
         ({"offset": "-1"}, "offset"),
     ({"cursor": "bm9wZQ"}, "cursor"), ({"cursor": V.encode_cursor(50, "gene")}, "cursor")],
)  # fmt: skip
def test_bad_page_values_name_the_parameter(args, parameter):
    with pytest.raises(FilterError) as raised:
        PageRequest.from_args(args)
    assert raised.value.parameter == parameter


def test_filters_parse_canonically_and_round_trip():
    f = VariantFilter.from_args(
        {
            "gene": ["tp53, BRCA*", "TP53"],
            "region": "cds,UTR",
            "class": "snv",
            "known": "Novel",
            "flag": ["REPEAT", "CPG"],
            "chrom": "chr17",
            "start": "7500000",
            "end": "7700000",
            "ignored": "x",
        }
    )
    assert f.genes == ("tp53", "BRCA*", "TP53")
    assert f.regions == ("CDS", "UTR") and f.classes == ("SNV",) and f.flags == ("CPG", "REPEAT")
    assert f.known is False and f.chrom == "17" and (f.start, f.end) == (7_500_000, 7_700_000)
    assert VariantFilter.from_args(dict(f.to_args())) == f
    slug = "gene-tp53_BRCAx_TP53.region-CDS_UTR.class-SNV.flag-CPG_REPEAT.known-novel.chrom-17_7500000.to-7700000"
    assert f.slug() == slug
    assert VariantFilter.from_args({}).empty and VariantFilter().slug() == "all"
    assert VariantFilter.from_args({"chrom": "M"}).chrom == "MT"
    assert VariantFilter.from_args({"consequence": "5_prime_UTR_variant"}).consequences == ("5_prime_UTR_variant",)


def test_page_size_over_the_cap_is_capped_not_refused():
    assert PageRequest.from_args({"size": "100000"}).size == MAX_PAGE_SIZE
    page = PageRequest.from_args({"cursor": V.encode_cursor(150, "position"), "size": "25"})
    assert (page.offset, page.size, page.sort) == (150, 25, "position")


# -- a local copy ------------------------------------------------------------------------
def _table(tmp_path, result, batch_rows=37):
    """The local copy of `result`'s Parquet file, in small batches so pages cross them."""
    source = tmp_path / "in.parquet"
    source.write_bytes(result.parquet(row_group_rows=100))
    entry = tmp_path / "entry"
    entry.mkdir()
    original = variant_cache.BATCH_ROWS
    variant_cache.BATCH_ROWS = batch_rows
    try:
        build_local_copy(source, entry)
    finally:
        variant_cache.BATCH_ROWS = original
    return LocalTable(entry, variant_cache._load_index(entry), variant_cache._Lru(8))


def _all_pages(table, f, sort, size):
    rows, offset = [], 0
    while True:
        page, matched = table.page(f, PageRequest(offset=offset, size=size, sort=sort))
        rows += page
        offset += size
        if offset >= matched:
            return rows, matched


FILTERS = [
    VariantFilter(),
    VariantFilter(genes=("TP53",)),
    VariantFilter(genes=("tp53",)),
    VariantFilter(genes=("TP53*",)),
    VariantFilter(genes=("BRCA*", "EGFR")),
    VariantFilter(genes=("NOSUCHGENE",)),
    VariantFilter(regions=("CDS", "UTR")),
    VariantFilter(regions=("intergenic",), known=False),
    VariantFilter(classes=("INS",)),
    VariantFilter(known=True),
    VariantFilter(flags=("CPG", "BLACKLIST")),
    VariantFilter(consequences=("missense_variant",)),
    VariantFilter(chrom="17"),
    VariantFilter(chrom="2", start=30_000, end=200_000),
    VariantFilter(genes=("BRCA1",), regions=("CDS", "intron", "exon"), classes=("SNV",), chrom="1"),
    # gene and disease context (gas.web.phenotypes): an HPO term with its descendants, a
    # disease, the disease-genes switch, and with a gene filter
    VariantFilter(phenotype="HP:0001250"),  # Seizure
    VariantFilter(phenotype="ORPHA:145"),  # Hereditary breast and/or ovarian cancer syndrome
    VariantFilter(disease_genes=True),
    VariantFilter(genes=("TP53*",), disease_genes=True),
    VariantFilter(phenotype="HP:0002664", regions=("CDS",)),  # Neoplasm
]


@pytest.mark.parametrize("chr_prefix", [False, True])
def test_every_filter_and_sort_pages_through_exactly_the_reference_rows(tmp_path, chr_prefix):
    result = make_result(records=400, chr_prefix=chr_prefix)
    table = _table(tmp_path, result)
    assert table.index.total == len(result.rows) and table.index.position_sorted
    assert len(table.index.batch_rows) > 10  # pages and counts cross batches
    for f, sort, size in itertools.product(FILTERS, ("position", "gene"), (7, 50)):
        want = expected_rows(result.rows, f, sort)
        got, matched = _all_pages(table, f, sort, size)
        assert matched == len(want), (f, sort)
        assert [r["record"] for r in got] == [r["record"] for r in want], (f, sort, size)
        assert [(r["alt"], r["genes"]) for r in got] == [(r["alt"], r["genes"]) for r in want]


def test_a_deep_page_and_a_page_past_the_end(tmp_path):
    result = make_result(records=400)
    table = _table(tmp_path, result)
    rows, matched = table.page(VariantFilter(), PageRequest(offset=401, size=5))
    assert [r.pop("row") for r in rows] == list(range(401, 406))  # the table's row numbers (genotypes)
    written = [{**dict.fromkeys(COLUMNS), **r} for r in result.rows[401:406]]  # columns it lacks: null
    assert matched == len(result.rows) and rows == written  # every column, as written
    assert set(rows[0]) == {*COLUMNS, "record"}
    rows, matched = table.page(VariantFilter(), PageRequest(offset=10_000, size=5))
    assert rows == [] and matched == len(result.rows)


def test_a_gene_filter_reads_only_the_batches_holding_the_gene(tmp_path):
    result = make_result(records=400)
    table = _table(tmp_path, result)
    batches = table.candidate_batches(VariantFilter(genes=("KRAS",)))
    holding = {i // 37 for i, r in enumerate(result.rows) if "KRAS" in r["genes"]}
    assert set(batches.tolist()) == holding and len(holding) < len(table.index.batch_rows)
    assert table.candidate_batches(VariantFilter(genes=("NOSUCHGENE",))).size == 0


def test_an_unsorted_vcf_is_said_so_and_pages_keep_file_order(tmp_path):
    result = make_result(records=200, shuffled=True)
    table = _table(tmp_path, result)
    assert not table.index.position_sorted
    got, _ = _all_pages(table, VariantFilter(chrom="1"), "position", 9)
    assert [r["record"] for r in got] == [r["record"] for r in expected_rows(result.rows, VariantFilter(chrom="1"))]


# -- exports ---------------------------------------------------------------------------
def _export_rows(table, f, fmt):
    encode = V.tsv_bytes if fmt == "tsv" else V.csv_bytes
    text = "".join(encode(b).decode() for b in table.matching_batches(f, list(COLUMNS)))
    if fmt == "tsv":
        return [line.split("\t") for line in text.splitlines()]
    return list(csv.reader(io.StringIO(text)))


def _as_text(row):
    def text(name):
        value = row.get(name)  # a column the rows lack (a bundle's): null
        if value is None:
            return ""
        if isinstance(value, list):
            return ",".join(value)
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    return [text(name) for name in COLUMNS]


@pytest.mark.parametrize("fmt", ["tsv", "csv"])
def test_delimited_exports_hold_exactly_the_filtered_rows(tmp_path, fmt):
    result = make_result(records=300)
    table = _table(tmp_path, result)
    for f in FILTERS:
        got = _export_rows(table, f, fmt)
        assert got == [_as_text(r) for r in expected_rows(result.rows, f)], f


@pytest.mark.parametrize("carry", [variant_export.MAX_CARRY, 16])
def test_vcf_export_keeps_the_header_and_only_matching_records(tmp_path, monkeypatch, carry):
    # carry 16: every line is longer than what is kept of a line, so each streams through.
    monkeypatch.setattr(variant_export, "MAX_CARRY", carry)
    result = make_result(records=300)
    table = _table(tmp_path, result)
    vcf_lines = result.vcf_lines()
    header = [line for line in result.vcf.decode().splitlines() if line.startswith("#")]
    for f in FILTERS:
        records = (np.unique(b.column("record").to_numpy()) for b in table.matching_batches(f, ["record"]))
        # Chunks cut anywhere, as S3 streams them.
        data = result.vcf
        cuts = sorted(random.Random(1).sample(range(1, len(data)), 40))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        text = b"".join(select_vcf_records(chunks, records)).decode()
        lines = text.splitlines()
        want = sorted({r["record"] for r in expected_rows(result.rows, f)})
        assert lines[: len(header)] == header
        assert lines[len(header) :] == [vcf_lines[i] for i in want], f


def test_vcf_export_stops_reading_after_the_last_match():
    """A filter matching the first record reads no further than its chunk (S3 stream)."""
    read = []

    def chunks():
        yield b"##fileformat=VCFv4.2\n#CHROM\tPOS\n1\t5\n1\t6\n"
        for n in range(1000):
            read.append(n)
            yield b"1\t7\n" * 1000

    out = b"".join(select_vcf_records(chunks(), iter([np.array([1])])))
    assert out == b"##fileformat=VCFv4.2\n#CHROM\tPOS\n1\t6\n" and len(read) <= 1


def test_export_names_say_job_and_filter(tmp_path):
    from jobs_support import new_job

    store = V.VariantStore(None, "results", V.ResultCache(tmp_path, 1 << 30))
    job = new_job("u1", "premium_2.vcf")
    f = VariantFilter(genes=("TP53",), regions=("CDS",))
    assert store.export_name(job, f, "tsv") == "premium_2.gene-TP53.region-CDS.tsv"
    assert store.export_name(job.replace(name="Trio / proband #2"), VariantFilter(), "vcf") == "Trio_proband_2.all.vcf"


def test_a_table_written_before_known_source_reads_with_it_null(tmp_path):
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    from gas.annotator.engine.parquet import SCHEMA

    result = make_result(records=40)
    old_schema = pa.schema([f for f in SCHEMA if f.name != "known_source"])
    rows = [{k: v for k, v in row.items() if k != "known_source"} for row in result.rows]
    pq.write_table(pa.Table.from_pylist(rows, schema=old_schema), tmp_path / "old.parquet")
    V.build_local_copy(tmp_path / "old.parquet", tmp_path)
    table = ipc.open_file(pa.OSFile(str(tmp_path / "variants.arrow"))).read_all()
    assert table.column("known_source").null_count == table.num_rows == len(rows)
    assert table.column("rsid").to_pylist() == [row["rsid"] for row in rows]


def test_the_webs_severity_order_is_the_engines():
    from gas.core.vocab import SEVERITY

    assert V.SEVERITY == tuple(term for term, _ in SEVERITY)


@pytest.mark.parametrize("sort", ["consequence", "qual", "-qual"])
@pytest.mark.parametrize("filt", [VariantFilter(), VariantFilter(genes=("TP53", "BRCA*")), VariantFilter(chrom="17")])
def test_column_sorts_page_through_the_reference_order(tmp_path, sort, filt):
    """Sorted pages, first to last and a deep one, equal the reference sort (stable: file
    order within ties) over more rows than one batch."""
    result = make_result(records=2400, seed=5)
    parquet = tmp_path / "v.parquet"
    parquet.write_bytes(result.parquet(row_group_rows=700))
    variant_cache.BATCH_ROWS, old = 512, variant_cache.BATCH_ROWS
    try:
        build_local_copy(parquet, tmp_path)
    finally:
        variant_cache.BATCH_ROWS = old
    table = LocalTable(tmp_path, variant_cache._load_index(tmp_path), variant_cache._Lru(4))
    want = [(r["record"], r["alt"]) for r in expected_rows(result.rows, filt, sort)]
    got = []
    offset = 0
    while True:
        rows, matched = table.page(filt, PageRequest(offset=offset, size=137, sort=sort))
        assert matched == len(want)
        if not rows:
            break
        got += [(r["record"], r["alt"]) for r in rows]
        offset += 137
    assert got == want
    deep, _ = table.page(filt, PageRequest(offset=len(want) - 3, size=50, sort=sort))
    assert [(r["record"], r["alt"]) for r in deep] == want[-3:]
    assert set(deep[0]) == {*COLUMNS, "record", "row"}


def test_consequence_filter_takes_so_terms_in_any_case_and_refuses_others():
    assert VariantFilter.from_args({"consequence": "STOP_GAINED,missense_variant"}).consequences == (
        "stop_gained",
        "missense_variant",
    )
    for bad in ("3 prime UTR variant", "made_up_variant"):
        with pytest.raises(FilterError) as raised:
            VariantFilter.from_args({"consequence": bad})
        assert raised.value.parameter == "consequence"
