"""Every VCF other tools write: 200+ real files from Debian packages' test and example data
(tests/annotator/vcf_corpus, MANIFEST.tsv names each file's package, version and path) run
through the engine. For each: no traceback; the records come out unchanged but for the INFO
keys the engine adds; bcftools reads the output whenever it reads the input; and every
refusal (bad input, another assembly) is the one listed here, with its reason."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
from pathlib import Path

import pytest
from engine_support import needs_bcftools

from gas.annotator.engine import AssemblyMismatchError, VcfFormatError, annotate_vcf
from gas.annotator.engine.reader import convert_v33_record
from gas.core.assembly import detect
from gas.core.vocab import INFO_IDS as OUR_INFO_IDS

CORPUS = Path(__file__).parent / "vcf_corpus"
MANIFEST = [line.split("\t") for line in (CORPUS / "MANIFEST.tsv").read_text().splitlines()[1:]]
FILES = [row[0] for row in MANIFEST]

# Refused as bad input (bcftools refuses all of them too but 2-index.vcf: an 11-digit POS).
REFUSED = {
    "bedtools-test/a_vcfSVtest.vcf": "line 2: data line before the #CHROM header line",
    "bedtools-test/b_vcfSVtest.vcf": "line 2: data line before the #CHROM header line",
    "bedtools-test/bug223_d.vcf": "line 2: data line before the #CHROM header line",
    "bedtools-test/bug223_f.vcf": "line 2: data line before the #CHROM header line",
    "bedtools-test/bug223_sv1_a.vcf": "line 2: data line before the #CHROM header line",
    "bedtools-test/bug223_sv1_b.vcf": "line 2: data line before the #CHROM header line",
    "bedtools-test/jim.vcf": "line 2: header line must start #CHROM POS ID REF ALT QUAL FILTER INFO, tab-separated",
    "bedtools-test/svlen.vcf": "line 2: data line before the #CHROM header line",
    "htslib-test/2-index.vcf": "line 25: POS (column 2) is out of range",
    "htslib-test/index.expected1.vcf": "line 1: no VCF header: the first line must be ##fileformat=VCFvX.Y",
    "htslib-test/index.expected2.vcf": "line 1: no VCF header: the first line must be ##fileformat=VCFvX.Y",
    "python-pysam-tests/24.vcf.gz": (
        "line 7: header line must start #CHROM POS ID REF ALT QUAL FILTER INFO, tab-separated"
    ),
    "python-pysam-tests/4.vcf.gz": "line 19: 0 sample column(s) where the header line names 383",
    "python-pysam-tests/7.vcf.gz": "line 18: 0 sample column(s) where the header line names 383",
    "python-pysam-tests/example.vcf.gz": "line 1: no VCF header: the first line must be ##fileformat=VCFvX.Y",
    "python-pysam-tests/example_empty.vcf": "line 1: the file is empty",
    "python-pysam-tests/issue85.vcf": "line 26: no #CHROM header line",
    "python3-pybedtools/issue319.out.bed": "line 3410: 1 sample column(s) where the header line names 73",
    "python3-pybedtools/issue319.vcf.gz": "line 3410: binary data (not UTF-8 text), not a text VCF",
    "python3-pybedtools/v.vcf": "line 18: header line must start #CHROM POS ID REF ALT QUAL FILTER INFO, tab-separated",
    "r-bioc-structuralvariantannotation/manta-0.29.6.vcf": "line 136: 0 sample column(s) where the header line names 1",
    "r-bioc-structuralvariantannotation/manta-1.1.1.vcf": "line 80: 0 sample column(s) where the header line names 1",
    "r-bioc-variantannotation/VarScan_header.vcf": "line 21: expected at least 8 tab-separated columns, found 1",
    "vcftools/isec-n2-test.vcf.out": "line 1: no VCF header: the first line must be ##fileformat=VCFvX.Y",
}

# On another assembly than the database the evidence points to: refused, then annotated
# once confirmed (as the user would).
OTHER_ASSEMBLY = {
    "bedtools-test/test.vcf": "the header says NCBI36 (line 4), and 1 of 1 ##contig lengths are NCBI36's",
    "htslib-test/test-vcf-api.out": "the header says NCBI36 (line 6), and 1 of 1 ##contig lengths are NCBI36's",
    "python-pysam-tests/3.vcf.gz": "the header says NCBI36 (line 3)",
    "python-pysam-tests/example.vcf40": "the header says NCBI36 (line 4)",
    "python-pysam-tests/example_badcomments.vcf.gz": "the header says NCBI36 (line 4)",
    "python-pysam-tests/example_unicode.vcf": "the header says NCBI36 (line 4)",
    "python-pysam-tests/example_vcf40.vcf": "the header says NCBI36 (line 4)",
    "python-pysam-tests/example_vcf42.vcf": "the header says NCBI36 (line 4)",
    "python-pysam-tests/example_vcf42_only_header.vcf": "the header says NCBI36 (line 4)",
    "python-pysam-tests/example_vcf42_withcontigs.vcf": "the header says NCBI36 (line 4)",
    "python-pysam-tests/example_vcf43.vcf": "the header says NCBI36 (line 4), and 1 of 1 ##contig lengths are NCBI36's",
    "python-pysam-tests/example_vcf43_with_utf8.vcf": (
        "the header says NCBI36 (line 4), and 1 of 1 ##contig lengths are NCBI36's"
    ),
    "python-pysam-tests/vcf_v42.vcf": "the header says NCBI36 (line 4), and 1 of 1 ##contig lengths are NCBI36's",
    "python3-pybedtools/1000genomes-example.vcf": "the header says NCBI36 (line 4)",
    "r-bioc-structuralvariantannotation/vcf4.2.example.sv.vcf": "the header says NCBI36 (line 3)",
    "r-bioc-variantannotation/ex2.vcf": "the header says NCBI36 (line 4), and 1 of 1 ##contig lengths are NCBI36's",
    "r-bioc-variantannotation/mixedStructural.vcf": "the header says NCBI36 (line 3)",
    "r-bioc-variantannotation/structural.vcf": "the header says NCBI36 (line 3)",
    "r-bioc-variantannotation/unspecified_INFO_FORMAT_fields.vcf": (
        "the header says NCBI36 (line 4), and 1 of 1 ##contig lengths are NCBI36's"
    ),
    "vcftools/invalid-4.0.vcf": "the header says NCBI36 (line 5)",
    "vcftools/valid-4.0.vcf": "the header says NCBI36 (line 4)",
}

# Inputs bcftools cannot read (a ',' or '\\' in GT, FORMAT fields missing): written with the
# records unchanged, so bcftools cannot read the output either.
BCFTOOLS_REFUSES_INPUT = {
    "htslib-test/noroundtrip-out.vcf",
    "r-bioc-variantannotation/fewer-FORMAT-than-GENO.vcf",
    "r-bioc-variantannotation/no_GENO_row.vcf",
    "vcftools/invalid-4.0.vcf",
}
OURS = {key.encode() for key in OUR_INFO_IDS}


def test_corpus_is_complete_and_as_listed():
    assert len(FILES) >= 200
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()} - {"MANIFEST.tsv"}
    assert on_disk == set(FILES)
    for name, _package, _version, _path, size, sha256 in MANIFEST:
        data = (CORPUS / name).read_bytes()
        assert len(data) == int(size) <= 1_000_000 and hashlib.sha256(data).hexdigest() == sha256, name
    assert set(REFUSED) | set(OTHER_ASSEMBLY) | BCFTOOLS_REFUSES_INPUT <= set(FILES)


def _data_lines(data: bytes, v33: bool) -> list[bytes]:
    lines = [line.rstrip(b"\r") for line in data.split(b"\n")]
    lines = [line for line in lines if line.strip() and not line.startswith(b"#")]
    if v33:
        lines = [convert_v33_record(line.decode()).encode() for line in lines]
    return lines


def _info_without_ours(info: bytes) -> list[bytes]:
    return [item for item in info.split(b";") if item.split(b"=", 1)[0] not in OURS and item not in (b".", b"")]


def _bcftools_reads(path: Path) -> tuple[bool, str]:
    view = subprocess.run(["bcftools", "view", "-H", str(path)], capture_output=True, text=True, timeout=60)
    return view.returncode == 0 and "[E::" not in view.stderr, view.stderr[-500:]


@needs_bcftools
@pytest.mark.parametrize("name", FILES)
def test_real_vcf(tmp_path, db, db38, name):
    path = CORPUS / name
    raw = path.read_bytes()
    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    database = db38 if detect(path).likely == "GRCh38" else db
    out = tmp_path / "out"
    try:
        try:
            result = annotate_vcf(path, out, database, variants_table=False)
            assert name not in OTHER_ASSEMBLY
        except AssemblyMismatchError as err:
            assert str(err).split(": ", 2)[2].startswith(OTHER_ASSEMBLY[name] + ". No lift-over"), str(err)
            result = annotate_vcf(path, out, database, variants_table=False, allow_assembly_mismatch=True)
    except VcfFormatError as err:
        assert str(err) == REFUSED.get(name)
        assert not out.exists() or list(out.iterdir()) == []
        return
    assert name not in REFUSED
    v33 = text.startswith(b"##fileformat=VCFv3.3")
    given = _data_lines(text, v33)
    written = _data_lines(result.annotated_vcf.read_bytes(), False)
    assert len(written) == len(given) == result.variants_read == result.variants_written
    for k, (a, b) in enumerate(zip(given, written, strict=True)):
        a_cols, b_cols = a.split(b"\t"), b.split(b"\t")
        # An ID of '.' is filled with the known variant's rsID (RSID); nothing else changes.
        filled = a_cols[2] == b"." and b"RSID=" + b_cols[2] in b_cols[7]
        same = a_cols[:2] + a_cols[3:7] == b_cols[:2] + b_cols[3:7] and a_cols[8:] == b_cols[8:]
        same &= a_cols[2] == b_cols[2] or filled
        assert same and _info_without_ours(a_cols[7]) == _info_without_ours(b_cols[7]), f"record {k + 1} changed"
    reads, stderr = _bcftools_reads(result.annotated_vcf)
    if name in BCFTOOLS_REFUSES_INPUT:
        assert not reads and not _bcftools_reads(path)[0]
    else:
        assert reads, stderr
