"""Bad input: one clear message with the line number, non-zero exit, no partial outputs."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from gas.annotator.engine import VcfFormatError, annotate_vcf

H = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
OK = "1\t100\t.\tA\tG\t.\t.\t.\n"

CASES = [
    ("no_header", (OK * 3).encode(), 1, "no VCF header"),
    ("few_columns", (H + OK + "1\t200\t.\tA\n").encode(), 4, "expected at least 8 tab-separated columns, found 4"),
    ("bad_pos", (H + OK + OK + "1\tabc\t.\tA\tG\t.\t.\t.\n").encode(), 5, "POS 'abc' is not a number"),
    ("bad_ref", (H + "1\t100\t.\tAXZ\tG\t.\t.\t.\n").encode(), 3, "REF 'AXZ' is not an allele"),
    ("bad_alt", (H + "1\t100\t.\tA\tG,hello!\t.\t.\t.\n").encode(), 3, "ALT 'G,hello!' is not a list of alleles"),
    ("unknown_contig", (H + OK + "chrUn_x\t5\t.\tA\tG\t.\t.\t.\n").encode(), 4, "unknown contig 'chrUn_x'"),
    ("binary", H.encode() + b"\x00\x01\x02\xff" * 50, 3, "binary data"),
    ("binary_start", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), 1, "binary data"),
    ("empty", b"", 1, "the file is empty"),
    ("data_before_chrom", ("##fileformat=VCFv4.2\n" + OK).encode(), 2, "data line before the #CHROM header"),
    ("old_version", b"##fileformat=VCFv3.3\n", 1, "unsupported format"),
]


@pytest.mark.parametrize("name,content,line,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(tmp_path, db, name, content, line, message):
    path = tmp_path / f"{name}.vcf"
    path.write_bytes(content)
    out = tmp_path / "out"
    with pytest.raises(VcfFormatError) as err:
        annotate_vcf(path, out, db)
    assert err.value.line_number == line
    assert message in str(err.value)
    assert str(err.value).startswith(f"line {line}: ")
    assert "\n" not in str(err.value)
    assert list(out.iterdir()) == []  # no partial or temp files


def test_truncated_gzip(tmp_path, db):
    data = gzip.compress((H + OK * 20000).encode())
    path = tmp_path / "cut.vcf.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VcfFormatError, match="truncated"):
        annotate_vcf(path, tmp_path / "out", db)
    assert list((tmp_path / "out").iterdir()) == []


def test_cli_exit_code_and_message(tmp_path, db_dir):
    path = tmp_path / "bad.vcf"
    path.write_text(H + "1\tabc\t.\tA\tG\t.\t.\t.\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gas.annotator.engine.cli", str(path), "-o", str(tmp_path), "--db-dir", str(db_dir)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "gas-annotate: bad.vcf: line 3: POS 'abc' is not a number"
    assert not (tmp_path / "bad.annot.vcf").exists()
