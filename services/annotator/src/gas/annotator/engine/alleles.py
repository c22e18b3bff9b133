"""The ALT alleles of a block's records: parsing (VCF 4.x forms, one row per ALT), the
variant class and ts/tv, the known variant of each, and the minimal form (shared leading,
then trailing, bases removed) that the consequence rules read. Stage 3 of ``stages.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gas.annotator.engine import consequences as csq
from gas.annotator.engine.database import AnnotationDatabase, Packed
from gas.annotator.engine.reader import VcfFormatError
from gas.annotator.engine.textops import UPPER, common_prefix, common_suffix, lookup, ranges_equal

if TYPE_CHECKING:
    from gas.annotator.engine.block import Lines, Records

_BASES = "[ACGTNRYSWKMBDHVacgtnryswkmbdhv]"
# VCF 4.x ALT forms: bases, '*', <ID>, breakends (joined t[p[ / t]p] / ]p]t / [p[t, telomeric
# .[p[ / ]p]. from VCF 4.1, single .t / t.). Any other non-empty printable ASCII allele (an
# old-style 'X', vcftools' '@') is annotated by position only and counted as nonstandard.
_ALLELE = re.compile(
    rf"^(?:(?P<seq>{_BASES}+)|(?P<vcf>\*|<[^<>,]+>|(?:{_BASES}+|\.)?[\[\]][^\[\],]+[\[\]](?:{_BASES}+|\.)?|"
    rf"\.{_BASES}+|{_BASES}+\.)|[!-+\--~]+)$"
)
_ACGT_CODE = np.full(256, -1, dtype=np.int8)
for _code, _base in enumerate(b"ACGT"):
    _ACGT_CODE[_base] = _code


@dataclass
class Alleles:
    record: np.ndarray
    at: np.ndarray  # offset in the records' text
    length: np.ndarray
    seq: np.ndarray  # a sequence allele (bases), not symbolic/breakend/*/.
    vc: np.ndarray  # 0 none, 1..5 VARIANT_CLASSES
    ts: np.ndarray  # 0 none, 1 ts, 2 tv
    known: np.ndarray  # index into the database's known variants, -1 none
    kind: np.ndarray  # consequences.SNV.. after trimming; 0: no change or not a sequence
    delta: np.ndarray  # len(ALT) - len(REF) after trimming
    first: np.ndarray  # global first changed base (insertion: the base before the junction)
    last: np.ndarray  # global last changed base (insertion: the base after the junction)
    trim_ref: np.ndarray  # offset in text of the trimmed REF (for the stop codon rule)
    trim_alt: np.ndarray
    trim_ref_len: np.ndarray
    nonstandard: int = 0  # ALTs in no VCF 4.x form (annotated by position only)
    # KNOWN_SOURCE code per ALT: 1 the database knows it, 2 the record's ID is an rsID (VEP's
    # Existing_variation), 3 both; 0 novel or not a sequence ALT on the assembly
    known_source: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))


@dataclass
class KnownVariants:
    """The database's known variants, sorted by global position: REF, ALT (and their ID, which
    the output takes)."""

    pos: np.ndarray
    ref: Packed
    alt: Packed
    ref_len: np.ndarray
    alt_len: np.ndarray

    @classmethod
    def of(cls, db: AnnotationDatabase) -> KnownVariants:
        ref, alt = db.packed("known_ref"), db.packed("known_alt")
        return cls(db.arrays["known_pos"], ref, alt, ref.lengths(), alt.lengths())


def split_alleles(lines: Lines, rec: Records, known_variants: KnownVariants) -> Alleles:
    """One row per ALT: class (VC), ts/tv, the known variant (RSID, KNOWN_SOURCE) and the
    minimal form the consequence rules read."""
    text, alt_at, alt_len, slow = rec.text, rec.alt_at, rec.alt_len, rec.slow_alt
    commas = np.flatnonzero(text == 44)
    if not commas.size and not slow.any():  # one sequence ALT per record: alleles are records
        record = np.arange(alt_at.size, dtype=np.int64)
        a_start, length, seq = alt_at, alt_len, np.ones(alt_at.size, dtype=bool)
        nonstandard = 0
    else:
        record, a_start, length, seq, nonstandard = _alleles_of_records(lines, rec, commas)
    if rec.ref_missing.any():
        seq = seq & ~rec.ref_missing[record]
    rl = rec.ref_len[record]
    r_at = rec.ref_at[record]

    # Variant class (on the ALT as written, like bcftools' view of it) and ts/tv.
    vc = np.zeros(record.size, dtype=np.int8)
    s = seq
    vc[s & (rl == 1) & (length == 1)] = 1
    vc[s & (rl == length) & (rl > 1)] = 2
    ins = s & (rl < length)
    dele = s & (rl > length)
    ins_clean = ranges_equal(text, a_start, text, r_at, np.where(ins, rl, 0)) | ranges_equal(
        text, a_start + length - rl, text, r_at, np.where(ins, rl, 0)
    )
    del_clean = ranges_equal(text, r_at, text, a_start, np.where(dele, length, 0)) | ranges_equal(
        text, r_at + rl - length, text, a_start, np.where(dele, length, 0)
    )
    vc[ins & ins_clean] = 3
    vc[dele & del_clean] = 4
    vc[(ins & ~ins_clean) | (dele & ~del_clean)] = 5
    # ts/tv: with A=0 C=1 G=2 T=3, the transitions A<->G and C<->T are the pairs whose codes
    # differ by XOR 2.
    ts = np.zeros(record.size, dtype=np.int8)
    snv = np.flatnonzero(vc == 1)
    if snv.size:
        r_c, a_c = _ACGT_CODE[text[r_at[snv]]], _ACGT_CODE[text[a_start[snv]]]
        ts[snv] = np.where((r_c >= 0) & (a_c >= 0), np.where((r_c ^ a_c) == 2, 1, 2), 0)

    # Known variants: same position, REF and ALT (case-insensitive).
    known = np.full(record.size, -1, dtype=np.int64)
    cand = np.flatnonzero(seq & rec.annotated[record])
    kv = known_variants
    kpos = kv.pos
    gpos = rec.gs[record[cand]]
    lo = lookup(kpos, gpos, side="left")
    hi = lookup(kpos, gpos, side="right")
    for j in range(int((hi - lo).max()) if cand.size else 0):
        rows = np.flatnonzero((hi - lo > j) & (known[cand] < 0))
        if not rows.size:
            break
        k = lo[rows] + j
        i = cand[rows]
        kr_off, kr_len = kv.ref.offsets[k], kv.ref_len[k]
        ka_off, ka_len = kv.alt.offsets[k], kv.alt_len[k]
        same = (kr_len == rl[i]) & (ka_len == length[i])
        same &= ranges_equal(text, r_at[i], kv.ref.data, kr_off, np.where(same, rl[i], 0))
        same &= ranges_equal(text, a_start[i], kv.alt.data, ka_off, np.where(same, length[i], 0))
        known[i[same]] = k[same]

    # Minimal form for consequences: drop shared leading, then trailing, bases.
    limit = np.where(seq, np.minimum(rl, length), 0)
    p = common_prefix(text, r_at, text, a_start, limit)
    q = common_suffix(text, r_at + rl, text, a_start + length, limit - p)
    r_len = rl - p - q
    a_len = length - p - q
    kind = np.zeros(record.size, dtype=np.int8)
    kind[seq & (r_len == 0) & (a_len > 0)] = csq.INS
    kind[seq & (a_len == 0) & (r_len > 0)] = csq.DEL
    kind[seq & (r_len == 1) & (a_len == 1)] = csq.SNV
    kind[seq & (r_len == a_len) & (r_len > 1)] = csq.MNV
    kind[seq & (r_len > 0) & (a_len > 0) & (r_len != a_len)] = csq.DELINS
    kind[~rec.annotated[record]] = 0
    first = rec.gs[record] + p
    last = np.where(kind == csq.INS, first, first + r_len - 1)
    first = np.where(kind == csq.INS, first - 1, first)
    from_file = _rsid_in_id(lines)[record] & seq & rec.annotated[record]
    known_source = ((known >= 0).astype(np.int8) | (from_file.astype(np.int8) << 1)).astype(np.int8)
    return Alleles(
        record,
        a_start,
        length,
        seq,
        vc,
        ts,
        known,
        kind,
        a_len - r_len,
        first,
        last,
        r_at + p,
        a_start + p,
        r_len,
        nonstandard,
        known_source,
    )


def _rsid_in_id(lines: Lines) -> np.ndarray:
    """Records whose ID (column 3) starts with an rsID ('rs' and a digit)."""
    b = lines.buf
    start, length = lines.field(2)
    at = np.where(length >= 3, start, 0)
    third = b[at + 2]
    return (length >= 3) & (UPPER[b[at]] == ord("R")) & (UPPER[b[at + 1]] == ord("S")) & (third >= 48) & (third <= 57)


def _alleles_of_records(
    lines: Lines, rec: Records, commas: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(record, start, length, is sequence) of every ALT, and the count of nonstandard ones.
    Fast records hold bases and commas only; an empty allele (',,' or a comma at either end)
    sends a record to the per-record check, which rejects it."""
    alt_at, alt_len, slow = rec.alt_at, rec.alt_len, rec.slow_alt
    comma_rec = np.searchsorted(rec.ref_at, commas, side="right") - 1
    empty = (commas == alt_at[comma_rec]) | (commas == alt_at[comma_rec] + alt_len[comma_rec] - 1)
    empty[1:] |= (commas[1:] == commas[:-1] + 1) & (comma_rec[1:] == comma_rec[:-1])
    slow[comma_rec[empty]] = True
    fast_commas = commas[~slow[comma_rec]]
    fast = np.flatnonzero(~slow)
    starts = [alt_at[fast], fast_commas + 1]
    ends = [alt_at[fast] + alt_len[fast], fast_commas]
    seq_parts = [np.ones(fast.size + fast_commas.size, dtype=bool)]
    slow_starts: list[int] = []
    slow_ends: list[int] = []
    slow_seq: list[bool] = []
    nonstandard = 0
    for r in np.flatnonzero(slow).tolist():
        a0 = int(alt_at[r])
        value = rec.text_raw[a0 : a0 + int(alt_len[r])].tobytes().decode("utf-8", "replace")
        if value == ".":  # no ALT: written, annotated by position only
            slow_starts.append(a0)
            slow_ends.append(a0 + 1)
            slow_seq.append(False)
            continue
        offset = a0
        for part in value.split(","):
            m = _ALLELE.match(part)
            if m is None:
                raise VcfFormatError("ALT (column 5) is not a list of alleles", int(lines.number[r]))
            slow_starts.append(offset)
            slow_ends.append(offset + len(part.encode()))
            slow_seq.append(m.group("seq") is not None)
            nonstandard += m.group("seq") is None and m.group("vcf") is None
            offset += len(part.encode()) + 1
    a_start = np.concatenate(starts + [np.array(slow_starts, dtype=np.int64)])
    a_end = np.concatenate(ends + [np.array(slow_ends, dtype=np.int64)])
    seq = np.concatenate(seq_parts + [np.array(slow_seq, dtype=bool)])
    # The alleles are disjoint ranges: sorting starts and ends separately pairs them up.
    order = np.argsort(a_start, kind="stable")
    a_start, seq = a_start[order], seq[order]
    a_end = np.sort(a_end)
    record = np.searchsorted(rec.ref_at, a_start, side="right") - 1
    return record, a_start, a_end - a_start, seq, nonstandard
