"""Every VCF a researcher has: v3.3 (old-style meta lines, QUAL -1, FILTER 0, D/I alleles),
v4.0 to v4.5, plain / gzip / BGZF, CRLF line ends, hundreds of samples, lowercase bases."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import pytest
from engine_support import HEADER, bgzip, consequences, needs_bcftools, records

from gas.annotator.engine import AssemblyMismatchError, annotate_vcf

V33 = (
    "##fileformat=VCFv3.3\n"
    "##fileDate=20090805\n"
    "##reference=1000GenomesPilot-NCBI36\n"
    '##INFO=DP,1,Integer,"Total Depth"\n'
    '##INFO=AF,-1,Float,"Allele Frequency"\n'
    '##INFO=HM2,0,Flag,"HapMap2 membership"\n'
    '##FILTER=q10,"Quality below 10"\n'
    '##FORMAT=GT,1,String,"Genotype"\n'
    '##FORMAT=GQ,Integer,1,"Genotype Quality"\n'  # Number and Type swapped, as some writers did
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNA00001\tNA00002\n"
    # NMS (+) CDS at chr2:101,087,000; see test_consequences.py
    "2\t101087000\trs1\tA\tG\t-1\t0\tDP=10;AF=0.5;HM2\tGT:GQ\t0|1:30\t1/1:40\n"
    "2\t101087000\t.\tA\tD1\t29\tq10\tDP=5\tGT:GQ\t0/1:3\t./.:.\n"
    "2\t101087000\t.\tA\tIT\t30\t0\t.\tGT:GQ\t0/1:3\t0/0:9\n"
    "2\t101087000\t.\tA\tG,D3\t30\t0\tDP=7\tGT:GQ\t1/2:3\t0/0:9\n"
)


def test_vcf33(tmp_path, db):
    path = tmp_path / "pilot.vcf"
    path.write_text(V33)
    with pytest.raises(AssemblyMismatchError, match="the header says NCBI36 \\(line 3\\)"):
        annotate_vcf(path, tmp_path / "refused", db)
    result = annotate_vcf(path, tmp_path / "out", db, allow_assembly_mismatch=True)
    text = result.annotated_vcf.read_text()
    header = [line for line in text.splitlines() if line.startswith("##")]
    assert header[0] == "##fileformat=VCFv4.1"
    assert header[1].startswith("##GAS_fileformat=<Input=VCFv3.3,Output=VCFv4.1,")
    assert '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total Depth">' in header
    assert '##INFO=<ID=AF,Number=.,Type=Float,Description="Allele Frequency">' in header
    assert '##INFO=<ID=HM2,Number=0,Type=Flag,Description="HapMap2 membership">' in header
    assert '##FILTER=<ID=q10,Description="Quality below 10">' in header
    assert '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">' in header
    assert any(line.startswith("##GAS_assembly_mismatch=<Used=GRCh37,Confirmed=true") for line in header)
    recs = records(result.annotated_vcf)
    snv, deletion, insertion, mixed = recs
    assert (snv["qual"], snv["filter"], snv["rest"]) == (".", "PASS", ["GT:GQ", "0|1:30", "1/1:40"])
    assert snv["info"]["HM2"] is True and snv["info"]["DP"] == "10"
    # D1 deletes POS itself: written with the (unknown, N) base before it, POS moves back one.
    assert (deletion["pos"], deletion["ref"], deletion["alt"], deletion["filter"]) == (101086999, "NA", "N", "q10")
    assert consequences(deletion) == {("N", "NMS"): {"frameshift_variant"}}
    assert (insertion["ref"], insertion["alt"]) == ("A", "AT")
    assert consequences(insertion) == {("AT", "NMS"): {"frameshift_variant"}}
    assert (mixed["pos"], mixed["ref"], mixed["alt"]) == (101086999, "NANN", "NGNN,N")
    assert consequences(mixed) == {("NGNN", "NMS"): {"coding_sequence_variant"}, ("N", "NMS"): {"inframe_deletion"}}
    assert result.summary["vcf_version"] == "3.3" and result.summary["output_vcf_version"] == "4.1"
    assert "VCFv3.3 (written as VCFv4.1)" in result.count_log.read_text()
    if shutil.which("bcftools"):
        view = subprocess.run(["bcftools", "view", "-H", str(result.annotated_vcf)], capture_output=True, text=True)
        assert view.returncode == 0 and len(view.stdout.splitlines()) == 4


@pytest.mark.parametrize("version", ["4.0", "4.1", "4.2", "4.3", "4.4", "4.5"])
def test_versions_are_kept_unless_too_old(annotate, version):
    header = (
        f"##fileformat=VCFv{version}\n"
        '##ALT=<ID=*,Description="Any other allele (gVCF)">\n'
        '##INFO=<ID=SVLEN,Number=A,Type=Integer,Description="Length">\n'
        '##FORMAT=<ID=LAA,Number=.,Type=Integer,Description="Local alleles (VCFv4.5)">\n'
        "##META=<ID=Assay,Type=String,Number=.,Values=[WholeGenome]>\n"
        "##SAMPLE=<ID=S1,Assay=WholeGenome>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
    )
    body = (
        "2\t101087000\t.\tA\tG,<*>\t.\t.\t.\tGT:LAA\t0/1:1\n"
        "2\t101087010\t.\tA\t<DUP:TANDEM>\t.\t.\tSVLEN=300\tGT\t0/1\n"
    )
    result, recs = annotate(body, header=header)
    written = result.annotated_vcf.read_text().splitlines()[0]
    assert written == f"##fileformat=VCFv{'4.1' if version == '4.0' else version}"
    assert "##SAMPLE=<ID=S1,Assay=WholeGenome>" in result.annotated_vcf.read_text()
    assert recs[0]["info"]["VC"] == "SNV,." and recs[0]["rest"] == ["GT:LAA", "0/1:1"]
    assert consequences(recs[0]) == {("G", "NMS"): {"coding_sequence_variant"}}
    assert recs[1]["info"]["REGION"] == "CDS" and "CONSEQUENCE" not in recs[1]["info"]
    assert result.variants_position_only == 1


def test_plain_gzip_bgzip_and_crlf_agree(tmp_path, db, samples):
    src = samples / "premium_2.vcf"
    plain = annotate_vcf(src, tmp_path / "plain", db).annotated_vcf.read_bytes()
    crlf = tmp_path / "crlf.vcf"
    crlf.write_bytes(src.read_bytes().replace(b"\n", b"\r\n"))
    assert annotate_vcf(crlf, tmp_path / "crlf_out", db).annotated_vcf.read_bytes() == plain
    gz = tmp_path / "gz.vcf.gz"
    gz.write_bytes(gzip.compress(crlf.read_bytes()))
    result = annotate_vcf(gz, tmp_path / "gz_out", db)
    assert result.summary["compression"] == "gzip"
    assert result.annotated_vcf.read_bytes() == plain
    if shutil.which("bgzip"):
        copy = tmp_path / "bg.vcf"
        shutil.copy(src, copy)
        result = annotate_vcf(bgzip(copy), tmp_path / "bg_out", db)
        assert result.summary["compression"] == "bgzip"
        assert result.annotated_vcf.read_bytes() == plain


def test_five_hundred_samples(tmp_path, db):
    samples = [f"S{i:03d}" for i in range(500)]
    genotypes = ["0/0:35", "0/1:20", "1/1:99", "./.:."]
    lines = [HEADER.splitlines()[0], '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
    for k in range(2000):
        calls = "\t".join(genotypes[(k + s) % 4] for s in range(500))
        lines.append(f"2\t{101087000 + k}\t.\tA\tG\t50\tPASS\tDP={k}\tGT:GQ\t{calls}")
    path = tmp_path / "cohort.vcf"
    path.write_text("\n".join(lines) + "\n")
    result = annotate_vcf(path, tmp_path / "out", db)
    assert result.summary["samples"] == 500
    out = [line.split("\t") for line in result.annotated_vcf.read_text().splitlines() if not line.startswith("#")]
    src = [line.split("\t") for line in lines[3:]]
    assert len(out) == 2000
    assert all(o[8:] == s[8:] and o[:7] == s[:7] for o, s in zip(out, src, strict=True))  # untouched
    assert all(o[7].startswith(f"DP={k};GENE=NMS") for k, o in enumerate(out))


def test_lowercase_bases(annotate):
    _, recs = annotate("1\t55545\t.\tc\tt\t.\t.\t.\n2\t101087000\t.\tacgt\ta\t.\t.\t.\n")
    assert recs[0]["info"]["RSID"] == "rs28396308" and recs[0]["info"]["TSTV"] == "ts"
    assert (recs[1]["ref"], recs[1]["alt"]) == ("acgt", "a")
    assert consequences(recs[1]) == {("a", "NMS"): {"inframe_deletion"}}


def test_missing_info_and_nothing_to_add(annotate):
    _, recs = annotate("2\t101087000\t.\tA\tG\t.\t.\t.\nGL000192.1\t5\t.\tA\t<DEL>\t.\t.\t.\n")
    assert next(iter(recs[0]["info"])) == "GENE"  # '.' replaced, no leading ';'
    assert recs[1]["info"] == {".": True}  # outside the assembly and no sequence ALT: '.' stays


def _annotate_text(tmp_path, db, name: str, text: str):
    """`text` written as `name` and annotated: (the result, the annotated VCF's text)."""
    path = tmp_path / name
    path.write_text(text)
    result = annotate_vcf(path, tmp_path / "out", db)
    return result, result.annotated_vcf.read_text()


def _bcftools_records(path) -> list[str]:
    view = subprocess.run(["bcftools", "view", "-H", str(path)], capture_output=True, text=True)
    assert view.returncode == 0 and "[E::" not in view.stderr, view.stderr
    return view.stdout.splitlines()


@needs_bcftools
def test_breakends_symbolic_and_old_style_alleles_annotated_by_position(annotate):
    # Every VCF 4.x breakend form (joined, telomeric .[p[ / ]p]. from VCF 4.1, single), symbolic
    # alleles, and an old-style X: the file goes through, each record annotated by position.
    body = (
        "2\t101087000\tbnd1\tA\t.[13:123457[\t.\t.\t.\n"
        "2\t101087000\tbnd2\tA\t]13:123456].\t.\t.\t.\n"
        "2\t101087000\tbnd3\tA\tA[13:123457[,]13:123456]A,[13:1[A,A]13:1]\t.\t.\t.\n"
        "2\t101087000\tbnd4\tA\t.A,A.\t.\t.\t.\n"
        "2\t101087000\tsym\tA\t<DEL>,<INS:ME:ALU>,*\t.\t.\t.\n"
        "2\t101087000\told\tA\tX\t.\t.\t.\n"
        "2\t101087000\tmix\tA\tG,X\t.\t.\t.\n"
    )
    result, recs = annotate(body)
    assert [r["id"] for r in recs] == ["bnd1", "bnd2", "bnd3", "bnd4", "sym", "old", "mix"]
    assert all(r["info"]["GENE"] == "NMS" and r["info"]["REGION"] == "CDS" for r in recs)
    assert consequences(recs[-1]) == {("G", "NMS"): {"coding_sequence_variant"}}  # the sequence ALT beside X
    assert result.summary["variants"]["position_only"] == 6
    assert result.summary["nonstandard_alleles"] == 2
    assert result.summary["symbolic_alleles"] == 11
    log = result.count_log.read_text()
    assert "nonstandard_alleles\t2\t" in log
    assert len(_bcftools_records(result.annotated_vcf)) == 7


@needs_bcftools
def test_trailing_tab_in_the_chrom_line(annotate):
    header = HEADER.replace("INFO\n", "INFO\tFORMAT\tS1\t\n")
    result, recs = annotate("2\t101087000\t.\tA\tG\t.\t.\t.\tGT\t0/1\n", header=header)
    assert result.summary["samples"] == 1
    chrom = [x for x in result.annotated_vcf.read_text().splitlines() if x.startswith("#CHROM")]
    assert chrom == ["#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"]
    assert recs[0]["rest"] == ["GT", "0/1"]
    assert len(_bcftools_records(result.annotated_vcf)) == 1


@needs_bcftools
def test_vcf33_backslash_genotypes_and_free_text_meta_lines(tmp_path, db):
    text = (
        "##fileformat=VCFv3.3\n"
        "##a free-text line from an old writer\n"
        '##FORMAT=GT,1,String,"Genotype"\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
        "2\t101087000\t.\tA\tG\t-1\t0\t.\tGT:GQ\t0\\1:30\t1\\1:7\n"
    )
    result, out = _annotate_text(tmp_path, db, "old.vcf", text)
    assert "##comment=a free-text line from an old writer\n" in out
    assert records(result.annotated_vcf)[0]["rest"] == ["GT:GQ", "0/1:30", "1/1:7"]
    view = _bcftools_records(result.annotated_vcf)
    assert [line.split("\t")[9:] for line in view] == [["0/1:30", "1/1:7"]]


@needs_bcftools
def test_what_other_writers_leave(tmp_path, db):
    # '##fileformat=VCF4.1' (no v), a #CHROM line with FORMAT but no sample (bcftools refuses
    # that header: written without FORMAT), REF '.' (SV callers) and more columns than samples.
    text = (
        "##fileformat=VCF4.1\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\n"
        "2\t101087000\tsv\t.\t<DUP>\t.\tPASS\tSVTYPE=DUP\tGT\n"
        "2\t101087000\tsnv\tA\tG\t.\tPASS\t.\n"
    )
    result, out = _annotate_text(tmp_path, db, "writers.vcf", text)
    assert out.startswith("##fileformat=VCFv4.1\n")
    assert "\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" in out
    sv, snv = records(result.annotated_vcf)
    assert (sv["ref"], sv["info"]["GENE"], sv["rest"]) == (".", "NMS", ["GT"]) and "VC" not in sv["info"]
    assert snv["info"]["VC"] == "SNV"
    assert result.summary["variants"]["position_only"] == 1
    assert len(_bcftools_records(result.annotated_vcf)) == 2
    extra = tmp_path / "extra.vcf"
    extra.write_text(HEADER.replace("INFO\n", "INFO\tFORMAT\tS1\n") + "2\t101087000\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\n")
    assert records(annotate_vcf(extra, tmp_path / "out2", db).annotated_vcf)[0]["rest"] == ["GT", "0/1", "1/1"]
