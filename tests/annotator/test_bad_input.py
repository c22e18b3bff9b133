"""Bad input: one clear message with the line number and the field, never the file's content;
non-zero exit; no partial outputs; memory bounded by the limits however the input is built."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zlib

import pytest
from engine_support import run_cli_measured

from gas.annotator.engine import EngineLimits, VcfFormatError, annotate_vcf

H = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
S = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n"
OK = "1\t100\t.\tA\tG\t.\t.\t.\n"
SECRET = "QXZSECRET"  # research data that must never reach a message

CASES = [
    ("no_header", (OK * 3).encode(), 1, "no VCF header"),
    (
        "few_columns",
        (H + OK + f"1\t200\t{SECRET}\tA\n").encode(),
        4,
        "expected at least 8 tab-separated columns, found 4",
    ),
    ("bad_pos", (H + OK + OK + f"1\t{SECRET}\t.\tA\tG\t.\t.\t.\n").encode(), 5, "POS (column 2) is not a number"),
    ("huge_pos", (H + "1\t99999999999\t.\tA\tG\t.\t.\t.\n").encode(), 3, "POS (column 2) is out of range"),
    (
        "missing_sample_column",
        (S + "1\t100\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\n" + "1\t200\t.\tA\tG\t.\t.\t.\tGT\t0/1\n").encode(),
        4,
        "1 sample column(s) where the header line names 2",
    ),
    (
        "no_sample_columns",
        (S + "1\t100\t.\tA\tG\t.\t.\t.\n").encode(),
        3,
        "0 sample column(s) where the header line names 2",
    ),
    ("pos_out_of_range", (H + "1\t9999999999\t.\tA\tG\t.\t.\t.\n").encode(), 3, "POS (column 2) is out of range"),
    ("bad_ref", (H + f"1\t100\t.\tA{SECRET}\tG\t.\t.\t.\n").encode(), 3, "REF (column 4) is not an allele"),
    (
        "bad_alt",
        (H + f"1\t100\t.\tA\tG,{SECRET}\u00e9\t.\t.\t.\n").encode(),
        3,
        "ALT (column 5) is not a list of alleles",
    ),
    ("empty_alt_allele", (H + "1\t100\t.\tA\tG,,T\t.\t.\t.\n").encode(), 3, "ALT (column 5) is not a list of alleles"),
    ("binary", H.encode() + b"\x00\x01\x02\xff" * 50, 3, "binary data"),
    ("binary_start", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), 1, "binary data"),
    ("not_utf8", (H + OK).encode() + b"1\t100\t.\tA\tG\t.\t.\t\xff\xfe\n", 4, "not UTF-8"),
    ("empty", b"", 1, "the file is empty"),
    ("data_before_chrom", ("##fileformat=VCFv4.2\n" + OK).encode(), 2, "data line before the #CHROM header"),
    ("unsupported_version", f"##fileformat=VCFv5.0{SECRET}\n".encode(), 1, "unsupported ##fileformat"),
    (
        "old_version",
        b"##fileformat=VCFv3.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n",
        1,
        "unsupported ##fileformat",
    ),
    ("no_chrom_line", b"##fileformat=VCFv4.2\n##source=x\n", 2, "no #CHROM header line"),
    ("bad_chrom_line", f"##fileformat=VCFv4.2\n#CHROM\tPOS\t{SECRET}\n".encode(), 2, "header line must start #CHROM"),
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
    assert SECRET not in str(err.value)
    assert list(out.iterdir()) == []  # no partial or temp files


def test_errors_in_a_later_block_name_the_right_line(tmp_path, db):
    path = tmp_path / "late.vcf"
    path.write_text(H + OK * 200_000 + "1\tabc\t.\tA\tG\t.\t.\t.\n" + OK * 10)
    with pytest.raises(VcfFormatError) as err:
        annotate_vcf(path, tmp_path / "out", db)
    assert err.value.line_number == 200_003


def test_truncated_gzip(tmp_path, db):
    data = gzip.compress((H + OK * 20000).encode())
    path = tmp_path / "cut.vcf.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VcfFormatError, match="truncated"):
        annotate_vcf(path, tmp_path / "out", db)
    assert list((tmp_path / "out").iterdir()) == []


def test_corrupt_gzip(tmp_path, db):
    data = bytearray(gzip.compress((H + OK * 20000).encode()))
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    path = tmp_path / "corrupt.vcf.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(VcfFormatError, match="cannot decompress|truncated"):
        annotate_vcf(path, tmp_path / "out", db)


def test_line_longer_than_the_limit(tmp_path, db):
    path = tmp_path / "long.vcf"
    path.write_text(H + OK + "1\t100\t.\tA\tG\t.\t.\tX=" + SECRET * 20_000 + "\n" + OK)
    limits = EngineLimits(max_line_bytes=64 << 10)
    with pytest.raises(VcfFormatError) as err:
        annotate_vcf(path, tmp_path / "out", db, limits=limits)
    assert str(err.value) == "line 4: line is longer than 64 KiB (the limit for this account)"


def test_decompressed_size_limit(tmp_path, db):
    path = tmp_path / "big.vcf.gz"
    path.write_bytes(gzip.compress((H + OK * 100_000).encode()))
    limits = EngineLimits(max_decompressed_bytes=256 << 10)
    with pytest.raises(VcfFormatError, match=r"larger than 256 KiB once decompressed \(the limit for this account\)"):
        annotate_vcf(path, tmp_path / "out", db, limits=limits)
    annotate_vcf(path, tmp_path / "ok", db, limits=EngineLimits(max_decompressed_bytes=8 << 20))


def _bomb(path, inflated: int) -> None:
    """A .vcf.gz whose first record's CHROM inflates to ``inflated`` bytes of 'A' (no newline)."""
    with open(path, "wb") as out:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        out.write(z.compress(H.encode()))
        chunk = b"A" * (1 << 20)
        for _ in range(inflated >> 20):
            out.write(z.compress(chunk))
        out.write(z.flush())


