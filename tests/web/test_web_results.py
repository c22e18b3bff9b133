"""The results pages over HTTP (Flask test client, moto server): summary charts, the
variant table and its exports, cold results, and who may see what."""

from __future__ import annotations

import csv
import io
import json
import re

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from results_support import BAD_FILTERS, expected_rows, make_result, store_result
from web_support import csrf_token

from gas.core.job_record import Storage
from gas.web.variants import COLUMNS, MAX_PAGE_SIZE, PROVENANCE, VariantFilter
from gas.web.variants import SEVERITY as V_SEVERITY


@pytest.fixture(scope="module")
def result():
    return make_result(records=800)


def _records(html: str) -> list[int]:
    return [int(r) for r in re.findall(r'<tr data-record="(\d+)">', html)]


def _matched(html: str) -> int:
    return int(re.search(r'data-matched="(\d+)"', html).group(1))


def test_job_page_draws_every_chart_with_its_numbers(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, name="premium_2.vcf")
    html = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    for key in ("regions", "consequences", "classes", "tstv", "known", "chromosomes", "genes", "flags"):
        assert f'id="chart-{key}"' in html and f'id="table-{key}"' in html, key
    assert "<svg" in html and "<script>" not in html  # server-side SVG, nothing inline to run
    regions = html.split('id="table-regions"')[1].split("</table>")[0]
    for name, count in result.summary["regions"].items():
        assert f'<th scope="row">{name}</th><td class="text-end">{count}</td>' in regions
    assert "GRCh37" in html and "GRCh37-v1" in html  # assembly and database version
    known = html.split('id="table-known"')[1].split("</table>")[0]
    labels = ("known: database", "known: rsID in the file", "known: both")
    for label, source in zip(labels, ("database", "file", "both"), strict=True):
        count = result.summary["known_sources"][source]
        assert count and f'<th scope="row">{label}</th><td class="text-end">{count}</td>' in known
    assert 'id="view-variants"' in html and 'id="download-input"' in html and 'id="rerun"' in html


