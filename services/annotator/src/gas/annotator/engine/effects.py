"""Transcript effects: per ALT allele x transcript consequences, HGVS and amino-acid changes.

Read from a bundle (``bundle.py``): the transcripts, their exons and coding runs, and the
genome's sequence. ``Effects.entries(records)`` gives each ALT one CSQ entry per transcript
within 5 kb, as Ensembl VEP lays out its CSQ field (docs/annotation-engine.md lists the rules
and where they differ from VEP's and bcftools csq's), the pick of each ALT and each record's
INFO text.

The transcripts near each change, and the pairs that are upstream/downstream or inside an
intron's body, are found per block in C (``native.c``: gas_tx_classify), and the text of
every entry, the picks and the INFO text written there too (gas_tx_entries): a change's entry
inside a transcript (SNV, MNV, deletion, insertion, delins) by gas_change_effect, called per
row inside that kernel and checked entry by entry against ``Effects.one``'s Python rules, which
stay the specification and write the rare entries the kernel declines (a transcript's sequences
decoded once and cached); the gene-level stages stay vectorised in ``block.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Generic, TypeVar, cast

import numpy as np

from gas.annotator.engine.bundle import TX_CANONICAL, TX_END_NF, TX_MANE, TX_START_NF
from gas.annotator.engine.consequences import most_severe_rank
from gas.annotator.engine.database import FLANK, AnnotationDatabase, Packed
from gas.annotator.engine.textops import (
    UPPER,
    EntryText,
    SnvTables,
    SplitLines,
    TxTables,
    TxText,
    bounds_of,
    byte_table,
    count_byte,
    distinct,
    gather,
    gather_columns,
    key_of,
    odd_info,
    offsets_of,
    ranges,
    ranges_equal,
    source_alleles,
    split_lines,
    tx_classify,
    tx_entries,
)
from gas.core.vocab import CSQ_FIELDS as CSQ_FIELD_NAMES
from gas.core.vocab import CSQ_INFO_IDS, IMPACT, RANK, TERMS
from gas.core.vocab import PICK_FIELDS as PICK_IDS

CSQ_FIELDS = "|".join(CSQ_FIELD_NAMES)
CSQ_HEADER = (
    f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from GAS. Format: {CSQ_FIELDS}">'
)

# The consequence terms (SEVERITY, RANK) and their IMPACT are the vocabulary's (gas.core.vocab).

CODON_TABLE = dict(
    zip(
        (a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"),
        "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        strict=True,
    )
)
THREE = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly", "H": "His",
    "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp",
    "Y": "Tyr", "V": "Val", "*": "Ter", "X": "Xaa", "U": "Sec",
}  # fmt: skip
P = TypeVar("P")
_COMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")
SPLICE_INTRON = (3, 8)  # splice_region: intron bases 3..8 from an exon edge
SPLICE_EXON = 3  # and exon bases 1..3


_COMP_BYTES = bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan")


# gas_tx_classify's kinds (native.c)
_INTRON, _OTHER = 2, 3


# gas_change_effect's terms, bit b for CHANGE_TERMS[b] (native.c's SNV_* bits).
CHANGE_TERMS = (
    "splice_acceptor_variant", "splice_donor_variant", "splice_region_variant", "intron_variant",
    "non_coding_transcript_exon_variant", "non_coding_transcript_variant", "5_prime_UTR_variant",
    "3_prime_UTR_variant", "coding_sequence_variant", "incomplete_terminal_codon_variant", "start_lost",
    "stop_gained", "stop_lost", "stop_retained_variant", "synonymous_variant", "missense_variant",
    "NMD_transcript_variant", "frameshift_variant", "inframe_insertion", "inframe_deletion",
    "start_retained_variant",
)  # fmt: skip


def revcomp(s: str) -> str:
    if s.isascii():  # bytes.translate is a table lookup, str.translate a dict lookup per character
        return s.encode().translate(_COMP_BYTES)[::-1].decode()
    return s.translate(_COMP)[::-1]


# translate() of a long sequence in numpy: a codon's index in CODON_TABLE's order (T, C, A, G
# = 0..3 per base), or 64 and more when a base is anything else (N, lower case), which reads X.
_BASE_INDEX = np.full(256, 64, dtype=np.int16)
_BASE_INDEX[list(b"TCAG")] = range(4)
_AA_AT = np.full(16 * 64 + 4 * 64 + 64 + 1, ord("X"), dtype=np.uint8)
_AA_AT[:64] = np.frombuffer("".join(CODON_TABLE.values()).encode(), dtype=np.uint8)
_NUMPY_CODONS = 40  # below this many codons the per-call cost of numpy exceeds the Python loop's


def translate(seq: str) -> str:
    n = len(seq) - len(seq) % 3
    if n >= 3 * _NUMPY_CODONS and seq.isascii():
        v = _BASE_INDEX[np.frombuffer(seq.encode(), dtype=np.uint8, count=n)]
        return _AA_AT[v[0::3] * 16 + v[1::3] * 4 + v[2::3]].tobytes().decode()
    return "".join([CODON_TABLE.get(seq[i : i + 3], "X") for i in range(0, n, 3)])


def translate_to_stop(seq: str) -> str:
    """``to_stop(translate(seq))`` without translating past the first stop."""
    if len(seq) >= 3 * _NUMPY_CODONS:
        return to_stop(translate(seq))
    out = []
    for i in range(0, len(seq) - 2, 3):
        aa = CODON_TABLE.get(seq[i : i + 3], "X")
        out.append(aa)
        if aa == "*":
            break
    return "".join(out)


def to_stop(protein: str) -> str:
    """The protein up to and including its first stop."""
    k = protein.find("*")
    return protein if k < 0 else protein[: k + 1]


def _prefix_len(a: str, b: str) -> int:
    """Length of the longest common prefix of a and b (bisection over C slice comparisons:
    a protein's unchanged residues are not compared one by one in Python)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _suffix_len(a: str, b: str, limit: int) -> int:
    """Length (at most ``limit``) of the longest common suffix of a and b."""
    lo, hi = 0, max(0, limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Three(dict[int, str]):
    """str.translate's table of three-letter amino acids: any other character reads Xaa."""

    def __missing__(self, key: int) -> str:
        return "Xaa"


_THREE = _Three({ord(a): t for a, t in THREE.items()})


def three(aa: str) -> str:
    return aa.translate(_THREE)  # one C call, not a Python step per residue


@dataclass(slots=True)  # no __dict__: one object per entry, not two, for the garbage collector
class Csq:
    """One CSQ entry (ALT x transcript); ``fields`` in CSQ_FIELDS order."""

    allele_index: int
    terms: list[str]
    fields: list[str]
    tx: int  # transcript row, -1 for intergenic
    pick_key: tuple[object, ...]

    @property
    def consequence(self) -> str:
        return self.fields[1]


# FLAGS text of a transcript's incomplete-CDS bits.
_NF_TEXT = {
    bits: "&".join(n for n, bit in (("cds_start_NF", TX_START_NF), ("cds_end_NF", TX_END_NF)) if bits & bit)
    for bits in (0, TX_START_NF, TX_END_NF, TX_START_NF | TX_END_NF)
}
_TEXT_STRINGS = ("tx_id", "tx_gene_id", "tx_gene_name", "tx_biotype", "tx_mane")  # gas_tx_entries' S_* order
_LAZY = frozenset(("exons", "exon_starts", "exon_ends", "tx_exons", "cdna_at", "cds", "cds_ends", "cds_disjoint"))


class Tx:
    """One transcript, decoded from the bundle's arrays."""

    def __init__(self, e: Effects, i: int):
        # The scalars (one numpy row: per-item numpy indexing costs a microsecond each); the
        # exon and CDS lists are decoded on first use (cached properties below): upstream,
        # downstream and intron-body entries, most of a whole-genome file's, need none of them.
        start, end, strand, flags, phase, x0, x1, y0, y1, c0, c1 = e.tx_scalars[i]
        self.i = i
        self.start, self.end, self.strand, self.flags, self.phase = start, end, strand, flags, phase
        self._exon_rows, self._cds_rows = (x0, x1), (y0, y1)
        self.n_exons = x1 - x0
        self.tx_id, self.gene_id, self.gene_name, self.biotype, protein_id, self.mane = e.tx_strings[i]
        self.protein_id = protein_id or self.tx_id
        self._effects = e
        self.coding = y1 > y0
        self.cds_c0, self.cds_c1 = c0, c1  # cDNA positions of the first and last coding bases
        # Phase: GFF3's, of the 5' CDS row: bases before the first whole codon. Like Ensembl,
        # the coding sequence is padded with N so that codons keep their frame.
        self.pad = (3 - phase) % 3 if self.coding and phase else 0

        # The transcript's own CSQ fields and pick-order keys, the same for each of its entries.
        self.fields = [""] * 24
        f = self.fields
        f[3], f[4], f[5], f[6], f[7] = self.gene_name, self.gene_id, "Transcript", self.tx_id, self.biotype
        f[19] = str(self.strand)
        f[20] = _NF_TEXT[self.flags & (TX_START_NF | TX_END_NF)]
        f[22] = "YES" if self.canonical else ""
        f[23] = self.mane if self.flags & TX_MANE and self.mane else ("YES" if self.flags & TX_MANE else "")
        cds_len = self.cds_c1 - self.cds_c0 + 1 if self.coding else 0  # len(cds_seq) without the padding
        self.pick_head = (
            0 if self.flags & TX_MANE else 1,
            0 if self.canonical else 1,
            0 if self.biotype == "protein_coding" else 1,
        )
        self.pick_tail = (-cds_len, -(self.end - self.start), self.tx_id)

    # Decoded on first use (``__getattr__``), each group at once.
    exons: list[tuple[int, int]]
    exon_starts: list[int]
    exon_ends: list[int]
    tx_exons: list[tuple[int, int]]  # in transcription order
    cdna_at: list[int]  # each of tx_exons' first cDNA position (1-based)
    cds: list[tuple[int, int]]
    cds_ends: list[int]
    cds_disjoint: bool

    def __getattr__(self, name: str) -> object:
        if name not in _LAZY:
            raise AttributeError(name)
        a = self._effects.a
        if name in ("exons", "exon_starts", "exon_ends", "tx_exons", "cdna_at"):
            lo, hi = self._exon_rows
            self.exon_starts, self.exon_ends = a["exon_start"][lo:hi].tolist(), a["exon_end"][lo:hi].tolist()
            self.exons = list(zip(self.exon_starts, self.exon_ends, strict=True))
            self.tx_exons = self.exons if self.strand > 0 else self.exons[::-1]
            self.cdna_at = []
            n = 1
            for s, t in self.tx_exons:
                self.cdna_at.append(n)
                n += t - s
        else:
            lo, hi = self._cds_rows
            self.cds_ends = a["cds_end"][lo:hi].tolist()
            self.cds = list(zip(a["cds_start"][lo:hi].tolist(), self.cds_ends, strict=True))
            # Disjoint rows (always so for exons, which the build checks) have ascending ends
            # too, so the rows a change overlaps are found by bisection.
            self.cds_disjoint = all(e0 <= s1 for (_, e0), (s1, _) in zip(self.cds, self.cds[1:], strict=False))
        return self.__dict__[name]

    # The sequences are decoded on first use: most entries (upstream, downstream, intron) of a
    # whole-genome file need only the exon structure, and a transcript's whole protein costs
    # more than the entry that needs it.
    @cached_property
    def cdna(self) -> str:
        cdna = b"".join([self._effects.seq_bytes(s, t) for s, t in self.exons]).decode()  # one decode
        return cdna if self.strand > 0 else revcomp(cdna)

    @cached_property
    def cds_seq(self) -> str:
        return "N" * self.pad + self.cdna[self.cds_c0 - 1 : self.cds_c1] if self.coding else ""

    @cached_property
    def protein(self) -> str:
        return to_stop(translate(self.cds_seq)) if self.coding else ""

    def _cds_bases(self, head: bool) -> list[int]:
        """Genomic positions of the first (head) or last three coding bases, in transcription order."""
        plus = self.strand > 0
        rows = self.cds if plus == head else self.cds[::-1]
        out: list[int] = []
        for cs, ce in rows:
            out.extend(range(cs, min(ce, cs + 3)) if plus == head else range(ce - 1, max(cs, ce - 3) - 1, -1))
            if len(out) >= 3:
                break
        out = out[:3]
        return out if head else out[::-1]

    @cached_property
    def start_codon(self) -> list[int]:
        seq = self.cds_seq
        starts = self.coding and not self.pad and not self.flags & TX_START_NF and translate(seq[:3]) == "M"
        return self._cds_bases(True) if starts else []

    @cached_property
    def stop_codon(self) -> list[int]:
        """The stop codon: the last whole codon when it translates to a stop."""
        seq = self.cds_seq
        whole = len(seq) - len(seq) % 3
        stops = self.coding and len(seq) % 3 == 0 and translate(seq[whole - 3 : whole]) == "*"
        bases = self._cds_bases(False) if stops else []
        return bases if len(bases) == 3 else []

    @property
    def canonical(self) -> bool:
        return bool(self.flags & TX_CANONICAL)

    @property
    def nmd(self) -> bool:
        return self.biotype == "nonsense_mediated_decay"

    def cdna_pos(self, g: int) -> int | None:
        """cDNA position (1-based) of genomic base g, None when not exonic."""
        j = bisect_right(self.exon_starts, g) - 1
        if j < 0 or g >= self.exon_ends[j]:
            return None
        if self.strand > 0:
            return self.cdna_at[j] + g - self.exon_starts[j]
        return self.cdna_at[len(self.exon_starts) - 1 - j] + self.exon_ends[j] - 1 - g

    def cds_pos(self, g: int) -> int | None:
        """CDS position (1-based, counting the phase padding) of genomic base g."""
        c = self.cdna_pos(g)
        if c is None or not self.coding or not self.cds_c0 <= c <= self.cds_c1:
            return None
        return c - self.cds_c0 + 1 + self.pad

    def hgvs_pos(self, g: int) -> str:
        """c./n. position of genomic base g: exonic, UTR (-N, *N) or intronic (+N/-N)."""
        c = self.cdna_pos(g)
        if c is not None:
            return self._exonic(c)
        # Intronic: offset from the nearest exon edge (ties: from the exon 5' of it).
        best: tuple[int, int, str] | None = None
        j = bisect_right(self.exon_starts, g)
        for s, t in self.exons[max(0, j - 1) : j + 1]:
            for edge, dist in ((t - 1, g - (t - 1)), (s, g - s)):
                d = abs(dist)
                if best is None or d < best[0] or (d == best[0] and self._upstream_edge(edge, g)):
                    offset = dist if self.strand > 0 else -dist
                    best = (d, edge, f"{offset:+d}")
        assert best is not None
        c = self.cdna_pos(best[1])
        assert c is not None
        return self._exonic(c) + best[2]

    def _upstream_edge(self, edge: int, g: int) -> bool:
        return (edge < g) if self.strand > 0 else (edge > g)

    def _exonic(self, c: int) -> str:
        if not self.coding:
            return str(c)
        if c < self.cds_c0:
            return f"-{self.cds_c0 - c}"
        if c > self.cds_c1:
            return f"*{c - self.cds_c1}"
        return str(c - self.cds_c0 + 1 + self.pad)

    @property
    def prefix(self) -> str:
        return "c." if self.coding else "n."


def intron_terms(coding: bool, nmd: bool) -> list[str]:
    """The terms of a change inside an intron's body only (``Effects._inside``'s)."""
    terms = ["intron_variant", *(() if coding else ("non_coding_transcript_variant",))]
    return sorted(terms + (["NMD_transcript_variant"] if nmd else []), key=RANK.__getitem__)


# gas_tx_entries' entry kinds (native.c's K_*: upstream, downstream, intron body of a coding
# transcript, + 1 NMD, + 2 non-coding; then intergenic), their terms, the words it writes
# (its W_*, in order: then gas_change_effect's terms and their IMPACT) and the kinds' pick
# ranks, then the terms'.
_KIND_TERMS = [
    ["upstream_gene_variant"],
    ["downstream_gene_variant"],
    *(intron_terms(coding, nmd) for coding in (True, False) for nmd in (False, True)),
    ["intergenic_variant"],
]
_WORDS = [
    *("&".join(t).encode() for t in _KIND_TERMS[:6]),
    *(IMPACT[t[0]].encode() for t in _KIND_TERMS[:6]),
    b"intergenic_variant", IMPACT["intergenic_variant"].encode(), b"Transcript", b"YES",
    *(_NF_TEXT[bits].encode() for bits in (0, TX_START_NF, TX_END_NF, TX_START_NF | TX_END_NF)),
    b"c.", b"n.", b"protein_coding", b"nonsense_mediated_decay",
    *(t.encode() for t in CHANGE_TERMS), *(IMPACT[t].encode() for t in CHANGE_TERMS),
]  # fmt: skip
_KIND_RANK = np.array([*(RANK[t[0]] for t in _KIND_TERMS[:6]), *(RANK[t] for t in CHANGE_TERMS)], dtype=np.int64)


def term_mask(terms: Iterable[str]) -> int:
    """A set of terms as a mask: bit RANK[t] of each (TERMS' 27 fit an int64; the lowest bit
    set is the most severe term)."""
    return sum(1 << RANK[t] for t in set(terms))


def _mask_tables(bit_terms: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """For a bit set whose bit b stands for the terms bit_terms[b]: per byte of it, the term
    mask of each of the byte's 256 values."""
    tables = []
    for lo in range(0, len(bit_terms), 8):
        byte = bit_terms[lo : lo + 8]
        masks = [term_mask(t for b, terms in enumerate(byte) if v >> b & 1 for t in terms) for v in range(256)]
        tables.append(np.array(masks, dtype=np.int64))
    return tables


def _masks_of(bits: np.ndarray, tables: list[np.ndarray]) -> np.ndarray:
    """The term mask of each bit set, a table lookup per byte."""
    out = np.zeros(bits.size, dtype=np.int64)
    for k, table in enumerate(tables):
        out |= table[(bits >> (8 * k)) & 255]
    return out


# gas_tx_entries' change_mask (entry kinds) and change_bits (gas_change_effect's terms) as masks
_KIND_MASKS = _mask_tables(_KIND_TERMS)
_CHANGE_MASKS = _mask_tables([[t] for t in CHANGE_TERMS])


class _Pages(ABC, Generic[P]):
    """Per-transcript rows made a page of transcripts at a time, on first use: a human
    bundle's 250k transcripts' names took most of the time to the first record when decoded
    whole, and their coding spans (``tx_scalars``) ~0.2 s of CPU."""

    PAGE = 4096

    def __init__(self, n: int):
        self.n = n
        self.pages: dict[int, P] = {}

    def _page(self, i: int) -> tuple[P, int]:
        k, j = divmod(i, self.PAGE)
        page = self.pages.get(k)
        if page is None:
            lo, hi = k * self.PAGE, min(self.n, (k + 1) * self.PAGE)
            if not 0 <= lo < hi:
                raise IndexError(f"transcript {i} of {self.n}")
            page = self.pages[k] = self._make(lo, hi)
        return page, j

    @abstractmethod
    def _make(self, lo: int, hi: int) -> P:
        """The page of rows lo..hi."""


class _TxStrings(_Pages[list[tuple[str, ...]]]):
    """Packed string tables of one row each per transcript: a row's strings as one tuple, in
    the tables' order."""

    def __init__(self, tables: list[Packed]):
        super().__init__(len(tables[0]))
        self.tables = tables

    def __getitem__(self, i: int) -> tuple[str, ...]:
        page, j = self._page(i)
        return page[j]

    def _make(self, lo: int, hi: int) -> list[tuple[str, ...]]:
        return list(zip(*(_decode(t, lo, hi) for t in self.tables), strict=True))


def _decode(packed: Packed, lo: int, hi: int) -> list[str]:
    bounds = packed.offsets[lo : hi + 1].tolist()
    raw = packed.data[bounds[0] : bounds[-1]].tobytes()
    base = bounds[0]
    return [raw[a - base : b - base].decode() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class _TxScalars(_Pages[memoryview]):
    """``tx_scalars``' rows, as lists of ints (a page held flat, as a memoryview: a row's slice
    and tolist() cost a fraction of a numpy row's)."""

    def __init__(self, a: dict[str, np.ndarray]):
        super().__init__(a["tx_start"].size)
        self.a = a
        # Each made page's coding spans, for gas_tx_entries (rows of pages not made are not read).
        self.c01 = np.zeros((self.n, 2), dtype=np.int64)

    def make_pages(self, rows: np.ndarray) -> None:
        """Makes the pages of these transcript rows."""
        for k in distinct(rows // self.PAGE).tolist():
            self._page(k * self.PAGE)

    def __getitem__(self, i: int) -> list[int]:
        page, j = self._page(i)
        return page[j * _SCALARS : (j + 1) * _SCALARS].tolist()

    def _make(self, lo: int, hi: int) -> memoryview:
        rows = tx_scalars(self.a, lo, hi)
        self.c01[lo:hi] = rows[:, 9:11]
        return rows.reshape(-1).data


_SCALARS = 11  # tx_scalars' columns


def tx_scalars(a: dict[str, np.ndarray], lo: int, hi: int) -> np.ndarray:
    """Per transcript of rows [lo, hi), one int64 row: start, end, strand, flags, phase, its exon
    rows [x0, x1) and CDS rows [y0, y1), and the cDNA positions of its first and last coding
    bases (0, 0 when non-coding), worked out array-wise for those transcripts at once."""
    ex_off, cds_off = a["tx_exon_offsets"][lo : hi + 1], a["tx_cds_offsets"][lo : hi + 1]
    coding = cds_off[1:] > cds_off[:-1]
    n_cds = a["cds_start"].size
    # The coding span [first, last] in genomic order: the first CDS row's start, the last one's end - 1.
    first = np.where(coding, a["cds_start"][np.minimum(cds_off[:-1], max(0, n_cds - 1))] if n_cds else 0, 0)
    last1 = np.where(coding, a["cds_end"][np.maximum(cds_off[1:] - 1, 0)] if n_cds else 0, 0)
    owner = np.repeat(np.arange(ex_off.size - 1), np.diff(ex_off))  # each exon row's transcript
    xs, xe = a["exon_start"][ex_off[0] : ex_off[-1]], a["exon_end"][ex_off[0] : ex_off[-1]]

    def per_tx(bases: np.ndarray) -> np.ndarray:
        """Sums of per-exon-row figures per transcript."""
        total = np.concatenate([[0], np.cumsum(bases)])
        return total[ex_off[1:] - ex_off[0]] - total[ex_off[:-1] - ex_off[0]]

    # Exonic bases before the first coding base, and before the last one's end.
    before_first = per_tx(np.clip(np.minimum(first[owner], xe) - xs, 0, None))
    before_end = per_tx(np.clip(np.minimum(last1[owner], xe) - xs, 0, None))
    cdna_len = per_tx(xe - xs)
    plus = a["tx_strand"][lo:hi] > 0
    # cDNA position of base g: exonic bases before it + 1 (plus strand), after it + 1 (minus).
    c0 = np.where(plus, before_first + 1, cdna_len - before_end + 1)
    c1 = np.where(plus, before_end, cdna_len - before_first)
    c0, c1 = np.where(coding, c0, 0), np.where(coding, c1, 0)
    columns = (
        a["tx_start"][lo:hi],
        a["tx_end"][lo:hi],
        a["tx_strand"][lo:hi],
        a["tx_flags"][lo:hi],
        a["tx_phase"][lo:hi],
    )
    return np.stack([*columns, ex_off[:-1], ex_off[1:], cds_off[:-1], cds_off[1:], c0, c1], axis=1).astype(np.int64)


class Effects:
    """The effects engine over one bundle (cheap to create; transcripts decoded on use)."""

    def __init__(self, db: AnnotationDatabase):
        self.db = db
        self.a = db.arrays
        self.seq_arr = self.a["seq"]
        self.seq_offsets = self.a["seq_offsets"]
        # Plain Python views for the per-call paths (numpy scalar indexing and slicing cost
        # microseconds each, and these run several times per variant x transcript).
        self._genome = self.seq_arr.data  # a memoryview of the mapped bytes
        self._contig_base: list[int] = self.seq_offsets.tolist()
        a = self.a
        self.tables = TxTables(
            a["tx_start"], a["tx_end"], a["tx_strand"], a["tx_exon_offsets"], a["exon_start"], a["exon_end"],
            int(a["tx_max_span"][0]),
        )  # fmt: skip
        names = ("tx_id", "tx_gene_id", "tx_gene_name", "tx_biotype", "tx_protein_id", "tx_mane")
        self.tx_strings = _TxStrings([db.packed(k) for k in names])
        self.tx_scalars = _TxScalars(a)
        ids, pids = db.packed("tx_id"), db.packed("tx_protein_id")
        self.text_tables = TxText(
            a["tx_flags"], a["tx_phase"], a["tx_cds_offsets"], self.tx_scalars.c01,
            [(p.data, np.ascontiguousarray(p.offsets, dtype=np.int32)) for p in (db.packed(k) for k in _TEXT_STRINGS)],
            _WORDS, _KIND_RANK, SnvTables(a, (ids.data, ids.offsets), (pids.data, pids.offsets)),
        )  # fmt: skip
        self._tx = lru_cache(maxsize=4096)(self._make_tx)

    def _make_tx(self, i: int) -> Tx:
        return Tx(self, i)

    def seq(self, start: int, end: int) -> str:
        """Genome bases [start, end) (global coordinates), clipped to the contig."""
        return self.seq_bytes(start, end).tobytes().decode()

    def seq_bytes(self, start: int, end: int) -> memoryview:
        """``seq``'s bases, a view of the mapped genome."""
        cid = start >> 32
        base = self._contig_base[cid]
        length = self._contig_base[cid + 1] - base
        lo, hi = max(0, start - (cid << 32)), min(length, end - (cid << 32))
        return self._genome[base + lo : base + max(lo, hi)]

    def ref_matches(self, gpos: np.ndarray, u: np.ndarray, ref: np.ndarray, ref_len: np.ndarray) -> np.ndarray:
        """Whether each REF u[ref[i] .. + ref_len[i]] (upper case, not empty) is the genome's
        bases at global 0-based gpos[i] (a REF running past its contig's end is not)."""
        cid, p = gpos >> 32, gpos & 0xFFFFFFFF
        base = self.seq_offsets[cid]
        inside = p + ref_len <= self.seq_offsets[cid + 1] - base
        at = np.flatnonzero(inside)
        inside[at] = ranges_equal(self.seq_arr, base[at] + p[at], u, ref[at], ref_len[at])
        return inside

    # ------------------------------------------------------------ records

    def entries(self, batch: Changes) -> Entries:
        """The CSQ entries of a batch of records' changes (``changes_of``), their picks and
        INFO text. The transcripts near each change and where it lies in them are found in one
        compiled call (``native.c``: gas_tx_classify), and the text written in another
        (gas_tx_entries): upstream, downstream and intron-body entries from the transcript
        tables, the entries inside a transcript by gas_change_effect; only the pairs it declines
        are worked out here by ``one`` (an intron row's HGVSc by ``hgvsc``), so that entries
        never become Python objects."""
        starts, lengths, snv, ref_b, alt_b = batch.start, batch.ref_len, batch.snv, batch.ref_b, batch.alt_b
        bases = batch.bases
        rows = tx_classify(self.tables, FLANK, starts, lengths)
        q_of, tx_of, kind_of = rows[0], rows[1], rows[2]
        self.tx_scalars.make_pages(tx_of)
        row_piece = np.full(q_of.size, -1, dtype=np.int64)
        row_rank = np.zeros(q_of.size, dtype=np.int64)
        pieces: list[bytes] = []
        other_terms: dict[int, int] = {}  # the Python rules' entries' term masks, by change

        def write() -> EntryText | np.ndarray:
            return tx_entries(
                self.tables, self.text_tables, batch.allele_text, ref_b, alt_b, snv, starts, bases, lengths, rows,
                row_piece, row_rank, pieces, _PICK_CSQ, batch.rec_change, batch.rec_alts, batch.change_alt,
                _PICK_NAMES, _NAME_PICK,
            )  # fmt: skip

        while isinstance(text := write(), np.ndarray):
            # The rows the kernel declines: the Python rules' entry (an intron row's: HGVSc) as pieces.
            changes, alleles, change_alt = batch.settled(np.unique(q_of[text]))
            for j in text.tolist():
                ci = int(q_of[j])
                s, r, a = changes[ci]
                tx = self._tx(int(tx_of[j]))
                row_piece[j] = len(pieces)
                if kind_of[j] == _INTRON:
                    pieces.append(self.hgvsc(tx, s, r, a).encode())
                    continue
                entry = self.one(tx, change_alt[ci], alleles[ci].decode(), s, r, a)
                assert entry is not None  # an OTHER row's change touches the transcript's inside
                row_rank[j] = cast(int, entry.pick_key[3])  # the rank in the pick key
                pieces.extend(map(str.encode, entry.fields))
                other_terms[ci] = other_terms.get(ci, 0) | term_mask(entry.terms)
        terms = _masks_of(text.change_mask, _KIND_MASKS) | _masks_of(text.change_bits, _CHANGE_MASKS)
        for q, mask in other_terms.items():
            terms[q] |= mask
        return Entries(text, batch.rec_change, batch.change_alt, terms)

    def one(self, tx: Tx, k: int, allele: str, s: int, r: str, a: str) -> Csq | None:
        """The entry of the change [s, s + len(r)) -> a in transcript tx (None: farther than
        FLANK), by the Python rules: the specification of gas_tx_entries' entries (written in C
        by gas_change_effect, byte for byte these rules), and the entry of a change it declines."""
        e = s + len(r)  # changed genomic bases [s, e); an insertion sits between s-1 and s
        plus = tx.strand > 0
        fields = tx.fields.copy()
        terms: list[str] = []
        ins = not r
        lo, hi = (s - 1, s + 1) if ins else (s, e)  # bases the change touches
        if hi <= tx.start or lo >= tx.end or (ins and (s <= tx.start or s >= tx.end)):
            # Outside the transcript: upstream/downstream within FLANK.
            if e <= tx.start or (ins and s <= tx.start):
                dist = tx.start - (s if ins else e) + 1
                before = True
            else:
                dist = (s if ins else s) - tx.end + 1
                before = False
            if dist > FLANK:
                return None
            term = "upstream_gene_variant" if before == plus else "downstream_gene_variant"
            fields[0], fields[1], fields[2], fields[18] = allele, term, IMPACT[term], str(dist)
            return Csq(k, [term], fields, tx.i, (*tx.pick_head, RANK[term], *tx.pick_tail))
        self._inside(tx, s, e, r, a, terms, fields)
        terms = sorted(set(terms), key=RANK.__getitem__)
        fields[0] = allele
        fields[1] = "&".join(terms)
        fields[2] = IMPACT[terms[0]]
        return Csq(k, terms, fields, tx.i, (*tx.pick_head, RANK[terms[0]], *tx.pick_tail))

    # ------------------------------------------------------------ inside a transcript

    def _inside(self, tx: Tx, s: int, e: int, r: str, a: str, terms: list[str], f: list[str]) -> None:
        plus = tx.strand > 0
        ins = not r
        n_ex = len(tx.exons)
        exons_hit: list[int] = []
        introns_hit: list[int] = []
        exonic = 0  # changed exonic bases (an insertion: 1 when inside an exon)

        def overlaps(a0: int, a1: int) -> bool:
            """The change touches genomic [a0, a1): a base of it, or (an insertion) lies
            between two of its bases."""
            return a0 < s < a1 if ins else (s < a1 and e > a0)

        # Only the exons and introns near the change can be touched (splice regions reach 8
        # bases into an intron and 3 into an exon): found by bisection, not by a loop over all.
        near_lo = max(0, bisect_left(tx.exon_ends, s - SPLICE_INTRON[1] - 1) - 1)
        near_hi = min(n_ex, bisect_right(tx.exon_starts, e + SPLICE_INTRON[1] + 1) + 1)
        for j in range(near_lo, near_hi):
            xs, xe = tx.exons[j]
            if overlaps(xs, xe):
                exons_hit.append(j + 1 if plus else n_ex - j)
                exonic += 1 if ins else min(e, xe) - max(s, xs)
        lo_r, hi_r = SPLICE_INTRON
        for j in range(near_lo, min(near_hi, n_ex - 1)):
            i0, i1 = tx.exons[j][1], tx.exons[j + 1][0]  # the intron [i0, i1)
            # Exon bases 1-3 and intron bases 3-8 from the exon's edge (VEP's splice region); an
            # insertion inside them, or between the exon and the intron or between the splice
            # site and the region, counts (VEP's _intron_overlap).
            region = (
                overlaps(i0 - SPLICE_EXON, i0)
                or overlaps(i1, i1 + SPLICE_EXON)
                or overlaps(i0 + lo_r - 1, i0 + hi_r)
                or overlaps(i1 - hi_r, i1 - lo_r + 1)
                or (ins and s in (i0, i1, i0 + lo_r - 1, i1 - lo_r + 1))
            )
            in_intron = (i0 <= s <= i1) if ins else (s < i1 and e > i0)
            if not in_intron:
                if region:
                    terms.append("splice_region_variant")
                continue
            introns_hit.append(j + 1 if plus else n_ex - 1 - j)
            # The two intron bases at each end (an insertion between them).
            low_site = overlaps(i0, i0 + 2)
            high_site = overlaps(i1 - 2, i1)
            donor, acceptor = (low_site, high_site) if plus else (high_site, low_site)
            if donor:
                terms.append("splice_donor_variant")
            if acceptor:
                terms.append("splice_acceptor_variant")
            body = (i0 + 2 <= s <= i1 - 2) if ins else (s < i1 - 2 and e > i0 + 2)
            if body:
                terms.append("intron_variant")
            if region:
                terms.append("splice_region_variant")
        if exons_hit:
            f[8] = _range_of(exons_hit, n_ex)
        if introns_hit:
            f[9] = _range_of(introns_hit, n_ex - 1)
        if exonic:
            f[12] = self._cdna_range(tx, s, e, ins)
        if not tx.coding:
            terms.append("non_coding_transcript_exon_variant" if exonic else "non_coding_transcript_variant")
        elif exonic or (ins and (tx.cdna_pos(s - 1) is not None or tx.cdna_pos(s) is not None)):
            # (an insertion between an exon's edge and its intron changes that exon too)
            self._coding(tx, s, e, r, a, terms, f)
        if "splice_region_variant" in terms and ("splice_donor_variant" in terms or "splice_acceptor_variant" in terms):
            terms[:] = [t for t in terms if t != "splice_region_variant"]  # the site says more
        if tx.nmd:
            terms.append("NMD_transcript_variant")
        if not terms:  # e.g. a change inside a 1-4 bp intron's splice bases only
            terms.append("intron_variant" if introns_hit else "coding_sequence_variant")
        f[10] = self.hgvsc(tx, s, r, a)

    def _cdna_range(self, tx: Tx, s: int, e: int, ins: bool) -> str:
        if ins:
            c0, c1 = tx.cdna_pos(s - 1), tx.cdna_pos(s)
            if c0 is None or c1 is None:
                return ""
            return f"{min(c0, c1)}-{max(c0, c1)}"
        first, last = (s, e - 1) if tx.strand > 0 else (e - 1, s)
        c0, c1 = tx.cdna_pos(first), tx.cdna_pos(last)
        if c0 is not None and c0 == c1 and first == last:
            return str(c0)
        return f"{'?' if c0 is None else c0}-{'?' if c1 is None else c1}"

    def _coding(self, tx: Tx, s: int, e: int, r: str, a: str, terms: list[str], f: list[str]) -> None:
        """Terms, positions, codons, amino acids and HGVSp of an exonic change of a coding
        transcript."""
        plus = tx.strand > 0
        ins = not r
        cs0, ce1 = tx.cds[0][0], tx.cds[-1][1]
        if ins:
            left, right = tx.cds_pos(s - 1), tx.cds_pos(s)
            if left is not None and right is not None:
                i0 = i1 = (right if plus else left) - 1
            elif (left is not None and tx.cdna_pos(s) is None) or (right is not None and tx.cdna_pos(s - 1) is None):
                # Between a coding base and the intron: the inserted bases join the exon (VEP).
                # In transcription order they come before `first` or after `after`.
                first, after = (right, left) if plus else (left, right)
                i0 = i1 = first - 1 if first is not None else int(after or 0)
            else:  # at the CDS's edge by a UTR base, or by the intron of a UTR exon: the UTR side
                terms.append("5_prime_UTR_variant" if (s <= cs0) == plus else "3_prime_UTR_variant")
                return
        else:
            rows = tx.cds[bisect_right(tx.cds_ends, s) :] if tx.cds_disjoint else tx.cds
            coding = _overlap(rows, s, e)
            # VEP's within_5_prime_utr / within_3_prime_utr: the change overlaps the transcript's span
            # below (above) the CDS, intron bases included, and an exonic base (`_before_coding`).
            if min(e, cs0) > max(s, tx.start):
                terms.append("5_prime_UTR_variant" if plus else "3_prime_UTR_variant")
            if min(e, tx.end) > max(s, ce1):
                terms.append("3_prime_UTR_variant" if plus else "5_prime_UTR_variant")
            if coding == 0:
                return
            first, last = (s, e - 1) if plus else (e - 1, s)
            p0, p1 = tx.cds_pos(first), tx.cds_pos(last)
            if coding < e - s or p0 is None or p1 is None or p1 - p0 + 1 != e - s:
                # Partly coding (across an intron or into a UTR): no codon change to describe.
                f[13] = f"{'?' if p0 is None else p0}-{'?' if p1 is None else p1}"
                aa0 = "?" if p0 is None else str((p0 - 1) // 3 + 1)
                aa1 = "?" if p1 is None else str((p1 - 1) // 3 + 1)
                f[14] = f"{aa0}-{aa1}"
                # VEP's start_lost / stop_lost of a partly coding change need both its ends in the
                # cDNA (`_overlaps_start_codon`: cdna_start and cdna_end defined).
                in_cdna = tx.cdna_pos(s) is not None and tx.cdna_pos(e - 1) is not None
                if in_cdna and any(s <= g < e for g in tx.start_codon):
                    terms.append("start_lost")
                if in_cdna and any(s <= g < e for g in tx.stop_codon):
                    terms.append("stop_lost")
                if not any(t in terms for t in ("start_lost", "stop_lost")):
                    terms.append("coding_sequence_variant")  # only where nothing more exact holds
                return
            i0, i1 = p0 - 1, p1
        alt_t = a if plus else revcomp(a)
        seq = tx.cds_seq
        alt_cds = seq[:i0] + alt_t + seq[i1:]
        delta = len(alt_t) - (i1 - i0)
        # Positions: cDNA done by the caller; CDS and protein here.
        if ins:
            f[13] = f"{i0}-{i0 + 1}"
            f[14] = f"{(i0 - 1) // 3 + 1}-{i0 // 3 + 1}" if i0 % 3 == 0 else str(i0 // 3 + 1)
        else:
            f[13] = str(i1) if i1 - i0 == 1 else f"{i0 + 1}-{i1}"
            q0, q1 = i0 // 3 + 1, (i1 - 1) // 3 + 1
            f[14] = str(q0) if q0 == q1 else f"{q0}-{q1}"
        w0 = i0 // 3 * 3
        w1: int = (w0 if i0 % 3 == 0 else w0 + 3) if ins else -(-i1 // 3) * 3
        ref_codons = seq[w0:w1]
        alt_codons = alt_cds[w0 : w1 + delta]
        full = len(seq) - len(seq) % 3  # bases in whole codons
        f[16] = f"{_mark(ref_codons, i0 - w0, i1 - w0)}/{_mark(alt_codons, i0 - w0, i0 - w0 + len(alt_t))}"
        frameshift = delta % 3 != 0
        if i1 > full or (ins and i0 >= full):
            terms.append("incomplete_terminal_codon_variant")
            terms.append("coding_sequence_variant")
            return
        ref_aa = translate(ref_codons)
        alt_aa = "X" if frameshift else translate(alt_codons)
        f[15] = ref_aa if ref_aa == alt_aa else f"{ref_aa or '-'}/{alt_aa or '-'}"
        if w0 == 0 and tx.start_codon and (not ins or i0 > 0):
            # VEP's start_lost, its three tests in order: an indel after which the 5' UTR + CDS no
            # longer ends with the CDS, unless in frame beside the start (`_ins_del_start_altered`,
            # `inframe_insertion`/`inframe_deletion`); with a 5' UTR, no ATG left at the start codon's
            # place (`_inv_start_altered`); codon 1's peptide changed (translation_start 1).
            utr5 = tx.cdna[: tx.cds_c0 - 1]
            altered = bool(delta) and not (utr5 + alt_cds).endswith(seq)
            inframe = not frameshift and _inframe_beside(ref_codons, alt_codons, ref_aa, alt_aa)
            cut = len(alt_codons) - len(alt_codons) % 3
            pep = translate(alt_codons[:cut]) + ("X" if cut < len(alt_codons) else "")
            lost = (
                (altered and not inframe)
                or (bool(utr5) and alt_cds[:3] != "ATG")
                or not (pep.startswith(ref_aa) or pep.endswith(ref_aa))
            )
            if delta and not altered:
                terms.append("start_retained_variant")
            if lost:
                terms.append("start_lost")
                f[11] = f"{tx.protein_id}:p.Met1?"
                if frameshift:
                    terms.append("frameshift_variant")
                return
        utr3 = tx.cdna[tx.cds_c1 :]
        ref_p = tx.protein
        k = i0 // 3  # the residues before the changed codon are the reference's
        if delta == 0 and ref_p.endswith("*") and w1 // 3 < len(ref_p):
            # A substitution before the stop codon: the codons after the changed ones are the
            # reference's, so the rest of the protein need not be translated again.
            alt_p = ref_p[:k] + (to_stop(alt_aa) if "*" in alt_aa else alt_aa + ref_p[w1 // 3 :])
        elif k < len(ref_p):
            alt_p = ref_p[:k] + translate_to_stop(alt_cds[k * 3 :] + utr3)
        else:
            alt_p = translate_to_stop(alt_cds + utr3)
        if frameshift:
            terms.append("frameshift_variant")
            # VEP's predicates on the changed codons' peptides (the alternate's whole codons):
            # stop_gained / stop_lost when only one holds a stop, stop_retained when both start with one.
            alt_whole = translate(alt_codons[: len(alt_codons) - len(alt_codons) % 3])
            if "*" in alt_whole and "*" not in ref_aa:
                terms.append("stop_gained")
            if "*" in ref_aa and "*" not in alt_whole:
                terms.append("stop_lost")
            if ref_aa.startswith("*") and alt_whole.startswith("*"):
                terms.append("stop_retained_variant")
            f[11] = self._hgvsp_fs(tx, ref_p, alt_p)
            return
        if "*" in alt_aa and "*" not in ref_aa:
            terms.append("stop_gained")
        if "*" in ref_aa and "*" not in alt_aa:
            terms.append("stop_lost")
        if "*" in ref_aa and "*" in alt_aa:
            if ref_aa.index("*") == alt_aa.index("*") or ref_aa == alt_aa:
                terms.append("stop_retained_variant")
        if delta == 0:
            if ref_aa == alt_aa:
                if "*" not in ref_aa and "start_retained_variant" not in terms:
                    terms.append("synonymous_variant")
            elif not any(t in terms for t in ("stop_gained", "stop_lost", "start_lost")):
                terms.append("missense_variant")
        else:
            # As VEP: longer alternate codons are an insertion, shorter a deletion, whatever
            # residues change beside them (bcftools csq agrees).
            terms.append("inframe_insertion" if delta > 0 else "inframe_deletion")
        f[11] = self._hgvsp_inframe(tx, ref_p, alt_p, i0 // 3, delta // 3)

    # ------------------------------------------------------------ HGVS

    def _hgvsp_fs(self, tx: Tx, ref_p: str, alt_p: str) -> str:
        p = _prefix_len(ref_p, alt_p)
        if p >= len(ref_p) or ref_p[p] == "X":
            return ""  # an unknown residue (the N-padded first codon of a cds_start_NF transcript)
        head = f"{tx.protein_id}:p.{three(ref_p[p])}{p + 1}"
        if p >= len(alt_p):
            return f"{head}fsTer?"
        if alt_p[p] == "*":
            return f"{head}Ter"
        n = alt_p.find("*")
        return f"{head}{three(alt_p[p])}fsTer{n - p + 1 if n >= 0 else '?'}"

    def _hgvsp_inframe(self, tx: Tx, ref_p: str, alt_p: str, codon: int, shift: int) -> str:
        """HGVSp of an in-frame change; ``shift``: codons inserted (+) or deleted (-)."""
        text = self._hgvsp_inframe_text(tx, ref_p, alt_p, codon, shift)
        # No HGVSp names an unknown residue (X: the N-padded first codon of cds_start_NF).
        return "" if "Xaa" in text else text

    def _hgvsp_inframe_text(self, tx: Tx, ref_p: str, alt_p: str, codon: int, shift: int) -> str:
        pid = f"{tx.protein_id}:p."
        if ref_p == alt_p:
            aa = translate(tx.cds_seq[codon * 3 : codon * 3 + 3])
            return f"{pid}{three(aa)}{codon + 1}=" if aa else ""
        p = _prefix_len(ref_p, alt_p)
        if p >= len(ref_p):
            return ""
        stop_ref = ref_p.endswith("*")
        # A new stop earlier than the old one: the first changed residue, up to the new stop.
        new_stop = alt_p.find("*")
        old_stop = len(ref_p) - 1 + shift if stop_ref else len(ref_p) + shift  # where the old stop now is
        if new_stop >= p and new_stop < old_stop:
            if new_stop == p:
                return f"{pid}{three(ref_p[p])}{p + 1}Ter"
            end = min(new_stop, len(ref_p) - 1)  # the new stop may lie in inserted residues
            if end == p:
                return f"{pid}{three(ref_p[p])}{p + 1}delins{three(alt_p[p : new_stop + 1])}"
            last = f"{three(ref_p[end])}{end + 1}"
            return f"{pid}{three(ref_p[p])}{p + 1}_{last}delins{three(alt_p[p : new_stop + 1])}"
        if stop_ref and p == len(ref_p) - 1:  # the stop codon lost: an extension
            if p >= len(alt_p):
                return ""  # the transcript ends inside the changed codon: nothing to say
            n = alt_p.find("*")
            return f"{pid}Ter{p + 1}{three(alt_p[p])}extTer{n - p if n >= 0 else '?'}"
        q = _suffix_len(ref_p, alt_p, min(len(ref_p), len(alt_p)) - p)
        deleted, inserted = ref_p[p : len(ref_p) - q], alt_p[p : len(alt_p) - q]
        first = f"{three(ref_p[p])}{p + 1}" if p < len(ref_p) else ""
        if len(deleted) == 1 and len(inserted) == 1:
            return f"{pid}{three(deleted)}{p + 1}{three(inserted)}"
        if not deleted:
            k = len(inserted)
            if p >= k and ref_p[p - k : p] == inserted:
                if k == 1:
                    return f"{pid}{three(ref_p[p - 1])}{p}dup"
                return f"{pid}{three(ref_p[p - k])}{p - k + 1}_{three(ref_p[p - 1])}{p}dup"
            if p == 0:
                return ""
            return f"{pid}{three(ref_p[p - 1])}{p}_{first}ins{three(inserted)}"
        last = f"{three(ref_p[p + len(deleted) - 1])}{p + len(deleted)}"
        span = first if len(deleted) == 1 else f"{first}_{last}"
        if not inserted:
            return f"{pid}{span}del"
        return f"{pid}{span}delins{three(inserted)}"

    def hgvsc(self, tx: Tx, s: int, r: str, a: str) -> str:
        """HGVSc of the minimal change [s, s+len(r)) -> a, shifted 3' in the transcript's
        direction (within the transcript) for deletions and insertions."""
        plus = tx.strand > 0
        e = s + len(r)
        if r and a:
            if len(r) == 1 and len(a) == 1:
                ref_t, alt_t = (r, a) if plus else (revcomp(r), revcomp(a))
                return f"{tx.tx_id}:{tx.prefix}{tx.hgvs_pos(s)}{ref_t}>{alt_t}"
            return f"{tx.tx_id}:{tx.prefix}{self._span(tx, s, e)}delins{a if plus else revcomp(a)}"
        if not a:  # deletion
            s, e = self._shift_del(tx, s, e)
            return f"{tx.tx_id}:{tx.prefix}{self._span(tx, s, e)}del"
        s, a = self._shift_ins(tx, s, a)
        k = len(a)
        if plus and self.seq(s - k, s) == a:
            return f"{tx.tx_id}:{tx.prefix}{self._span(tx, s - k, s)}dup"
        if not plus and self.seq(s, s + k) == a:
            return f"{tx.tx_id}:{tx.prefix}{self._span(tx, s, s + k)}dup"
        left, right = (s - 1, s) if plus else (s, s - 1)
        ins_t = a if plus else revcomp(a)
        return f"{tx.tx_id}:{tx.prefix}{tx.hgvs_pos(left)}_{tx.hgvs_pos(right)}ins{ins_t}"

    def _span(self, tx: Tx, s: int, e: int) -> str:
        first, last = (s, e - 1) if tx.strand > 0 else (e - 1, s)
        return tx.hgvs_pos(first) if first == last else f"{tx.hgvs_pos(first)}_{tx.hgvs_pos(last)}"

    def _shift_del(self, tx: Tx, s: int, e: int) -> tuple[int, int]:
        lo, hi = min(s, tx.start), max(e, tx.end)  # shifted within the transcript (or the change)
        window = self.seq(lo, hi)
        if tx.strand > 0:
            while e < hi and window[e - lo] == window[s - lo]:
                s, e = s + 1, e + 1
        else:
            while s > lo and window[s - 1 - lo] == window[e - 1 - lo]:
                s, e = s - 1, e - 1
        return s, e

    def _shift_ins(self, tx: Tx, s: int, a: str) -> tuple[int, str]:
        lo, hi = min(s, tx.start), max(s, tx.end)
        window = self.seq(lo, hi)
        if tx.strand > 0:
            while s < hi and window[s - lo] == a[0]:
                a = a[1:] + a[0]
                s += 1
        else:
            while s > lo and window[s - 1 - lo] == a[-1]:
                a = a[-1] + a[:-1]
                s -= 1
        return s, a


def _inframe_beside(ref_codons: str, alt_codons: str, ref_aa: str, alt_aa: str) -> bool:
    """VEP's inframe_insertion (the alternate peptide, cut after its first stop, starts or ends with
    the reference one) and inframe_deletion (the reference codons start or end with the alternate
    ones, or hold them whole inside) tests."""
    if len(alt_codons) > len(ref_codons):
        cut = to_stop(alt_aa)
        return cut.startswith(ref_aa) or cut.endswith(ref_aa)
    if ref_codons.startswith(alt_codons) or ref_codons.endswith(alt_codons):
        return True
    p = _prefix_len(ref_codons, alt_codons)
    q = _suffix_len(ref_codons[p:], alt_codons[p:], len(alt_codons) - p)
    return q == len(alt_codons) - p and (len(ref_codons) - p - q) % 3 == 0


def _overlap(rows: list[tuple[int, int]], s: int, e: int) -> int:
    """Bases of [s, e) inside the ascending ``rows``, from the first that ends after s."""
    n = 0
    for xs, xe in rows:
        if xs >= e:
            break  # ascending starts: no later row reaches [s, e)
        n += max(0, min(e, xe) - max(s, xs))
    return n


def _mark(codons: str, lo: int, hi: int) -> str:
    """Codons with the changed bases [lo, hi) in upper case, the others lower."""
    if not codons:
        return "-"
    return codons[:lo].lower() + codons[lo:hi].upper() + codons[hi:].lower()


def _range_of(numbers: list[int], total: int) -> str:
    lo, hi = min(numbers), max(numbers)
    return f"{lo}/{total}" if lo == hi else f"{lo}-{hi}/{total}"


@dataclass
class Changes:
    """A batch of records' changes (``changes_of``), one per ALT that changes something: the
    minimal form (VEP's trim: shared leading, then trailing bases removed) at global 0-based
    ``start``, REF and ALT as pieces of ``text`` (the records' bytes, upper case), VEP's allele
    string (the first base shared by a REF and ALT of different lengths dropped, '-' when
    nothing is left), the ALT's index in its record; record r's changes are
    [rec_change[r], rec_change[r + 1]) and it has rec_alts[r] ALTs."""

    text: np.ndarray
    start: np.ndarray
    ref: np.ndarray
    ref_len: np.ndarray
    alt: np.ndarray
    alt_len: np.ndarray
    alleles: Packed
    change_alt: np.ndarray
    rec_change: np.ndarray
    rec_alts: np.ndarray

    def settled(self, qs: np.ndarray) -> tuple[dict[int, tuple[int, str, str]], dict[int, bytes], dict[int, int]]:
        """Changes qs as Python objects, for the entries worked out in Python: (start, REF, ALT),
        the VEP allele and the ALT index of each."""
        keys = qs.tolist()
        pieces = zip(self.start[qs].tolist(), _texts(self.text, self.ref[qs], self.ref_len[qs]),
                     _texts(self.text, self.alt[qs], self.alt_len[qs]), strict=True)  # fmt: skip
        off = self.alleles.offsets
        alleles = _texts(self.alleles.data, off[qs], off[qs + 1] - off[qs])
        return (
            dict(zip(keys, pieces, strict=True)),
            dict(zip(keys, map(str.encode, alleles), strict=True)),
            dict(zip(keys, self.change_alt[qs].tolist(), strict=True)),
        )

    @property
    def allele_text(self) -> tuple[np.ndarray, np.ndarray]:
        return self.alleles.data, self.alleles.offsets

    @property
    def bases(self) -> tuple[np.ndarray, np.ndarray]:
        """Each change's REF then ALT bytes, packed (text, offsets and the end)."""
        text = gather_columns([(self.text, self.ref, self.ref_len), (self.text, self.alt, self.alt_len)])
        return text, bounds_of(self.ref_len + self.alt_len)

    @property
    def snv(self) -> np.ndarray:
        return (self.ref_len == 1) & (self.alt_len == 1)

    def _first(self, at: np.ndarray, length: np.ndarray) -> np.ndarray:
        return np.where(length > 0, self.text[np.minimum(at, self.text.size - 1)], 0).astype(np.uint8)

    @property
    def ref_b(self) -> np.ndarray:
        """Each change's first REF base (0: none)."""
        return self._first(self.ref, self.ref_len)

    @property
    def alt_b(self) -> np.ndarray:
        return self._first(self.alt, self.alt_len)


def _texts(src: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> list[str]:
    """The pieces src[starts[i] .. + lengths[i]] (ASCII) as strings."""
    text = gather(src, starts, lengths).tobytes().decode()
    ends = np.cumsum(lengths).tolist()
    return [text[a:b] for a, b in zip([0, *ends][:-1], ends, strict=True)]


def _count_in(table: np.ndarray, b: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """How many bytes of each piece b[starts[i] .. + lengths[i]] the byte table holds."""
    piece = np.repeat(np.arange(starts.size), lengths)
    return np.bincount(piece[table[b[ranges(starts, lengths)]]], minlength=starts.size)


def changes_of(
    u: np.ndarray, gpos: np.ndarray, ref: np.ndarray, ref_len: np.ndarray, alts: np.ndarray, alts_len: np.ndarray
) -> Changes:
    """The changes of records whose REF is u[ref[i] .. + ref_len[i]] (sequence) at global 0-based
    gpos[i] and ALT column u[alts[i] .. + alts_len[i]] (u: upper case): each sequence ALT's
    minimal form in one compiled call (``native.c``: gas_source_alleles; an ALT that is not
    sequence, or equals REF, has none)."""
    # (positions passed 1-based: the kernel's mpos -1 means "no minimal form", and a record
    # at POS 0 is at gpos -1)
    rows = source_alleles(u, gpos + 1, ref, ref_len, alts, alts_len, lead_first=True)
    q = np.flatnonzero((rows.mpos >= 0) & ((rows.mref_len > 0) | (rows.malt_len > 0)))
    rec = rows.rec[q]
    # VEP's allele: from the whole REF and ALT
    full_ref_len, araw, araw_len = ref_len[rec], rows.araw[q], rows.araw_len[q]
    drop = ((full_ref_len != araw_len) & (u[ref[rec]] == u[araw])).astype(np.int64)
    a_len = araw_len - drop
    dash = (a_len == 0).astype(np.int64)
    zero = np.zeros(q.size, dtype=np.int64)
    text = gather_columns([(u, araw + drop, a_len), (b"-", zero, dash)])
    alleles = Packed(text, bounds_of(a_len + dash))
    rec_change = bounds_of(np.bincount(rec, minlength=gpos.size))
    rec_alts = np.bincount(rows.rec, minlength=gpos.size)
    return Changes(
        u, rows.mpos[q] - 1, rows.mref[q], rows.mref_len[q], rows.malt[q], rows.malt_len[q], alleles,
        rows.alt[q], rec_change, rec_alts,
    )  # fmt: skip


# ---------------------------------------------------------------- the VCF stage

_PICK_TEXT = {
    "PICK_CONSEQUENCE": "Consequence terms of the picked transcript consequence (& joined)",
    "PICK_IMPACT": "IMPACT of the picked transcript consequence",
    "PICK_SYMBOL": "Gene name of the picked transcript consequence",
    "PICK_FEATURE": "Transcript of the picked transcript consequence",
    "PICK_HGVSC": "HGVSc of the picked transcript consequence",
    "PICK_HGVSP": "HGVSp of the picked transcript consequence",
}
# (INFO id, CSQ field index, description): the ids and indexes are the vocabulary's.
PICK_FIELDS = tuple((name, index, _PICK_TEXT[name]) for name, index in PICK_IDS)
PICK_ORDER = (
    "MANE Select > Ensembl canonical > protein_coding biotype > most severe term > longest CDS > "
    "longest transcript > transcript id"
)
INFO_HEADER = [
    CSQ_HEADER,
    *(
        f'##INFO=<ID={name},Number=A,Type=String,Description="{text}, one per ALT; picked by {PICK_ORDER}">'
        for name, _, text in PICK_FIELDS
    ),
]
OUR_IDS = CSQ_INFO_IDS
_SEQ = frozenset("ACGTN")
_PICK_IDS = frozenset(name.encode() for name in OUR_IDS[1:])
_NOT_SEQ = ~byte_table(b"ACGTN")
_COMMA = byte_table(b",")


def escape(value: str, comma: bool = True) -> str:
    """VEP's escaping of a CSQ value inside INFO (its --hgvs output writes '=' as %3D);
    ``comma=False`` leaves ',' (the separator of entries escaped together)."""
    # Chained replace (C, '%' first so nothing is escaped twice) is the same as the
    # one-pass translate and several times faster on the CSQ text.
    value = value.replace("%", "%25").replace("=", "%3D").replace(";", "%3B")
    return (value.replace(",", "%2C") if comma else value).replace(" ", "_")


@dataclass
class Entries:
    """``Effects.entries``' result: the text (``EntryText``: entries, picks and each record's
    INFO text), each record's changes [rec_change[r], rec_change[r + 1]), each change's ALT
    index and the terms of its entries (``term_mask``)."""

    text: EntryText
    rec_change: np.ndarray
    change_alt: np.ndarray
    terms: np.ndarray

    def info(self, record: int) -> bytes:
        """The record's INFO text (CSQ and PICK_*, escaped; empty: no change)."""
        lo, hi = self.text.info_off[record : record + 2].tolist()
        return self.text.info[lo:hi].tobytes()


# The CSQ fields gas_tx_entries notes of each pick: the PICK_* fields' and the table's.
_PICK_CSQ = (1, 2, 3, 6, 10, 11, 15)
_PICK_NAMES = [name.encode() for name, _ in PICK_IDS]
_NAME_PICK = [_PICK_CSQ.index(index) for _, index in PICK_IDS]


@dataclass
class BlockEffects:
    """A block's transcript consequences, per ALT in file order (the Parquet rows) rather than
    as objects (a block of a whole-genome file has millions of entries)."""

    text: np.ndarray  # the annotated lines
    terms: np.ndarray  # int64: the terms of all its entries (``term_mask``; 0: no entry)
    raw: np.ndarray  # the entries' CSQ text, unescaped: entry e is raw[entry_off[e] : entry_off[e + 1]]
    entry_off: np.ndarray
    alt_entries: np.ndarray  # int64 (ALTs + 1): ALT i's entries are alt_entries[i] .. alt_entries[i + 1]
    pick_start: np.ndarray  # (ALTs, _PICK_CSQ): its pick's fields in raw (length -1: no pick)
    pick_len: np.ndarray
    ref_checked: int
    ref_mismatches: int
    first_mismatch_line: int

    def picks_only(self) -> BlockEffects:
        """This block without its entries' text, its picks' fields kept (a block waits for its
        turn to be written: without a table, the entries are not needed any more)."""
        lengths = np.maximum(self.pick_len, 0)
        raw = gather(self.raw, self.pick_start, lengths)
        starts = offsets_of(lengths.ravel()).reshape(lengths.shape)
        none = np.zeros(self.alt_entries.size, dtype=np.int64)
        return BlockEffects(
            self.text, self.terms, raw, np.zeros(1, dtype=np.int64), none, starts, self.pick_len,
            self.ref_checked, self.ref_mismatches, self.first_mismatch_line,
        )  # fmt: skip

    def worst_terms(self) -> dict[str, int]:
        """ALTs by their most severe term (ALTs without entries not counted)."""
        worst = most_severe_rank(self.terms)
        counts = np.bincount(worst[worst >= 0], minlength=len(TERMS)).tolist()
        return {TERMS[k]: n for k, n in enumerate(counts) if n}

    def pick_impacts(self) -> dict[str, int]:
        """ALTs by the IMPACT of their pick (ALTs without a pick not counted)."""
        from gas.annotator.engine.arrowops import value_counts

        return value_counts(self.pick_array(2))

    def pick_array(self, index: int) -> object:
        """CSQ field ``index`` (one of _PICK_CSQ) of each ALT's pick as an Arrow string array (null
        when empty or no pick), built from the text without a Python string per ALT."""
        k = _PICK_CSQ.index(index)
        return _arrow_strings(self.raw, self.pick_start[:, k], self.pick_len[:, k])


def _arrow_strings(raw: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> object:
    """An Arrow string array of raw's pieces (null where a length is <= 0)."""
    import pyarrow as pa

    valid = lengths > 0
    n = np.where(valid, lengths, 0)
    data = gather(raw, starts, n)
    offsets = np.zeros(n.size + 1, dtype=np.int32)
    np.cumsum(n, out=offsets[1:])
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.StringArray.from_buffers(n.size, pa.py_buffer(offsets), pa.py_buffer(data), bitmap, int((~valid).sum()))


class CsqStage:
    """Adds CSQ and the PICK_* fields to annotated lines and checks REF against the FASTA."""

    def __init__(self, db: AnnotationDatabase, ours: bool = False, table: bool = True):
        self.db = db
        self.effects = Effects(db)
        self.ours = ours  # the input's CSQ is GAS's own (re-annotation): dropped, not renamed
        self.table = table  # keep each entry's text for the Parquet table (else only the picks')

    def annotate(self, text: Any, first_line: int) -> BlockEffects:
        """``text``: the block's written lines, a buffer (bytes or a numpy byte array: read in place)."""
        b = np.frombuffer(text, dtype=np.uint8)
        lines = split_lines(b)
        n_lines = lines.start.size
        if lines.blank or lines.short_line >= 0 or n_lines != count_byte(b, 10):
            raise RuntimeError("effects: the written block has a blank or short line")
        bound = lines.bound
        u = UPPER[b]
        ref, ref_len = bound[3] + 1, bound[4] - bound[3] - 1
        alts, alts_len = bound[4] + 1, bound[5] - bound[4] - 1
        # A record is annotated on a known contig, with a POS and a REF of A, C, G, T, N only.
        cid = self._contigs(b, lines)
        ok = (cid >= 0) & (lines.pos >= 0) & (ref_len > 0) & (_count_in(_NOT_SEQ, u, ref, ref_len) == 0)
        rec_line = np.flatnonzero(ok)
        gpos = (cid[rec_line] << 32) | (lines.pos[rec_line] - 1)
        matches = self.effects.ref_matches(gpos, u, ref[rec_line], ref_len[rec_line])
        bad = rec_line[~matches]
        checked, mismatched = int(rec_line.size), int(bad.size)
        first_bad = first_line + int(lines.index[bad[0]]) if bad.size else 0
        # The records' changes, then their entries in one batch (Effects.entries).
        changes = changes_of(u, gpos, ref[rec_line], ref_len[rec_line], alts[rec_line], alts_len[rec_line])
        got = self.effects.entries(changes)
        et = got.text
        # Per ALT of the block (the Parquet rows): its change, if any.
        alt_base = bounds_of(_count_in(_COMMA, u, alts, alts_len) + 1)
        change_line = np.repeat(rec_line, np.diff(got.rec_change))
        change_at = alt_base[change_line] + got.change_alt  # each change's ALT row
        n_rows = int(alt_base[-1])
        counts = np.zeros(n_rows, dtype=np.int64)
        counts[change_at] = np.diff(et.change_entry)
        alt_entries = bounds_of(counts)
        pick_start = np.zeros((n_rows, len(_PICK_CSQ)), dtype=np.int64)
        pick_len = np.full((n_rows, len(_PICK_CSQ)), -1, dtype=np.int64)
        pick_start[change_at], pick_len[change_at] = et.pick_start, et.pick_len
        terms = np.zeros(n_rows, dtype=np.int64)
        terms[change_at] = got.terms
        # Each line is written by one compiled copy (textops.gather_columns): its first seven
        # columns, its INFO keys kept, ";", the record's CSQ/PICK text (or "." for none), the
        # rest of the line, from the block, the kept keys' and the kernel's buffers.
        line_end = np.append(lines.start[1:] - 1, b.size - 1)  # its '\n' (a CR before it kept)
        info_start = bound[7] + 1
        info_end = np.where(bound[8] == lines.end, line_end, bound[8])
        info_len = info_end - info_start
        plain_len, slow_at, slow_keys = self._kept_keys(b, lines.start, info_start, info_len)
        slow_len = np.zeros(n_lines, dtype=np.int64)
        slow_len[slow_at] = [len(k) for k in slow_keys]
        kept_len = plain_len + slow_len
        ours_start = np.zeros(n_lines, dtype=np.int64)
        ours_len = np.zeros(n_lines, dtype=np.int64)
        ours_start[rec_line] = et.info_off[:-1]
        ours_len[rec_line] = np.diff(et.info_off)
        zero, one = np.zeros(n_lines, dtype=np.int64), np.ones(n_lines, dtype=np.int64)
        body = gather_columns(
            [
                (b, lines.start, info_start - lines.start),
                (b, info_start, plain_len),
                (b"".join(slow_keys), offsets_of(slow_len), slow_len),
                (b";", zero, ((kept_len > 0) & (ours_len > 0)).astype(np.int64)),
                (et.info, ours_start, ours_len),
                (b".", zero, ((kept_len == 0) & (ours_len == 0)).astype(np.int64)),
                (b, info_end, line_end - info_end),
                (b"\n", zero, one),
            ]
        )
        fx = BlockEffects(
            body, terms, et.raw, et.entry_off, alt_entries, pick_start, pick_len, checked, mismatched, first_bad
        )
        return fx if self.table else fx.picks_only()

    def _contigs(self, b: np.ndarray, lines: SplitLines) -> np.ndarray:
        """Each line's contig id (-1: not in the bundle), CHROM as a key in one lookup (by
        name when longer than 8 bytes)."""
        keys, ids = self._contig_keys
        at = np.minimum(np.searchsorted(keys, lines.chrom_key), keys.size - 1)
        cid = np.where(keys[at] == lines.chrom_key, ids[at], -1)
        for i in np.flatnonzero(lines.chrom_key == 0).tolist():
            cid[i] = self.db.alias.get(b[lines.start[i] : lines.bound[1, i]].tobytes().decode(), -1)
        return cid

    @cached_property
    def _contig_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """The contig names of 1 to 8 bytes as keys (ascending; a 0 key past them) and ids."""
        short = sorted((key_of(name), cid) for name, cid in self.db.alias.items() if 0 < len(name.encode()) <= 8)
        keys = np.array([k for k, _ in short] + [0], dtype=np.uint64)
        return keys, np.array([c for _, c in short] + [-1], dtype=np.int64)

    def _kept_keys(
        self, b: np.ndarray, line_start: np.ndarray, info_start: np.ndarray, info_len: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
        """The INFO keys each line keeps: an INFO with no empty or "." key and nothing to drop
        or rename (no CSQ or PICK_ in it) as it is (its length; "." keeps none); the other
        lines' (a match of textops.odd_info anywhere in the line) key by key: (lines, their keys)."""
        plain = info_len.copy()
        plain[(info_len == 1) & (b[np.minimum(info_start, b.size - 1)] == 46)] = 0
        hits = odd_info(b, line_start.size)
        slow = np.searchsorted(line_start, hits, side="right") - 1  # one hit per line, ascending
        plain[slow] = 0
        keys_of = []
        for lo, n in zip(info_start[slow].tolist(), info_len[slow].tolist(), strict=True):
            info = b[lo : lo + n].tobytes()
            keys = [k for k in info.split(b";") if k and k != b"."]
            if b"CSQ" in info or b"PICK_" in info:
                if self.ours:
                    keys = [k for k in keys if k != b"CSQ" and not k.startswith(b"CSQ=")]
                keys = [(b"CSQ_INPUT" + k[3:]) if k == b"CSQ" or k.startswith(b"CSQ=") else k for k in keys]
                keys = [k for k in keys if k.partition(b"=")[0] not in _PICK_IDS]
            keys_of.append(b";".join(keys))
        return plain, slow, keys_of


def rename_input_csq(meta: list[str]) -> list[str]:
    """The input's own CSQ definition, renamed CSQ_INPUT (its values are renamed per record)."""
    out = []
    for m in meta:
        if m == CSQ_HEADER:
            continue  # ours, from an earlier run: rewritten (CsqStage drops its values)
        if m.startswith("##GAS_renamed=<From=CSQ,"):
            continue
        if m.startswith("##INFO=<ID=CSQ,"):
            out.append(m.replace("##INFO=<ID=CSQ,", "##INFO=<ID=CSQ_INPUT,", 1))
            out.append('##GAS_renamed=<From=CSQ,To=CSQ_INPUT,Reason="the input\'s own CSQ; GAS writes CSQ">')
        elif any(m.startswith(f"##INFO=<ID={name},") for name in OUR_IDS[1:]):
            continue  # our PICK_* fields of an earlier run: rewritten
        else:
            out.append(m)
    return out


def with_effects(table: object, fx: BlockEffects) -> object:
    """The block's Parquet rows with the bundle columns, and ``consequence(s)`` from the
    transcript consequences (the viewer's consequence filter then finds missense_variant)."""
    import pyarrow as pa

    from gas.annotator.engine.output import TERM_NAMES, coded, term_lists, term_masks

    if table is None:
        return None
    assert isinstance(table, pa.RecordBatch)
    if table.num_rows != fx.terms.size:
        raise RuntimeError(f"effects: {fx.terms.size} ALTs but {table.num_rows} table rows")

    def pick(index: int) -> pa.Array:
        return fx.pick_array(index)

    values = pa.StringArray.from_buffers(
        fx.entry_off.size - 1, pa.py_buffer(fx.entry_off.astype(np.int32)), pa.py_buffer(fx.raw)
    )
    entries = pa.ListArray.from_arrays(
        pa.array(fx.alt_entries.astype(np.int32)), values, mask=pa.array(np.diff(fx.alt_entries) == 0)
    )
    columns = {
        "impact": pick(2),
        "symbol": pick(3),
        "transcript": pick(6),
        "hgvsc": pick(10),
        "hgvsp": pick(11),
        "amino_acids": pick(15),
        "transcript_consequences": entries,
    }
    names = table.schema.names
    arrays = [columns.get(n, table.column(i)) for i, n in enumerate(names)]
    # consequence(s) as codes into TERMS, built from the masks; an ALT without entries (its
    # record not annotated) keeps its gene-level terms
    masks = fx.terms
    at = names.index("consequences")
    if not masks.all():
        masks = np.where(masks != 0, masks, term_masks(table.column(at)))
    worst = most_severe_rank(masks)
    arrays[names.index("consequence")] = coded(TERM_NAMES, worst, worst >= 0)
    arrays[at] = term_lists(masks)
    return pa.RecordBatch.from_arrays(arrays, schema=table.schema)
