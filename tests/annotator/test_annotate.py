"""Hand-made cases: every region class on both strands, allele classes, known variants, naming."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess

import pytest

from gas.annotator.engine import annotate_vcf
from gas.annotator.engine import reader as reader_module

# Single-transcript genes checked in the GENCODE v19 source tables:
# NMS (+) 2:101,086,944-101,099,742, start codon 101,086,951-953, stop 101,099,724-726.
# FLJ14816 (-) 2:121,221,911-121,223,697, start codon 121,223,684-686, stop 121,223,153-155.
# AC144525.1 (-, lincRNA) 2:239,697,289-239,698,357, exons ..-239,697,442 and 239,697,920-..
REGION_CASES = [
    ("2", 101086944, "UTR", "NMS"),
    ("2", 101086951, "start_codon", "NMS"),
    ("2", 101087000, "CDS", "NMS"),
    ("2", 101088000, "intron", "NMS"),
    ("2", 101099725, "stop_codon", "NMS"),
    ("2", 101099740, "UTR", "NMS"),
    ("2", 101086943, "upstream", None),  # + strand: upstream is before the TSS
    ("2", 101081944, "upstream", None),  # TSS - 5000
    ("2", 101081943, "intergenic", None),
    ("2", 101099743, "downstream", None),
    ("2", 101104742, "downstream", None),  # TES + 5000
    ("2", 101104743, "intergenic", None),
    ("2", 121223685, "start_codon", "FLJ14816"),
    ("2", 121223154, "stop_codon", "FLJ14816"),
    ("2", 121223500, "CDS", "FLJ14816"),
    ("2", 121222000, "UTR", "FLJ14816"),
    ("2", 121223698, "upstream", None),  # - strand: upstream is after the TSS (gene end)
    ("2", 121228697, "upstream", None),
    ("2", 121228698, "intergenic", None),
    ("2", 121221910, "downstream", None),  # - strand: downstream is before the gene start
    ("2", 121216911, "downstream", None),
    ("2", 121216910, "intergenic", None),
    ("2", 239697300, "exon", "AC144525.1"),  # exon of a non-coding gene
    ("2", 239697500, "intron", "AC144525.1"),
]


def test_region_classes_both_strands(annotate):
    body = "".join(f"{c}\t{p}\t.\tA\tG\t.\t.\t.\n" for c, p, _, _ in REGION_CASES)
    _, recs = annotate(body)
    got = [(r["info"]["REGION"], r["info"].get("GENE")) for r in recs]
    assert got == [(region, gene) for _, _, region, gene in REGION_CASES]
    nmsgt = next(r for r in recs if r["info"].get("GENE") == "NMS")
    assert nmsgt["info"]["GENE_TYPE"] == "protein_coding"


def test_nearest_for_intergenic(annotate):
    _, recs = annotate(
        "2\t101081943\t.\tA\tG\t.\t.\t.\n2\t101104743\t.\tA\tG\t.\t.\t.\n2\t121228698\t.\tA\tG\t.\t.\t.\n"
    )
    assert [r["info"]["NEAREST"] for r in recs] == ["NMS|5001", "NMS|5001", "FLJ14816|5001"]
    _, recs = annotate("2\t101087000\t.\tA\tG\t.\t.\t.\n")
    assert "NEAREST" not in recs[0]["info"]


def test_deletion_spanning_regions_takes_most_specific(annotate):
    # REF spans intron -> start codon of NMS (101086944..101086951).
    _, recs = annotate("2\t101086940\t.\tAAAAAAAAAAAA\tA\t.\t.\t.\n")
    assert recs[0]["info"]["REGION"] == "start_codon"
    assert recs[0]["info"]["VC"] == "DEL"


def test_variant_classes_and_tstv(annotate):
    body = (
        "1\t100000\t.\tA\tG\t.\t.\t.\n"
        "1\t100010\t.\tC\tA\t.\t.\t.\n"
        "1\t100020\t.\tAC\tGT\t.\t.\t.\n"
        "1\t100030\t.\tA\tATT\t.\t.\t.\n"
        "1\t100040\t.\tATT\tA\t.\t.\t.\n"
        "1\t100050\t.\tATG\tCC\t.\t.\t.\n"
        "1\t100060\t.\tA\tG,T,AC\t.\t.\tDP=3\n"
    )
    _, recs = annotate(body)
    assert [r["info"]["VC"] for r in recs] == ["SNV", "SNV", "MNV", "INS", "DEL", "DELINS", "SNV,SNV,INS"]
    assert [r["info"].get("TSTV") for r in recs] == ["ts", "tv", None, None, None, None, "ts,tv,."]
    assert recs[-1]["info"]["DP"] == "3"


def test_known_variant_rsid_and_id(annotate):
    body = (
        "1\t55545\t.\tC\tT\t.\t.\t.\n"
        "1\t55545\tmine\tC\tT\t.\t.\t.\n"
        "1\t55545\t.\tC\tA\t.\t.\t.\n"
        "1\t55545\t.\tC\tA,T\t.\t.\t.\n"
        "1\t55546\t.\tC\tT\t.\t.\t.\n"
    )
    result, recs = annotate(body)
    assert [r["info"].get("RSID") for r in recs] == ["rs28396308", "rs28396308", None, ".,rs28396308", None]
    assert [r["id"] for r in recs] == ["rs28396308", "mine", ".", "rs28396308", "."]
    assert result.summary["known"] == 3
    assert result.summary["novel"] == 3


@pytest.mark.parametrize("chrom", ["1", "chr1"])
def test_chromosome_naming(annotate, chrom):
    _, recs = annotate(f"{chrom}\t55545\t.\tC\tT\t.\t.\t.\n")
    assert recs[0]["info"]["RSID"] == "rs28396308"


@pytest.mark.parametrize("chrom", ["MT", "chrM", "M"])
def test_mitochondrial_naming(annotate, chrom):
    _, recs = annotate(f"{chrom}\t3400\t.\tA\tG\t.\t.\t.\n")
    assert recs[0]["info"]["GENE"] == "MT-ND1"


def test_symbolic_and_star_alleles_are_annotated_by_position(annotate):
    # One position in NMS's CDS; (ALT, INFO): symbolic, breakend, star beside a SNV, none.
    alts = [("<DEL>", "SVTYPE=DEL"), ("A[2:500[", "."), ("*,G", "."), (".", ".")]
    body = "".join(f"2\t101087000\t.\tA\t{alt}\t.\t.\t{info}\n" for alt, info in alts)
    result, recs = annotate(body)
    assert [r["info"]["REGION"] for r in recs] == ["CDS"] * 4
    assert [r["info"].get("VC") for r in recs] == [None, None, ".,SNV", None]
    assert result.variants_read == result.variants_written == 4
    assert result.variants_position_only == 3


def test_flags(annotate):
    # chr1:0-845,200 is ENCODE blacklist v2 (hg19); 1:28736 is inside CpG island chr1:28735-29810.
    _, recs = annotate("1\t28736\t.\tA\tG\t.\t.\t.\n1\t10001\t.\tA\tG\t.\t.\t.\n1\t2000000\t.\tA\tG\t.\t.\t.\n")
    assert recs[0]["info"].get("CPG") is True
    assert recs[0]["info"].get("BLACKLIST") is True
    assert recs[1]["info"].get("REPEAT") is True  # chr1:10000-10468 RepeatMasker
    assert "BLACKLIST" not in recs[2]["info"]


def test_outputs_and_summary(annotate):
    result, _ = annotate("1\t55545\t.\tC\tT\t.\t.\t.\n", name="my.sample.vcf")
    assert result.annotated_vcf.name == "my.sample.annot.vcf"
    assert result.count_log.name == "my.sample.count.log"
    assert result.variants_parquet.name == "my.sample.variants.parquet"
    summary = json.loads(result.summary_json.read_text())
    assert summary == result.summary
    assert summary["variants"] == {"read": 1, "written": 1, "position_only": 0, "outside_assembly": 0}
    assert summary["variant_classes"]["SNV"] == 1
    assert summary["assembly"] == "GRCh37"
    assert summary["database"]["version"] == "GRCh37-v2"
    assert summary["consequences"] == {"downstream_gene_variant": 1}  # OR4G4P (+) ends at 1:54,936
    assert summary["assembly_evidence"]["likely"] is None  # a bare header says nothing
    log = result.count_log.read_text()
    assert "variants_read\t1" in log
    assert "assembly\tGRCh37\tfile evidence: none (none)" in log
    assert "database\tGRCh37-v2" in log


def test_records_outside_the_assembly_are_written(annotate):
    # Unplaced contigs and positions past a chromosome's end are written with VC/TSTV only
    # (an annotation there would be made up); MT positions are fine.
    result, recs = annotate(
        "GL000192.1\t100\t.\tA\tG\t.\t.\tDP=1\n1\t249250700\t.\tA\tG\t.\t.\t.\nMT\t3400\t.\tA\tG\t.\t.\t.\n",
        allow_assembly_mismatch=True,  # the second record is past the end of GRCh37 chromosome 1
    )
    assert [r["info"].get("VC") for r in recs] == ["SNV", "SNV", "SNV"]
    assert [r["info"].get("REGION") for r in recs] == [None, None, "CDS"]
    assert recs[0]["info"]["DP"] == "1"
    assert result.summary["variants"]["outside_assembly"] == 2
    assert result.summary["contigs"] == {"1": 1, "MT": 1, "GL000192.1": 1}
    assert result.summary["past_contig_end"] == {"1": 1}


def test_header_only_gives_valid_empty_output(annotate):
    result, recs = annotate("")
    assert recs == [] and result.variants_read == 0
    text = result.annotated_vcf.read_text()
    assert "##INFO=<ID=GENE," in text and text.rstrip().endswith("INFO")


def test_gzip_and_bgzip_and_small_blocks(tmp_path, db, monkeypatch, samples):
    src = samples / "premium_2.vcf"
    plain = annotate_vcf(src, tmp_path / "plain", db).annotated_vcf.read_text()
    gz = tmp_path / "premium_2.vcf.gz"
    gz.write_bytes(gzip.compress(open(src, "rb").read()))
    assert annotate_vcf(gz, tmp_path / "gz", db).annotated_vcf.read_text() == plain
    if shutil.which("bgzip"):
        bgz = tmp_path / "bg" / "premium_2.vcf"
        bgz.parent.mkdir()
        shutil.copy(src, bgz)
        subprocess.run(["bgzip", str(bgz)], check=True)
        res = annotate_vcf(bgz.with_suffix(".vcf.gz"), tmp_path / "bgout", db)
        assert res.summary["compression"] == "bgzip"
        assert res.annotated_vcf.read_text() == plain
    monkeypatch.setattr(reader_module, "BLOCK_BYTES", 4096)  # many block boundaries
    monkeypatch.setattr(reader_module, "FIRST_BLOCK_BYTES", 1024)
    assert annotate_vcf(src, tmp_path / "small", db).annotated_vcf.read_text() == plain


def test_reannotating_output_is_stable(tmp_path, db, samples):
    first = annotate_vcf(samples / "test.vcf", tmp_path / "one", db).annotated_vcf
    again = tmp_path / "again.vcf"
    shutil.copy(first, again)
    second = annotate_vcf(again, tmp_path / "two", db).annotated_vcf
    strip = lambda p: [line for line in p.read_text().splitlines() if not line.startswith("##")]  # noqa: E731
    assert strip(second) == strip(first)
    assert second.read_text().count("##INFO=<ID=GENE,") == 1


def test_top_genes_are_the_genes_of_most_records(tmp_path, db, samples):
    """The summary's 20 genes with most records, against a count of the GENE field of the
    annotated lines (a record counts once per gene; ties by name)."""
    from collections import Counter

    from engine_support import records

    result = annotate_vcf(samples / "premium_2.vcf", tmp_path, db, variants_table=False)
    counts: Counter[str] = Counter()
    for rec in records(result.annotated_vcf):
        gene = rec["info"].get("GENE")
        if isinstance(gene, str):
            counts.update(set(gene.split(",")))
    want = sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:20]
    assert len(want) == 20 and want[0][1] > want[-1][1]  # the sample has a ranking to check
    assert [(g["gene"], g["variants"]) for g in result.summary["top_genes"]] == want


def test_an_rsid_in_column_3_makes_the_allele_known(annotate):
    # rs28396308 is 1:55545 C>T in the database. An rsID the database lacks still makes the
    # record's ALTs known (VEP's Existing_variation); KNOWN_SOURCE says where from.
    body = (
        "1\t55545\t.\tC\tT\t.\t.\t.\n"  # database only (the ID is filled from it)
        "1\t55545\trs28396308\tC\tT\t.\t.\t.\n"  # both
        "2\t101087000\trs999999999\tA\tG,C\t.\t.\t.\n"  # the file only, both ALTs
        "2\t101087000\tmy_call\tA\tG\t.\t.\t.\n"  # not an rsID: novel
        "2\t101087000\trs5\tA\t<DEL>\t.\t.\t.\n"  # no sequence ALT: neither
    )
    result, recs = annotate(body)
    assert [r["info"].get("KNOWN_SOURCE") for r in recs] == ["database", "both", "file,file", None, None]
    assert recs[0]["id"] == "rs28396308" and recs[2]["info"].get("RSID") is None
    assert result.summary["known"] == 4 and result.summary["novel"] == 1
    assert result.summary["known_sources"] == {"database": 1, "file": 2, "both": 1}
    assert "known_alleles\t4\tdatabase 1, file's rsID 2, both 1" in result.count_log.read_text()
    import pyarrow.parquet as pq

    rows = pq.read_table(result.variants_parquet).select(["rsid", "known_source"]).to_pylist()
    assert rows == [
        {"rsid": "rs28396308", "known_source": "database"},
        {"rsid": "rs28396308", "known_source": "both"},
        {"rsid": "rs999999999", "known_source": "file"},
        {"rsid": "rs999999999", "known_source": "file"},
        {"rsid": None, "known_source": None},
        {"rsid": None, "known_source": None},
    ]


def test_the_summary_counts_table_rows_one_per_alt(annotate):
    """The summary's regions, consequences, contigs, flags and genes count ALTs, the table's
    rows, so each chart bar is the row count of the table its link opens (decision 113): a
    record with two ALTs counts twice (it counted once)."""
    from collections import Counter

    import pyarrow.parquet as pq

    result, _ = annotate(
        "1\t249250700\t.\tA\tG,C\t.\t.\t.\n2\t101087027\t.\tA\tG,T\t.\t.\t.\n2\t101087035\t.\tA\tG\t.\t.\t.\n",
        allow_assembly_mismatch=True,  # the first record is past the end of chromosome 1
    )
    rows = pq.read_table(result.variants_parquet).to_pylist()
    summary = result.summary
    assert summary["multiallelic_extra_alleles"] == 2 and len(rows) == 5
    assert summary["consequences"] == {"splice_donor_variant": 2, "intron_variant": 1}
    assert summary["consequences"] == Counter(r["consequence"] for r in rows if r["consequence"])
    assert {k: n for k, n in summary["regions"].items() if n} == Counter(r["region"] for r in rows if r["region"])
    assert summary["contigs"] == Counter(r["chrom"] for r in rows) == {"1": 2, "2": 3}
    assert {f: n for f, n in summary["flags"].items() if n} == Counter(f for r in rows for f in r["flags"])
    top = {g["gene"]: g["variants"] for g in summary["top_genes"]}
    assert top == Counter(g for r in rows for g in set(r["genes"])) and top
    assert summary["past_contig_end"] == {"1": 1}  # records, as the job page states them


def test_the_summary_of_many_contigs_stays_small(annotate):
    """45,000 contig names made a 17.8 MB job page (issue 22): the summary keeps the
    SUMMARY_CONTIGS contigs with most variants and counts the rest."""
    from gas.annotator.engine.annotate import CONTIG_NAME_CHARS, SUMMARY_CONTIGS

    body = "1\t1000\t.\tA\tG\t.\t.\t.\n" * 3 + "2\t1000\t.\tA\tG\t.\t.\t.\n" * 2
    body += "".join(f"ctg{n}\t10\t.\tA\tG\t.\t.\t.\n" for n in range(3000))
    body += ("x" * 500 + "\t10\t.\tA\tG\t.\t.\t.\n") * 4  # a long name, cut
    result, _ = annotate(body, allow_assembly_mismatch=True)
    summary = result.summary
    assert len(summary["contigs"]) == SUMMARY_CONTIGS
    assert summary["contigs"]["x" * CONTIG_NAME_CHARS] == 4 and summary["contigs"]["1"] == 3
    assert summary["contigs"]["2"] == 2
    assert summary["contigs_other"] == {"contigs": 3003 - SUMMARY_CONTIGS, "variants": 3003 - SUMMARY_CONTIGS}
    assert sum(summary["contigs"].values()) + summary["contigs_other"]["variants"] == summary["variants"]["read"]
    assert result.summary_json.stat().st_size < 8192
    assert f"contig_other\t{3003 - SUMMARY_CONTIGS} contigs\t" in result.count_log.read_text()