def test_table_filters_count_and_pages_with_the_filter_in_the_url(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    url = f"/annotations/{job.job_id}/variants?gene=TP53&region=CDS,UTR,intron&size=20"
    html = c.get(url).get_data(as_text=True)
    want = expected_rows(result.rows, VariantFilter(genes=("TP53",), regions=("CDS", "UTR", "intron")))
    assert 20 < len(want) and _matched(html) == len(want)
    assert _records(html) == [r["record"] for r in want[:20]]
    assert f'Showing <strong>1–20</strong> of <strong id="matched">{len(want)}</strong>' in html
    # "Next" keeps the filter: the URL is the state (bookmarks, back button).
    nxt = re.search(r'href="([^"]+)" id="page-next"', html).group(1).replace("&amp;", "&")
    assert "gene=TP53" in nxt and "region=CDS%2CUTR%2Cintron" in nxt and "offset=20" in nxt
    html2 = c.get(nxt).get_data(as_text=True)
    assert _records(html2) == [r["record"] for r in want[20:40]]
    # Sorted by gene.
    html3 = c.get(f"/annotations/{job.job_id}/variants?sort=gene&size=50").get_data(as_text=True)
    assert _records(html3) == [r["record"] for r in expected_rows(result.rows, VariantFilter(), "gene")[:50]]


def test_page_size_over_the_cap_is_capped(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    resp = c.get(f"/annotations/{job.job_id}/variants?size=1000000")
    assert resp.status_code == 200 and len(result.rows) > MAX_PAGE_SIZE
    assert len(_records(resp.get_data(as_text=True))) == MAX_PAGE_SIZE


@pytest.mark.parametrize(
    ("query", "parameter"),
    BAD_FILTERS
    + [
        ("sort=size", "sort"),
        ("size=-3", "size"),
        ("offset=minus", "offset"),
    ],
)
def test_bad_filter_values_answer_400_naming_the_parameter(sign_in, web_aws, result, query, parameter):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    resp = c.get(f"/annotations/{job.job_id}/variants?{query}")
    assert resp.status_code == 400
    assert f'data-parameter="{parameter}"' in resp.get_data(as_text=True)
    if parameter not in ("sort", "size", "offset"):
        export = c.get(f"/annotations/{job.job_id}/variants.tsv?{query}")
        assert export.status_code == 400 and parameter in export.get_data(as_text=True)


def test_exports_stream_exactly_the_filtered_rows_named_after_job_and_filter(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, name="premium_2.vcf")
    f = VariantFilter(genes=("BRCA*",), known=False)
    want = expected_rows(result.rows, f)
    base = f"/annotations/{job.job_id}/variants"
    tsv = c.get(f"{base}.tsv?gene=BRCA*&known=novel")
    assert tsv.status_code == 200 and tsv.is_streamed
    assert tsv.headers["Content-Disposition"] == 'attachment; filename="premium_2.GRCh37-v1.gene-BRCAx.known-novel.tsv"'
    lines = tsv.get_data(as_text=True).splitlines()
    assert lines[0].split("\t") == [*COLUMNS, *PROVENANCE]
    assert [(x[0], int(x[1]), x[4], x[5]) for x in (line.split("\t") for line in lines[1:])] == [
        (r["chrom"], r["pos"], r["ref"], r["alt"]) for r in want
    ]
    rows = list(csv.reader(io.StringIO(c.get(f"{base}.csv?gene=BRCA*&known=novel").get_data(as_text=True))))
    assert rows[0] == [*COLUMNS, *PROVENANCE] and len(rows) == len(want) + 1
    assert [row[8] for row in rows[1:]] == [",".join(r["genes"]) for r in want]  # lists quoted, intact
    vcf = c.get(f"{base}.vcf?gene=BRCA*&known=novel")
    assert vcf.headers["Content-Disposition"].endswith('known-novel.vcf"')
    text = vcf.get_data(as_text=True).splitlines()
    header = [line for line in result.vcf.decode().splitlines() if line.startswith("#")]
    records = sorted({r["record"] for r in want})
    assert text == header + [result.vcf_lines()[i] for i in records]
    everything = c.get(f"{base}.tsv").get_data(as_text=True).splitlines()
    assert len(everything) == len(result.rows) + 1


def test_exports_name_the_database_and_its_sources_in_a_file_pandas_and_spreadsheets_read(sign_in, web_aws, result):
    """Issue 24: the download's name says the database; every row ends with the database and
    its sources (as the table's metadata, i.e. the VCF header, has them), plain columns that
    a CSV reader as strict as pandas' (pyarrow's: one header line, equal row lengths) takes."""
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, name="premium_2.vcf")
    table = pq.read_table(io.BytesIO(result.parquet()))
    added = [{"name": "gnomad", "kind": "vcf", "version": "4.1", "file": "gnomad.vcf.gz"}]
    meta = {b"gas.source": b"=annovar-20200608", b"gas.sources": json.dumps(added).encode()}
    out = io.BytesIO()
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, **meta}), out)
    web_aws.client("s3").put_object(Bucket=job.result_bucket, Key=job.variants_key, Body=out.getvalue())
    want = expected_rows(result.rows, VariantFilter(chrom="17"))
    # A source named like a formula stays text in a spreadsheet (a leading ').
    provenance = {"annotation_database": "GRCh37-v1", "annotation_sources": "'=annovar-20200608; gnomad 4.1"}
    for fmt, delimiter in (("tsv", "\t"), ("csv", ",")):
        got = c.get(f"/annotations/{job.job_id}/variants.{fmt}?chrom=17")
        assert got.status_code == 200
        assert got.headers["Content-Disposition"] == f'attachment; filename="premium_2.GRCh37-v1.chrom-17.{fmt}"'
        read = pacsv.read_csv(
            io.BytesIO(got.get_data()),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"' if fmt == "csv" else False),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(PROVENANCE, pa.string())),
        )
        assert read.column_names == [*COLUMNS, *PROVENANCE] and read.num_rows == len(want) > 10
        assert read.column("pos").to_pylist() == [r["pos"] for r in want]
        for name, value in provenance.items():
            assert set(read.column(name).to_pylist()) == {value}, (fmt, name)


def test_another_users_job_is_404_on_every_route(sign_in, web_aws, result):
    owner, owner_id = sign_in()
    job = store_result(web_aws, owner_id, result)
    other, _ = sign_in()
    base = f"/annotations/{job.job_id}"
    for path in (
        "/variants",
        "/variants.tsv",
        "/variants.csv",
        "/variants.vcf",
        "/input",
        "/variants?gene=x y",
        "/variants/0",
    ):
        assert other.get(base + path).status_code == 404, path
    token = csrf_token(other, "/annotations")
    for path in ("/delete", "/rerun"):
        assert other.post(base + path, data={"csrf_token": token}).status_code == 404, path
    assert owner.get(base).status_code == 200  # untouched
    assert owner.get(base + "/variants.tsv").status_code == 200