def test_decompression_bomb_fails_fast_in_bounded_memory(tmp_path, db_dir):
    """Issue 9: a ~140 KB .vcf.gz whose CHROM inflates to 140 MiB. The reader stops at the
    line limit instead of buffering the line; the message is short and names the line."""
    bomb = tmp_path / "bomb.vcf.gz"
    _bomb(bomb, 140 << 20)
    assert bomb.stat().st_size < 200_000
    for max_line in (1 << 20, 16 << 20):  # the suggested free cap, and the default
        proc, seconds, rss_kib = run_cli_measured(
            [str(bomb), "-o", str(tmp_path / "out"), "--db-dir", str(db_dir), "--max-line-bytes", str(max_line)]
        )
        assert proc.returncode == 1, proc.stderr[-4000:]
        limit = "1 MiB" if max_line == 1 << 20 else "16 MiB"
        assert (
            proc.stderr.strip()
            == f"gas-annotate: bomb.vcf.gz: line 3: line is longer than {limit} (the limit for this account)"
        )
        assert rss_kib < 400 * 1024, f"peak RSS {rss_kib / 1024:.0f} MiB"
        assert seconds < 60
    assert not (tmp_path / "out" / "bomb.annot.vcf").exists()


def test_ten_megabyte_line_is_annotated_in_bounded_memory(tmp_path, db_dir):
    """A record with a 10 MB INFO value passes the default limit and memory stays bounded."""
    path = tmp_path / "wide.vcf"
    with open(path, "w") as out:
        out.write(H + OK)
        out.write("1\t200\t.\tA\tG\t.\t.\tX=" + "7" * (10 << 20) + "\n")
        out.write(OK * 1000)
    proc, seconds, rss_kib = run_cli_measured([str(path), "-o", str(tmp_path / "out"), "--db-dir", str(db_dir)])
    assert proc.returncode == 0, proc.stderr
    assert rss_kib < 512 * 1024, f"peak RSS {rss_kib / 1024:.0f} MiB"
    lines = (tmp_path / "out" / "wide.annot.vcf").read_text().splitlines()
    assert len([x for x in lines if not x.startswith("#")]) == 1002


def test_cli_exit_code_and_message(tmp_path, db_dir):
    path = tmp_path / "bad.vcf"
    path.write_text(H + "1\tabc\t.\tA\tG\t.\t.\t.\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gas.annotator.engine.cli", str(path), "-o", str(tmp_path), "--db-dir", str(db_dir)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr[-4000:]
    assert proc.stderr.strip() == "gas-annotate: bad.vcf: line 3: POS (column 2) is not a number"
    assert not (tmp_path / "bad.annot.vcf").exists()
