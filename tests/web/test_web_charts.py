"""Charts that follow the variant table's filter, over HTTP (Flask test client, moto server):
the engine's own output for premium_1.vcf (3,000 records on 1-22 and X), the job page's
charts with the table's filter, each bar a link to the table, the "other" lists, checked
against the table's own exports of the same filter and against bcftools."""

from __future__ import annotations

import re
import subprocess
import urllib.parse
from collections import Counter

import pytest
from results_support import EngineResult, engine_result, make_result, store_result
from support import SAMPLES, needs_bcftools

from gas.web.charts import MAX_BARS
from gas.web.variants import VariantFilter, build_local_copy, facet_counts
from gas.web.variants.cache import _load_index, _Lru
from gas.web.variants.table import LocalTable

CHART_KEYS = ("regions", "variant_classes", "tstv", "known", "novel", "known_sources", "flags", "contigs")


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> EngineResult:
    # The file's header says NCBI36; its positions are GRCh37's (SAMPLES' README).
    out = tmp_path_factory.mktemp("charts") / "out"
    return engine_result(SAMPLES / "premium_1.vcf", out, allow_assembly_mismatch=True)


def _chart(html: str, key: str) -> dict[str, int]:
    table = html.split(f'id="table-{key}"')[1].split("</table>")[0]
    return {
        label: int(n) for label, n in re.findall(r'<th scope="row">([^<]*)</th><td class="text-end">(\d+)</td>', table)
    }


def _bars(html: str, key: str) -> list[tuple[str, str]]:
    """(title, href) of each linked bar of a chart."""
    svg = html.split(f'id="chart-{key}"')[1].split("</svg>")[0]
    return [(label, urllib.parse.unquote(href.replace("&amp;", "&"))) for href, label in
            re.findall(r'<a class="gas-bar" href="([^"]*)"><title>([^<]*)</title>', svg)]  # fmt: skip


def _export(client, job_id: str, query: str, fmt: str) -> list[list[str]]:
    resp = client.get(f"/annotations/{job_id}/variants.{fmt}?{query}")
    assert resp.status_code == 200
    lines = resp.get_data(as_text=True).splitlines()
    if fmt == "vcf":
        return [line.split("\t") for line in lines if not line.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:]]  # type: ignore[misc]


def _info(record: list[str]) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in record[7].split(";"))


def test_the_unfiltered_counts_of_the_table_are_the_engines_summary(engine, tmp_path):
    """The counts the charts draw for a filter, computed for no filter from the engine's
    Parquet table, are the engine's own summary figures, every chart."""
    build_local_copy(engine.parquet_path, tmp_path)
    computed = facet_counts(LocalTable(tmp_path, _load_index(tmp_path), _Lru(2)), VariantFilter()).summary()
    for key in (*CHART_KEYS, "consequences", "top_genes"):
        assert computed[key] == engine.summary[key], key
    assert sum(engine.summary["regions"].values()) > 2500 and len(engine.summary["consequences"]) >= 5


FILTERS = ["region=intron", "chrom=1", "class=SNV&known=novel", "consequence=upstream_gene_variant,intron_variant",
           "gene=A*", "flag=REPEAT&region=intergenic,intron", "where=pos<100000000&region=intron"]  # fmt: skip