@pytest.mark.parametrize(("storage", "says"), [(Storage.ARCHIVED, "in cold storage"), (Storage.RESTORING, "restored")])
def test_a_cold_result_serves_nothing(sign_in, web_aws, result, storage, says):
    c, user_id = sign_in()
    # The hot objects are even still there: the record's storage alone decides.
    job = store_result(web_aws, user_id, result, storage=storage, archive_refs={"result_key": "s3-glacier:b/k"})
    base = f"/annotations/{job.job_id}"
    page = c.get(base + "/variants")
    assert page.status_code == 409 and says in page.get_data(as_text=True)
    assert "data-record" not in page.get_data(as_text=True)
    for fmt in ("tsv", "csv", "vcf"):
        resp = c.get(f"{base}/variants.{fmt}")
        assert resp.status_code == 409 and says in resp.get_data(as_text=True), fmt
    detail = c.get(f"{base}/variants/0")
    assert detail.status_code == 409 and says in detail.get_data(as_text=True)
    html = c.get(base).get_data(as_text=True)
    assert 'id="view-variants"' not in html and 'id="download"' not in html
    assert 'id="chart-regions"' in html  # the summary stays hot
    if storage == Storage.ARCHIVED:
        assert "in cold storage — upgrade to premium to restore them" in page.get_data(as_text=True)
        assert 'href="/subscribe"' in page.get_data(as_text=True)


def test_a_job_without_a_table_says_so(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, variants_key=None)
    resp = c.get(f"/annotations/{job.job_id}/variants")
    assert resp.status_code == 409 and "before the variant table existed" in resp.get_data(as_text=True)


# Cells a spreadsheet would run as formulas (issue 22): each written with a leading '.
FORMULAS = {
    "id": ['=HYPERLINK("http://evil.example/x","click")', "+1+cmd", "-2+3", "@SUM(A1:A9)"],
    "filter": ["=2+5"],
}


