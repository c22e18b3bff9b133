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
    assert ev.conflict("GRCh37") == "the header says NCBI36 (line 6)"
    assert ev.conflict("NCBI36") is None
    assert any("past the end of GRCh37's chromosome 3 (198,022,430 bp)" in r for r in ev.reasons)


@pytest.mark.parametrize("sample", ["test.vcf", "free_1.vcf", "premium_2.vcf"])
def test_samples_without_evidence(samples, sample):
    ev = detect(samples / sample)  # ##reference=rCRS is the mitochondrion of every assembly
    assert ev.likely is None and ev.conflict("GRCh37") is None and ev.conflict("GRCh38") is None


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
    assert ev.conflict("GRCh37") == "the file's contig lengths or positions are those of GRCh38 (line 2)"
    # No header evidence, but a chr17 position past GRCh37's end (81,195,210).
    lines = [grch38_header(contigs=False), "chr17\t7670000\t.\tA\tG\t.\t.\t.\n", "chr17\t83000000\t.\tA\tG\t.\t.\t.\n"]
    path = tmp_path / "g38.vcf.gz"
    path.write_bytes(gzip.compress("".join(lines).encode()))
    ev = detect(path)
    assert ev.consistent == ("GRCh38",) and ev.implied == "GRCh38" and ev.records_checked == 2
    assert ev.conflict("GRCh37") is not None
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
    assert result.summary["assembly_mismatch"] == "the header says NCBI36 (line 6)"
    assert result.summary["assembly_evidence"]["likely"] == "NCBI36"
    assert result.summary["past_contig_end"] == {"3": 3}  # written, not annotated
    log = result.count_log.read_text()
    assert "assembly\tGRCh37\tfile evidence: NCBI36 (high)" in log
    assert (
        "assembly_mismatch\tthe header says NCBI36 (line 6)\tannotated as GRCh37 because the user confirmed it" in log
    )


def test_grch38_file_on_both_databases(tmp_path, db, db38):
    path = tmp_path / "g38.vcf"
    # TP53 on GRCh38 is chr17:7,661,779-7,687,538 (on GRCh37: 7,565,097-7,590,856).
    path.write_text(grch38_header() + "chr17\t7670000\t.\tA\tG\t.\t.\t.\n")
    with pytest.raises(AssemblyMismatchError, match="those of GRCh38 \\(line 2\\)"):
        annotate_vcf(path, tmp_path / "as37", db)
    result = annotate_vcf(path, tmp_path / "as38", db38)
    assert result.summary["assembly"] == "GRCh38" and result.summary["assembly_mismatch"] is None
    assert records(result.annotated_vcf)[0]["info"]["GENE"] == "TP53"


def test_no_header_no_evidence(annotate):
    result, _ = annotate("1\t55545\t.\tC\tT\t.\t.\t.\n", header=HEADER)
    assert result.summary["assembly_evidence"]["confidence"] == "none"
