"""Fuzzing the VCF reader and the engine with hypothesis (bounded: GAS_FUZZ_EXAMPLES, default 150).

Inputs are VCF-like files built from valid and broken parts (headers, columns, alleles,
binary bytes, CR/LF, gzip members, truncation). Every run must either succeed or raise
VcfFormatError with a line number and a short message that quotes nothing from the file;
nothing else may escape, and memory must stay bounded by the limits.
"""

from __future__ import annotations

import gzip
import os
import resource

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gas.annotator.engine import EngineLimits, VcfFormatError, annotate_vcf

MARK = "MARKQZ"  # appears in the file's data; must never appear in an error
LIMITS = EngineLimits(max_line_bytes=8 << 10, max_decompressed_bytes=256 << 10)

versions = st.sampled_from(["3.3", "4.0", "4.1", "4.2", "4.3", "4.4", "4.5", "5.0", "4.x", ""])
junk = st.lists(st.sampled_from(list("ACGTNacgtn0123456789.,;:=<>[]*|-_+ \t\r\u00e9\x00") + [MARK]), max_size=30).map(
    "".join
)
bases = st.text(alphabet=st.sampled_from(list("ACGTNacgtnRY")), min_size=1, max_size=6)
allele = st.one_of(bases, st.sampled_from(["*", ".", "<DEL>", "<*>", "A[2:300[", ".A", "D2", "IAC"]), junk)
chrom = st.one_of(st.sampled_from(["1", "2", "chr2", "MT", "X", "GL000192.1", ""]), junk)
pos = st.one_of(st.integers(0, 300_000_000).map(str), st.sampled_from(["-1", "1e5", "99999999999"]), junk)


@st.composite
def record(draw) -> str:
    cols = [
        draw(chrom),
        draw(pos),
        draw(st.sampled_from([".", f"rs{MARK}", "id1"])),
        draw(st.one_of(bases, junk)),
        ",".join(draw(st.lists(allele, min_size=1, max_size=3))),
        draw(st.sampled_from([".", "50", "-1", "1e3", MARK])),
        draw(st.sampled_from([".", "PASS", "0", "q10"])),
        draw(st.sampled_from([".", "DP=3", f"X={MARK}", "CONSEQUENCE=old", ""])),
    ]
    extra = draw(st.lists(st.sampled_from(["GT", "0/1", "./.", MARK]), max_size=4))
    keep = draw(st.integers(1, 8 + len(extra)))
    return "\t".join((cols + extra)[:keep])


@st.composite
def vcf_file(draw) -> bytes:
    lines = []
    if draw(st.integers(0, 9)):
        lines.append(f"##fileformat=VCFv{draw(versions)}")
    lines += draw(
        st.lists(
            st.sampled_from(
                [
                    '##INFO=DP,1,Integer,"Depth"',
                    "##reference=GRCh37",
                    "##contig=<ID=2,length=243199373>",
                    f"##x={MARK}",
                    "",
                ]
            ),
            max_size=3,
        )
    )
    if draw(st.integers(0, 9)):
        lines.append(
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO" + draw(st.sampled_from(["", "\tFORMAT\tS1", f"\t{MARK}"]))
        )
    lines += draw(st.lists(record(), max_size=12))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + draw(st.sampled_from([end, ""]))
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=24))
    mode = draw(st.sampled_from(["plain", "plain", "gzip", "members", "truncated"]))
    if mode == "gzip":
        data = gzip.compress(data)
    elif mode == "members":  # BGZF-like: several gzip members
        cut = len(data) // 2
        data = gzip.compress(data[:cut]) + gzip.compress(data[cut:])
    elif mode == "truncated":
        data = gzip.compress(data)[: draw(st.integers(1, 40))]
    return data


def _check(tmp_path, db, data: bytes, counter: list[int]) -> None:
    counter[0] += 1
    path = tmp_path / f"fuzz{counter[0]}.vcf"
    path.write_bytes(data)
    try:
        annotate_vcf(
            path, tmp_path / f"out{counter[0]}", db, limits=LIMITS, allow_assembly_mismatch=counter[0] % 2 == 0
        )
    except VcfFormatError as exc:
        text = str(exc)
        assert exc.line_number >= 1
        assert text.startswith(f"line {exc.line_number}: ")
        assert "\n" not in text and MARK not in text and len(text) < 400, text
    finally:
        path.unlink()


def test_fuzz_reader(tmp_path, db):
    examples = int(os.environ.get("GAS_FUZZ_EXAMPLES", "150"))
    counter = [0]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=not os.environ.get("GAS_FUZZ_RANDOM"),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )
    @given(vcf_file())
    def run(data: bytes) -> None:
        _check(tmp_path, db, data, counter)

    run()
    assert counter[0] >= examples
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 256, f"peak RSS grew by {grown_mib:.0f} MiB during the fuzz run"