@pytest.mark.parametrize("query", FILTERS)
def test_filtered_charts_count_the_rows_the_table_returns(sign_in, web_aws, engine, query):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine, name="premium_1.vcf")
    page = c.get(f"/annotations/{job.job_id}?{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = _export(c, job.job_id, query, "tsv")  # one per ALT
    records = _export(c, job.job_id, query, "vcf")  # the records with a matching ALT
    assert rows and f'data-rows="{len(rows)}"' in html and f'data-records="{len(records)}"' in html
    table = c.get(f"/annotations/{job.job_id}/variants?{query}").get_data(as_text=True)
    assert f'data-matched="{len(rows)}"' in table  # the table's own count
    # Per ALT: classes, known and novel.
    assert _chart(html, "classes") == {
        c: sum(1 for r in rows if r["variant_class"] == c) for c in _chart(html, "classes")
    }
    known = _chart(html, "known")
    assert known["novel"] == sum(1 for r in rows if not r["rsid"] and r["region"] and r["variant_class"])
    assert sum(n for label, n in known.items() if label != "novel") == sum(1 for r in rows if r["rsid"])
    # Also per ALT: regions, chromosomes, flags, the most severe consequence; with one ALT a
    # record here, the same as the annotated VCF's records say.
    infos = [_info(r) for r in records]
    regions = Counter(r["region"] for r in rows if r["region"])
    assert {k: v for k, v in _chart(html, "regions").items() if v} == dict(regions)
    assert dict(regions) == dict(Counter(i["REGION"] for i in infos if "REGION" in i))
    assert (
        _chart(html, "chromosomes") == dict(Counter(r["chrom"] for r in rows)) == dict(Counter(r[0] for r in records))
    )
    assert _chart(html, "flags") == {f: sum(1 for i in infos if f in i) for f in ("CPG", "REPEAT", "BLACKLIST")}
    severe = Counter(r["consequence"] for r in rows if r["consequence"])
    assert _chart(html, "consequences") == dict(severe)


def test_no_filter_draws_the_summary_and_each_bar_filters_the_table(sign_in, web_aws, engine):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine, name="premium_1.vcf")
    html = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert 'id="chart-filter"' not in html
    assert _chart(html, "regions") == engine.summary["regions"]
    # One ALT per record in this file: a bar's count (records or ALTs) is the table's rows.
    assert engine.summary["multiallelic_extra_alleles"] == 0
    for key, parameter, counts in (
        ("classes", "class", engine.summary["variant_classes"]),
        ("regions", "region", engine.summary["regions"]),
    ):
        shown = {k: v for k, v in counts.items() if v}  # an empty bar is no link
        bars = dict(_bars(html, key))
        assert bars == {
            f"{k}: {v:,}, filter the table": f"/annotations/{job.job_id}/variants?{parameter}={k}"
            for k, v in shown.items()
        }
        for (label, href), count in zip(bars.items(), [shown[label.split(":")[0]] for label in bars], strict=True):
            assert f'data-matched="{count}"' in c.get(href).get_data(as_text=True), label
    # A bar of a filtered chart narrows the filter: region intron and chromosome 2.
    html = c.get(f"/annotations/{job.job_id}?region=intron,UTR&known=novel").get_data(as_text=True)
    hrefs = dict(_bars(html, "chromosomes"))
    two = next(h for label, h in hrefs.items() if label.startswith("2: "))
    assert two == f"/annotations/{job.job_id}/variants?region=UTR,intron&known=novel&chrom=2"  # canonical order
    intron = dict(_bars(html, "regions"))[f"intron: {_chart(html, 'regions')['intron']:,}, filter the table"]
    assert intron == f"/annotations/{job.job_id}/variants?region=intron&known=novel"
    # No novel allele is known: of the known chart only the "novel" bar counts (and links).
    assert [label.split(":")[0] for label, _ in _bars(html, "known")] == ["novel"]
    # The table links back to the charts of its rows.
    table = c.get(f"/annotations/{job.job_id}/variants?region=intron").get_data(as_text=True)
    assert f'href="/annotations/{job.job_id}?region=intron#summary" id="charts-link"' in table


