"""Assembly evidence (gas.core.assembly.detect) and what the engine does with it."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest
from engine_support import HEADER, records

from gas.annotator.engine import AssemblyMismatchError, annotate_vcf
from gas.core.assembly import LENGTHS, assembly_named, detect


def test_ncbi36_sample_is_recognised(samples):
    ev = detect(samples / "premium_1.vcf")
    assert ev.claimed == "NCBI36" and ev.claimed_line == 6  # ##reference=human_b36_both.fasta
    assert ev.implied == "NCBI36"  # chr3 positions past the end of GRCh37 and GRCh38
    assert ev.consistent == ("NCBI36",)
    assert ev.confidence == "high"
    assert ev.conflict("GRCh37").startswith("the header says NCBI36 (line 6)")
    assert ev.conflict("NCBI36") is None
    assert any("past the end of GRCh37's chromosome 3 (198,022,430 bp)" in r for r in ev.reasons)


@pytest.mark.parametrize("sample", ["test.vcf", "free_1.vcf"])
def test_samples_without_evidence(samples, sample):
    ev = detect(samples / sample)  # ##reference=rCRS is the mitochondrion of every assembly
    assert ev.likely is None and ev.conflict("GRCh37") is None and ev.conflict("GRCh38") is None


def test_a_sample_whose_rsids_say_grch37(samples):
    ev = detect(samples / "premium_2.vcf")  # no header evidence; 40 rsIDs at their GRCh37 positions
    assert ev.likely == "GRCh37" and ev.conflict("GRCh37") is None
    assert ev.conflict("GRCh38").endswith(
        "40 of 40 known rsIDs sit where GRCh37 has them, 0 where GRCh38 has them (first at line 45)"
    )


@pytest.mark.parametrize(
    "text,name",
    [
        ("file:///refs/human_g1k_v37.fasta", "GRCh37"),
        ("hs37d5", "GRCh37"),
        ("hg19", "GRCh37"),
        ("GRCh38", "GRCh38"),
        ("GCA_000001405.15_GRCh38_no_alt_analysis_set", "GRCh38"),
        ("Homo_sapiens_assembly38.fasta", "GRCh38"),
        ("1000GenomesPilot-NCBI36", "NCBI36"),
        ("B36", "NCBI36"),
        ("hg18", "NCBI36"),
        ("rCRS", None),
        ("mm10", None),
    ],
)
def test_assembly_names(text, name):
    assert assembly_named(text) == name


def grch38_header(contigs: bool = True) -> str:
    lines = ["##fileformat=VCFv4.2"]
    if contigs:
        lines += [f"##contig=<ID=chr{c},length={n}>" for c, n in LENGTHS["GRCh38"].items()]
    return "\n".join(lines) + "\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def test_contig_lengths_and_positions_imply_an_assembly(tmp_path):
    ev = detect(grch38_header().splitlines())
    assert (ev.claimed, ev.implied, ev.confidence) == (None, "GRCh38", "medium")
    assert ev.conflict("GRCh37") == (
        "the file's contig lengths are those of GRCh38: 24 of 24 ##contig lengths fit GRCh38 "
        "(line 2: ##contig 1 has length 248,956,422; GRCh37's is 249,250,621)"
    )
    # No header evidence, but a chr17 position past GRCh37's end (81,195,210).
    lines = [grch38_header(contigs=False), "chr17\t7670000\t.\tA\tG\t.\t.\t.\n", "chr17\t83000000\t.\tA\tG\t.\t.\t.\n"]
    path = tmp_path / "g38.vcf.gz"
    path.write_bytes(gzip.compress("".join(lines).encode()))
    ev = detect(path)
    assert ev.consistent == ("GRCh38",) and ev.implied == "GRCh38" and ev.records_checked == 2
    assert ev.conflict("GRCh37") == (
        "line 4: a position on chromosome 17 is past the end of GRCh37's chromosome 17 (81,195,210 bp); "
        "only GRCh38 fits the positions and contig lengths"
    )
    assert detect([b"##fileformat=VCFv4.2\n", b"##reference=GRCh37\n"]).claimed == "GRCh37"


def test_assembly_module_needs_only_the_standard_library(samples):
    code = (
        "import sys\n"
        "for name in ('numpy', 'pyarrow', 'polars'): sys.modules[name] = None  # importing them fails\n"
        "from gas.core.assembly import detect\n"
        f"print(detect({str(samples / 'premium_1.vcf')!r}).likely)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "NCBI36"


def test_engine_refuses_another_assembly_unless_confirmed(tmp_path, db, samples):
    with pytest.raises(AssemblyMismatchError) as err:
        annotate_vcf(samples / "premium_1.vcf", tmp_path / "refused", db)
    assert err.value.line_number == 6
    assert "the header says NCBI36 (line 6)" in str(err.value) and "No lift-over data is available" in str(err.value)
    assert list((tmp_path / "refused").iterdir()) == []
    result = annotate_vcf(samples / "premium_1.vcf", tmp_path / "out", db, allow_assembly_mismatch=True)
    assert result.summary["assembly"] == "GRCh37"
    assert result.summary["assembly_mismatch"].startswith("the header says NCBI36 (line 6)")
    assert result.summary["assembly_evidence"]["likely"] == "NCBI36"
    assert result.summary["past_contig_end"] == {"3": 3}  # written, not annotated
    log = result.count_log.read_text()
    assert "assembly\tGRCh37\tfile evidence: NCBI36 (high)" in log
    assert "assembly_mismatch\tthe header says NCBI36 (line 6)" in log
    assert "\tannotated as GRCh37 because the user confirmed it" in log


def test_grch38_file_on_both_databases(tmp_path, db, db38):
    path = tmp_path / "g38.vcf"
    # TP53 on GRCh38 is chr17:7,661,779-7,687,538 (on GRCh37: 7,565,097-7,590,856).
    path.write_text(grch38_header() + "chr17\t7670000\t.\tA\tG\t.\t.\t.\n")
    with pytest.raises(
        AssemblyMismatchError, match="those of GRCh38: 24 of 24 ##contig lengths fit GRCh38 \\(line 2: "
    ):
        annotate_vcf(path, tmp_path / "as37", db)
    result = annotate_vcf(path, tmp_path / "as38", db38)
    assert result.summary["assembly"] == "GRCh38" and result.summary["assembly_mismatch"] is None
    assert records(result.annotated_vcf)[0]["info"]["GENE"] == "TP53"


def test_no_header_no_evidence(annotate):
    result, _ = annotate("1\t55545\t.\tC\tT\t.\t.\t.\n", header=HEADER)
    assert result.summary["assembly_evidence"]["confidence"] == "none"


def b37_header(extra: list[str]) -> list[str]:
    return [
        "##fileformat=VCFv4.1",
        "##reference=file:///refs/human_g1k_v37.fasta",
        *(f"##contig=<ID={c},length={n},assembly=b37>" for c, n in LENGTHS["GRCh37"].items()),
        *extra,
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]


def test_a_stated_assembly_and_most_contigs_outweigh_a_stray_contig():
    # chr7 with GRCh38's length: one contradiction against 23 GRCh37 lengths and the header.
    lines = b37_header([])
    lines[8] = "##contig=<ID=7,length=159345973,assembly=b37>"
    ev = detect(lines)
    assert ev.likely == "GRCh37" and ev.conflict("GRCh37") is None and "GRCh37" in ev.consistent
    assert any("##contig 7 has length 159,345,973, which fits GRCh38" in r and "outweighed" in r for r in ev.reasons)
    assert ev.conflict("GRCh38") == "the header says GRCh37 (line 2), and 23 of 24 ##contig lengths are GRCh37's"


def test_placeholder_and_toy_lengths_are_not_evidence():
    ev = detect(
        [
            "##fileformat=VCFv4.2",
            "##contig=<ID=1,length=2147483647>",
            "##contig=<ID=2,length=1000>",
            "##contig=<ID=3,length=4294967295>",
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
        ]
    )
    assert ev.consistent == ("NCBI36", "GRCh37", "GRCh38") and ev.likely is None
    assert ev.conflict("GRCh37") is None and ev.conflict("GRCh38") is None
    assert "line 2: ##contig 1 length 2,147,483,647 is a placeholder or toy length: ignored" in ev.reasons


def test_the_refusal_names_the_decisive_contig():
    # Two contigs, each of another assembly: no majority for any; the message names the first.
    ev = detect(
        [
            "##fileformat=VCFv4.2",
            f"##contig=<ID=1,length={LENGTHS['GRCh38']['1']}>",
            f"##contig=<ID=2,length={LENGTHS['GRCh38']['2']}>",
            f"##contig=<ID=3,length={LENGTHS['GRCh37']['3']}>",
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
        ]
    )
    assert ev.likely == "GRCh38"
    assert ev.conflict("GRCh37") == (
        "the file's contig lengths are those of GRCh38: 2 of 3 ##contig lengths fit GRCh38 "
        "(line 2: ##contig 1 has length 248,956,422; GRCh37's is 249,250,621)"
    )
    assert ev.conflict("NCBI36") is not None


TAIR10 = {"Chr1": 30427671, "Chr2": 19698289, "Chr3": 23459830, "Chr4": 18585056, "Chr5": 26975502}


def test_files_that_cannot_be_human(tmp_path, db):
    tair = ["##fileformat=VCFv4.2", *(f"##contig=<ID={c},length={n}>" for c, n in TAIR10.items())]
    ev = detect([*tair, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO", "Chr1\t100\t.\tA\tG\t.\t.\t."])
    assert ev.likely is None and ev.not_human
    for assembly in ("GRCh37", "GRCh38"):
        assert ev.conflict(assembly) == (
            "line 2: ##contig 1 has length 30,427,671 and 5 of 5 ##contig lengths are far from every human "
            "assembly's: the file is not from a human genome"
        )
    dog = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    dog += [f"chr{c}\t1000\t.\tA\tG\t.\t.\t." for c in range(1, 39)]
    ev = detect(dog)
    assert ev.conflict("GRCh37") == (
        "line 29: chromosome 27 is numbered past every human chromosome: the file is not from a human genome"
    )
    # PLINK's numbering of X, Y, XY and MT (23 to 26) is still human.
    assert detect([*dog[:2], "23\t1000\t.\tA\tG\t.\t.\t.", "26\t10\t.\tA\tG\t.\t.\t."]).not_human is None
    path = tmp_path / "tair.vcf"
    path.write_text(
        "\n".join([*tair, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO", "Chr1\t100\t.\tA\tG\t.\t.\t."]) + "\n"
    )
    with pytest.raises(AssemblyMismatchError, match="not from a human genome") as err:
        annotate_vcf(path, tmp_path / "out", db)
    assert err.value.line_number == 2


def test_rsid_table_is_the_databases_known_variants(db, db38):
    from gas.annotator.engine.rsid_table import rsid_positions
    from gas.core.assembly import RSID_TABLE, rsid_position

    assert RSID_TABLE.read_bytes() == rsid_positions(db.path.parent), (
        "rebuild: python -m gas.annotator.engine.rsid_table"
    )
    # rs2236514 (AGPAT2): 9:139,572,068 on GRCh37, 9:136,677,616 on GRCh38.
    assert rsid_position("rs2236514") == ("9", 139572068, 136677616)
    assert rsid_position("rs1") is None and rsid_position("esv1") is None


RS37 = [
    ("1", 78513900, "rs180757940", "T", "C"),
    ("1", 182923383, "rs559085283", "G", "A"),
    ("2", 8669248, "rs536387733", "C", "T"),
    ("2", 80704010, "rs112534600", "G", "A"),
    ("2", 167305572, "rs529726797", "T", "G"),
    ("3", 2555422, "rs1382874", "T", "C"),
]


def test_rsids_at_their_grch37_positions_are_evidence(tmp_path, db_dir):
    body = "".join(f"{c}\t{p}\t{rs}\t{r}\t{a}\t.\tPASS\t.\n" for c, p, rs, r, a in RS37)
    ev = detect((HEADER + body).splitlines())
    assert ev.implied == "GRCh37" and ev.consistent == ("NCBI36", "GRCh37") and ev.conflict("GRCh37") is None
    expected = (
        "the file's rsIDs in column 3 are at their GRCh37 positions, not GRCh38's: 6 of 6 known rsIDs sit where "
        "GRCh37 has them, 0 where GRCh38 has them (first at line 3)"
    )
    assert ev.conflict("GRCh38") == expected
    # Two rsIDs are too few to say anything; one at its GRCh38 position (1:78,048,216) is outweighed.
    assert detect((HEADER + "".join(body.splitlines(True)[:2])).splitlines()).likely is None
    mixed = body.replace("78513900", "78048216")
    assert detect((HEADER + mixed).splitlines()).implied == "GRCh37"
    assert "5 of 6 known rsIDs sit where GRCh37 has them, 1 where GRCh38" in detect(
        (HEADER + mixed).splitlines()
    ).conflict("GRCh38")
    # Through gas-annotate: refused on GRCh38 with the evidence, annotated on GRCh37.
    path = tmp_path / "rs37.vcf"
    path.write_text(HEADER + body)
    cli = [sys.executable, "-m", "gas.annotator.engine.cli", str(path), "-o", str(tmp_path), "--db-dir", str(db_dir)]
    proc = subprocess.run([*cli, "--assembly", "GRCh38"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"gas-annotate: rs37.vcf: line 3: the file does not look like GRCh38: {expected}. "
        "No lift-over data is available; annotate it anyway only if you are sure of its assembly"
    )
    assert subprocess.run([*cli, "--assembly", "GRCh37"], capture_output=True, text=True).returncode == 0