def test_csv_and_tsv_exports_neutralise_formulas_and_keep_numbers(sign_in, web_aws):
    result = make_result(records=40)
    lines = result.vcf_lines()
    patched = {}  # record -> (ID, FILTER)
    for k, ident in enumerate(FORMULAS["id"]):
        patched[k] = (ident, FORMULAS["filter"][0] if k == 0 else "PASS")
    for row in result.rows:
        if row["record"] in patched:
            row["id"], row["filter"] = patched[row["record"]]
            row["qual"], row["nearest_distance"] = -5.5, -300  # negative numbers stay numbers
    for record, (ident, filt) in patched.items():
        fields = lines[record].split("\t")
        fields[2], fields[6] = ident, filt
        lines[record] = "\t".join(fields)
    header = "".join(line + "\n" for line in result.vcf.decode().splitlines() if line.startswith("#"))
    result.vcf = (header + "\n".join(lines) + "\n").encode()
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    base = f"/annotations/{job.job_id}/variants"
    index = {name: COLUMNS.index(name) for name in ("id", "filter", "qual", "nearest_distance")}
    tsv = [line.split("\t") for line in c.get(f"{base}.tsv").get_data(as_text=True).splitlines()[1:]]
    rows = list(csv.reader(io.StringIO(c.get(f"{base}.csv").get_data(as_text=True))))[1:]
    for cells in (tsv, rows):
        by_id = {row[index["id"]]: row for row in cells}
        for ident in FORMULAS["id"]:
            row = by_id["'" + ident]  # the value intact after the quote
            assert row[index["qual"]] == "-5.5" and row[index["nearest_distance"]] == "-300"
        assert by_id["'" + FORMULAS["id"][0]][index["filter"]] == "'=2+5"
        numeric = {COLUMNS.index(name) for name in ("pos", "qual", "nearest_distance")}
        text = [cell for row in cells for k, cell in enumerate(row) if k not in numeric]
        assert not [cell for cell in text if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert {row[index["filter"]] for row in cells} == {"PASS", "LowQual", "'=2+5"}
    # The VCF export is the annotated VCF's own lines, unchanged.
    vcf = c.get(f"{base}.vcf").get_data(as_text=True).splitlines()
    assert [line for line in vcf if not line.startswith("#")] == lines


def test_a_45000_contig_summary_makes_a_small_job_page(sign_in, web_aws):
    """A summary written before the engine bounded it (issue 22: 45,000 contigs made a
    17.8 MB page with 45,021 bars): the chart shows the largest and one "other" bar."""
    from gas.web.charts import MAX_BARS

    result = make_result(records=40)
    contigs = {f"ctg{n}": 1 for n in range(45_000)} | {"1": 500, "X": 300}
    terms = {f"term_{n}": n for n in range(200)}
    result.summary |= {"contigs": contigs, "consequences": terms, "top_genes": [{"gene": "G", "variants": 1}] * 500}
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    page = c.get(f"/annotations/{job.job_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and len(html) < 200_000, len(html)
    chart = html.split('id="chart-chromosomes"')[1].split("</svg>")[0]
    assert chart.count('class="gas-bar"') == MAX_BARS + 1
    table = html.split('id="table-chromosomes"')[1].split("</table>")[0]
    rows = re.findall(r'<th scope="row">([^<]*)</th><td class="text-end">(\d+)</td>', table)
    assert rows[0] == ("1", "500") and rows[1] == ("X", "300")  # chromosome order, largest kept
    other = 45_002 - MAX_BARS
    assert rows[-1] == (f"other ({other:,} contigs)", str(other))  # the rest, one count each
    # The "other" bar lists every contig (tests/web/test_web_charts.py)
    assert f'href="/annotations/{job.job_id}/charts/chromosomes"><title>other ({other:,} contigs)' in html
    for key in ("consequences", "genes"):
        bars = html.split(f'id="chart-{key}"')[1].split("</svg>")[0].count('class="gas-bar"')
        assert bars <= MAX_BARS + 1, key


def test_the_engines_other_contigs_are_one_bar():
    from gas.web.charts import charts

    (chart,) = charts({"contigs": {"GL000192.1": 2, "1": 5}, "contigs_other": {"contigs": 7, "variants": 9}})
    assert chart.items == [("1", 5), ("GL000192.1", 2), ("other (7 contigs)", 9)]


def test_a_row_opens_its_detail_with_every_field_consequences_genotypes_and_links(sign_in, web_aws):
    result = make_result(records=120, seed=11, samples=5)
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result, assembly="GRCh38")
    table_url = f"/annotations/{job.job_id}/variants?size=50&offset=50"
    table = c.get(table_url).get_data(as_text=True)
    # Each row's position opens its detail, which leads back to this very page of the table.
    hrefs = re.findall(r'<a href="([^"]+)" class="gas-detail">', table)
    assert len(hrefs) == 50 and "offset%3D50" in hrefs[0]
    # Genes and rsIDs link out to a new tab, with no opener and no referrer.
    outs = re.findall(r"<a ([^>]*class=\"gas-out[^>]*)>", table)
    assert outs and all('target="_blank" rel="noopener noreferrer"' in a for a in outs)
    multi = next(
        r
        for r in result.rows
        if r["transcript_consequences"]
        and any(o["record"] == r["record"] and o["alt"] != r["alt"] for o in result.rows)
    )
    resp = c.get(f"/annotations/{job.job_id}/variants/{multi['record']}?back=" + table_url.replace("&", "%26"))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    rows = [r for r in result.rows if r["record"] == multi["record"]]
    assert re.findall(r'data-alt="([^"]+)"', html) == [r["alt"] for r in rows]  # every ALT
    for row in rows:  # every field of every row
        for name in ("record", "chrom", "pos", "ref", "alt", "filter", "region", "consequence"):
            assert f'<th scope="row" class="text-nowrap">{name}</th>' in html
        for entry in row["transcript_consequences"] or []:
            cells = "".join(f"<td>{cell}</td>" for cell in entry.split("|"))
            assert cells in html, entry  # split by the CSQ header's field names
    assert '<th scope="col">Allele</th><th scope="col">Consequence</th>' in html
    # The genotypes: as in the VCF line, every sample.
    line = result.vcf_lines()[multi["record"]].split("\t")
    for k, cell in enumerate(line[9:]):
        gt, dp = cell.split(":")
        assert f'<tr data-sample="S{k + 1}"><th scope="row">S{k + 1}</th><td>{gt}</td><td>{dp}</td></tr>' in html
    assert "Genotypes of 5 samples" in html
    # Links for the job's assembly, and back to the table page it came from.
    assert "db=hg38" in html and "dataset=gnomad_r4" in html and "db=hg19" not in html
    assert f'href="{table_url.replace("&", "&amp;")}" id="back-to-table"' in html
    # Anything but this job's table as `back` falls back to the table.
    evil = c.get(f"/annotations/{job.job_id}/variants/0?back=https://evil.example/").get_data(as_text=True)
    assert f'href="/annotations/{job.job_id}/variants" id="back-to-table"' in evil and "evil" not in evil
    # No such record, or a number past any table: 404.
    assert c.get(f"/annotations/{job.job_id}/variants/{len(result.vcf_lines())}").status_code == 404
    assert c.get(f"/annotations/{job.job_id}/variants/{10**15}").status_code == 404


def test_a_detail_without_samples_or_vcf_shows_the_table_fields(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    html = c.get(f"/annotations/{job.job_id}/variants/3").get_data(as_text=True)
    assert "Genotypes" not in html and "db=hg19" in html
    assert '<table class="table table-sm" id="vcf-fields"><tbody>\n  <tr><th scope="row">CHROM</th>' in html
    job2 = store_result(web_aws, user_id, result, result_key=None)
    html2 = c.get(f"/annotations/{job2.job_id}/variants/3").get_data(as_text=True)
    assert 'id="vcf-fields"' not in html2 and 'data-alt="' in html2


def test_column_sorts_page_numbers_sizes_and_the_terms_present(sign_in, web_aws, result):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    base = f"/annotations/{job.job_id}/variants"
    n = len(result.rows)
    html = c.get(base).get_data(as_text=True)
    # One total, said once.
    assert f'Showing <strong>1–50</strong> of <strong id="matched">{n:,}</strong>\n    variant alleles</p>' in html
    # Column headings sort; QUAL (once a 400) sorts highest first, then lowest first.
    href = re.search(r'href="([^"]+)" id="sort-qual"', html).group(1).replace("&amp;", "&")
    assert href.endswith("sort=-qual")
    page = c.get(href)
    assert page.status_code == 200
    assert _records(page.get_data(as_text=True)) == [
        r["record"] for r in expected_rows(result.rows, VariantFilter(), "-qual")[:50]
    ]
    up = c.get(f"{base}?sort=qual&consequence=intron_variant,stop_gained&size=100").get_data(as_text=True)
    filt = VariantFilter(consequences=("stop_gained", "intron_variant"))
    want = expected_rows(result.rows, filt, "qual")
    assert _records(up) == [r["record"] for r in want[:100]] and _matched(up) == len(want)
    assert f"matching variant alleles (of {n:,})" in up
    by_severity = c.get(f"{base}?sort=consequence").get_data(as_text=True)
    assert _records(by_severity) == [
        r["record"] for r in expected_rows(result.rows, VariantFilter(), "consequence")[:50]
    ]
    # Page numbers with first and last, and page sizes; each keeps filter and sort.
    pages = -(-n // 50)
    assert f'data-pages="{pages}"' in html and 'id="page-current">1<' in html
    last = re.search(r'href="([^"]+)" id="page-last"', html).group(1).replace("&amp;", "&")
    assert last.endswith(f"offset={(pages - 1) * 50}")
    tail = c.get(last).get_data(as_text=True)
    assert _records(tail) == [r["record"] for r in result.rows[(pages - 1) * 50 :]] and 'id="page-last"' not in tail
    three = re.search(r'href="([^"]+)" id="page-3"', html).group(1).replace("&amp;", "&")
    assert _records(c.get(three).get_data(as_text=True)) == [r["record"] for r in result.rows[100:150]]
    size = re.search(r'href="([^"]+)" id="size-100"', up).group(1).replace("&amp;", "&")
    assert "sort=qual" in size and "consequence=stop_gained%2Cintron_variant" in size
    for s in (50, 100, 500):
        assert f'id="size-{s}"' in html
    # The consequence filter lists the SO terms present with their rows, most severe first.
    present = {}
    for row in result.rows:
        if row["consequence"]:
            present[row["consequence"]] = present.get(row["consequence"], 0) + 1
    listed = re.findall(
        r'name="consequence" value="([^"]+)"[^>]*><label[^>]*>\1 <span class="text-muted small">([\d,]+)</span>', html
    )
    assert dict((t, int(k.replace(",", ""))) for t, k in listed) == present
    assert [t for t, _ in listed] == [t for t in V_SEVERITY if t in present]
    # Spelled as SO terms in the table too; a human spelling is a 400 that lists the terms.
    assert "intron variant" not in html and ">intron_variant</td>" in html
    bad = c.get(f"{base}?consequence=intron%20variant")
    assert bad.status_code == 400 and 'value="intron_variant"' in bad.get_data(as_text=True)