@pytest.mark.parametrize("query", ["", "region=intron&where=pos<100000000", "where=tstv=tv"])
def test_tstv_and_known_source_bars_are_links_to_their_rows(sign_in, web_aws, engine, query):
    """The ts/tv bars and the known chart's per-source bars link through where= conditions
    (tstv=ts, known_source=database): following each link gives a table of as many rows as
    the bar counts. The filter's own conditions stay; one on the bar's column is replaced."""
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine, name="premium_1.vcf")
    html = c.get(f"/annotations/{job.job_id}?{query}").get_data(as_text=True)
    followed = 0
    charts = {
        "tstv": ("transitions (ts)", "transversions (tv)"),
        "known": ("known: database", "known: rsID in the file", "known: both", "novel"),
    }
    for key, labels in charts.items():
        counts, bars = _chart(html, key), dict(_bars(html, key))
        assert set(counts) == set(labels)
        for label, count in counts.items():
            title = f"{label}: {count:,}, filter the table"
            if not count:
                assert title not in bars  # an empty bar opens no empty table
                continue
            href = bars[title]
            args = urllib.parse.parse_qsl(urllib.parse.urlsplit(href).query)
            if "where=pos<100000000" in query:
                assert ("where", "pos<100000000") in args and ("region", "intron") in args
            if key == "tstv" and "tstv=tv" in query:
                assert ("where", "tstv=tv") not in args or label.endswith("(tv)")  # replaced, not ANDed
            assert f'data-matched="{count}"' in c.get(href).get_data(as_text=True), (label, href)
            followed += 1
    assert followed >= 3  # at least one ts/tv bar, one source and "novel" in every filter here
    if not query:  # both kinds of SNV and a known source are in premium_1 (its rsIDs: "file")
        assert followed == 4 and engine.summary["known_sources"]["file"] > 0


# Beside premium_1: ALTs the engine leaves unannotated (past the end of GRCh37's chromosome 1,
# a contig it lacks), with and without the file's rsID, a database-known, a novel and a
# symbolic ALT (test_annotate.py: rs28396308 is 1:55545 C>T in the database), and two
# records of two ALTs (a splice donor's, one past chromosome 1's end).
OUTSIDE = (
    "1\t55545\t.\tC\tT\t.\tPASS\t.\n"
    "1\t249250700\trs1234567\tA\tG\t.\tPASS\t.\n"
    "1\t249250710\t.\tA\tT\t.\tPASS\t.\n"
    "GL000192.1\t100\trs7654321\tA\tG\t.\tPASS\t.\n"
    "NC_007605\t100\t.\tC\tT\t.\tPASS\t.\n"
    "2\t101087000\tmy_call\tA\tG\t.\tPASS\t.\n"
    "2\t101087000\trs5\tA\t<DEL>\t.\tPASS\t.\n"
    "2\t101087027\t.\tA\tG,T\t.\tPASS\t.\n"
    "1\t249250720\t.\tA\tG,C\t.\tPASS\t.\n"
)


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> EngineResult:
    work = tmp_path_factory.mktemp("outside")
    vcf = work / "outside.vcf"
    vcf.write_text((SAMPLES / "premium_1.vcf").read_text() + OUTSIDE)
    return engine_result(vcf, work / "out", allow_assembly_mismatch=True)


@pytest.mark.parametrize("query", ["", "class=SNV", "region=intron,intergenic&known=novel", "chrom=1"])
def test_every_bar_opens_a_table_of_as_many_rows(sign_in, web_aws, outside, query):
    """Every bar of every chart links to a table of as many rows as the bar counts, on a file
    with ALTs the engine did not annotate beside known and novel ones and records of two ALTs;
    unfiltered, the bars are the engine's summary (the "novel" bar counted 1,044 where its
    table had 1,052 rows; a record of two ALTs was one in the region, consequence, chromosome,
    gene and flag bars and two rows in their tables)."""
    summary = outside.summary
    # premium_1's three past the end of GRCh37's chromosome 3 (its positions are NCBI36's) and five here.
    assert summary["variants"]["outside_assembly"] == 8 and summary["multiallelic_extra_alleles"] == 2
    assert summary["symbolic_alleles"] == 1 and summary["known_sources"]["database"] >= 1
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, outside, name="outside.vcf")
    html = c.get(f"/annotations/{job.job_id}?{query}").get_data(as_text=True)
    if not query:
        assert _chart(html, "known")["novel"] == summary["novel"]
        assert _chart(html, "classes") == summary["variant_classes"]
        assert _chart(html, "regions") == summary["regions"]
    followed: set[str] = set()
    for key in ("regions", "consequences", "classes", "tstv", "known", "chromosomes", "genes", "flags"):
        for title, href in _bars(html, key):
            if title.endswith(", list every term"):
                continue
            label, _, count = title.removesuffix(", filter the table").rpartition(": ")
            table = c.get(href).get_data(as_text=True)
            assert f'data-matched="{count.replace(",", "")}"' in table, (key, label, href)
            followed.add(key)
    assert followed >= {"regions", "classes", "tstv", "known", "chromosomes", "genes"}, followed


@needs_bcftools
def test_filtered_chromosome_counts_are_what_bcftools_counts(sign_in, web_aws, engine):
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, engine, name="premium_1.vcf")
    html = c.get(f"/annotations/{job.job_id}?region=intron&flag=REPEAT").get_data(as_text=True)
    peer = subprocess.run(
        ["bcftools", "query", "-i", 'INFO/REGION="intron" && INFO/REPEAT=1', "-f", "%CHROM\\n", str(engine.annotated)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(peer) > 20
    assert _chart(html, "chromosomes") == dict(Counter(peer))


def test_other_lists_every_term_with_links_and_pages(sign_in, web_aws):
    """More contigs than bars: the "other" bar opens the list of every one, counted from
    the table with the filter; each a link to the table filtered by it."""
    result = make_result(records=400)
    for row in result.rows:  # 40 contigs
        row["chrom"] = f"ctg{row['record'] % 40}"
    result.summary["contigs"] = dict(Counter(r["chrom"] for r in {r["record"]: r for r in result.rows}.values()))
    c, user_id = sign_in()
    job = store_result(web_aws, user_id, result)
    html = c.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    bars = _bars(html, "chromosomes")
    assert len(bars) == 1  # contigs are no filter value; "other" is still a link
    label, href = bars[0]
    assert (
        label.startswith(f"other ({40 - MAX_BARS} contigs)") and href == f"/annotations/{job.job_id}/charts/chromosomes"
    )
    listed = c.get(href).get_data(as_text=True)
    assert 'data-terms="40"' in listed and listed.count('<tr><th scope="row">') == 40
    # Genes: every gene, counted per row, under the table's filter, each a filter link.
    listed = c.get(f"/annotations/{job.job_id}/charts/genes?known=novel").get_data(as_text=True)
    want = Counter(g for r in result.rows if not r["rsid"] for g in set(r["genes"]))  # per row (ALT)
    found = re.findall(r'<a href="([^"]*)" class="gas-term">([^<]*)</a></th><td class="text-end">([\d,]+)</td>', listed)
    assert {g: int(n.replace(",", "")) for _, g, n in found} == dict(want)
    assert found[0][0].replace("&amp;", "&") == f"/annotations/{job.job_id}/variants?gene={found[0][1]}&known=novel"
    # Bad input names its parameter; another user's job is not there; no such chart: 404.
    assert c.get(f"/annotations/{job.job_id}/charts/genes?known=maybe").status_code == 400
    assert b"known" in c.get(f"/annotations/{job.job_id}?known=maybe").get_data()
    assert c.get(f"/annotations/{job.job_id}/charts/genes?page=9").status_code == 404
    assert c.get(f"/annotations/{job.job_id}/charts/tstv").status_code == 404
    other, _ = sign_in()
    assert other.get(f"/annotations/{job.job_id}/charts/genes").status_code == 404
    assert other.get(f"/annotations/{job.job_id}?region=CDS").status_code == 404


def test_chart_text_is_drawn_in_pixels_not_scaled():
    """No viewBox: the labels keep their CSS size at any width (they shrank to ~8 px at 390 px)."""
    from gas.web.charts import charts

    svg = str(charts({"regions": {"intron": 5, "CDS": 2}})[0].svg())
    assert "viewBox" not in svg and 'width="100%"' in svg and 'width="100.0%"' in svg
