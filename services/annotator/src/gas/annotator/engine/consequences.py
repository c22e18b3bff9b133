"""Sequence Ontology consequence terms decided from gene structures and the VCF's REF/ALT.

Each ALT is reduced to its minimal form (shared leading, then trailing, bases removed) and
classified: SNV, MNV, INS, DEL or DELINS with its length change. For every gene whose
structures reach it (overlap, or the 5 kb windows before/after the gene) the terms follow
from the structure bits of the bases it changes (``build.BITS``): ``any_bits`` is the OR over
those bases, ``all_bits`` the AND. An insertion changes the junction between two bases, both
of which count: it is *inside* a structure only when both are (``all_bits``), it *touches*
one when either is (``any_bits``). The rules are listed in docs/annotation-engine.md.
"""

from __future__ import annotations

import numpy as np

from gas.annotator.engine.database import BITS
from gas.core.vocab import GENE_LEVEL_TERMS

# The gene-level terms in Ensembl VEP's order of severity (most severe first); the bit index
# is the rank.
TERMS = GENE_LEVEL_TERMS
TERM = {name: 1 << rank for rank, name in enumerate(TERMS)}
INTERGENIC = TERM["intergenic_variant"]

# Allele kinds after trimming.
SNV, MNV, INS, DEL, DELINS = 1, 2, 3, 4, 5
STOP_CODONS = ("TAA", "TAG", "TGA")
_COMPLEMENT = str.maketrans("ACGT", "TGCA")

B = BITS
CODING = B["CDS"] | B["STOP"]  # the coding sequence includes the stop codon
UTR_OR_CODING = CODING | B["UTR5"] | B["UTR3"] | B["START"]


# Bits derived per base from the stored ones (above the 16 stored bits).
INTRON = 1 << 16  # in a transcript of the gene, in none of its exons
NC_EXON = 1 << 17  # exonic, in no coding, UTR or codon structure: an exon of a non-coding transcript
IN_CODING = 1 << 18  # CDS or stop codon


def effective_bits(bits: np.ndarray) -> np.ndarray:
    """Stored structure bits plus the derived ones the rules use, as uint32. Derived per
    base (per segment) before bases are combined, so an AND over bases stays meaningful."""
    b = bits.astype(np.uint32)
    intron = ((b & B["TX"]) != 0) & ((b & B["EXON"]) == 0)
    nc_exon = ((b & B["EXON"]) != 0) & ((b & UTR_OR_CODING) == 0)
    coding = (b & CODING) != 0
    return (
        b
        | np.where(intron, np.uint32(INTRON), np.uint32(0))
        | np.where(nc_exon, np.uint32(NC_EXON), np.uint32(0))
        | np.where(coding, np.uint32(IN_CODING), np.uint32(0))
    )


def terms_of(
    any_bits: np.ndarray, all_bits: np.ndarray, kind: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Term masks for (allele, gene) pairs, and which pairs still need the stop codon
    decision (``stop_codon_terms``). ``delta`` is len(ALT) - len(REF) after trimming."""
    ins = kind == INS
    inside = np.where(ins, all_bits, any_bits)  # the structures the change lies in
    touched = any_bits
    indel = (kind == INS) | (kind == DEL) | (kind == DELINS)
    all_coding = (all_bits & IN_CODING) != 0  # every changed base (both flanks of an insertion)
    any_coding = (touched & IN_CODING) != 0
    frame = delta % 3
    t = np.zeros(any_bits.size, dtype=np.uint32)

    def put(term: str, cond: np.ndarray) -> None:
        nonlocal t
        t = t | np.where(cond, np.uint32(TERM[term]), np.uint32(0))

    put("splice_acceptor_variant", (inside & B["ACCEPTOR"]) != 0)
    put("splice_donor_variant", (inside & B["DONOR"]) != 0)
    in_cds = indel & all_coding
    put("frameshift_variant", in_cds & (frame != 0))
    put("inframe_insertion", in_cds & (frame == 0) & (delta > 0))
    put("inframe_deletion", in_cds & (frame == 0) & (delta < 0))
    start_lost = (inside & B["START"]) != 0
    put("start_lost", start_lost)
    put("splice_region_variant", (touched & B["SPLICE_REGION"]) != 0)
    substitution = (kind == SNV) | (kind == MNV)
    stop_question = substitution & ((touched & B["STOP"]) != 0) & ~start_lost
    # A coding change whose protein effect needs the sequence: substitutions (other than the
    # start codon, and the stop codon when REF/ALT decide it), DELINS of equal length, and
    # deletions that remove coding bases without lying inside the coding sequence. (An
    # insertion next to the coding sequence changes no coding base: it is UTR or splice.)
    put(
        "coding_sequence_variant",
        any_coding
        & (
            (substitution & ~start_lost & ~stop_question)
            | ((kind == DELINS) & (delta == 0) & all_coding)
            | (indel & ~ins & ~all_coding)
        ),
    )
    put("5_prime_UTR_variant", (touched & B["UTR5"]) != 0)
    put("3_prime_UTR_variant", (touched & B["UTR3"]) != 0)
    put("non_coding_transcript_exon_variant", (touched & NC_EXON) != 0)
    put("intron_variant", (inside & INTRON) != 0)
    outside_gene = (touched & B["GENE"]) == 0
    put("upstream_gene_variant", outside_gene & ((touched & B["UPSTREAM"]) != 0))
    put("downstream_gene_variant", outside_gene & ((touched & B["DOWNSTREAM"]) != 0))
    return t, stop_question


def stop_codon_term(strand: int, anchor: int, first_base: int, ref: str, alt: str) -> int:
    """stop_lost, stop_retained_variant or (undecided) coding_sequence_variant for a
    substitution of ``ref`` by ``alt`` starting at global base ``first_base`` in the stop
    codon whose position 1 (transcription direction) is ``anchor`` (-1: unknown frame).

    The reference codon is not known (no sequence here): it is one of TAA, TAG, TGA that
    agrees with REF. When every such codon gives a stop after the change, the stop is
    retained; when none does, it is lost; otherwise the data does not decide.
    """
    undecided = TERM["coding_sequence_variant"]
    if anchor < 0 or len(ref) != len(alt):
        return undecided
    if strand < 0:
        ref, alt = ref.translate(_COMPLEMENT), alt.translate(_COMPLEMENT)
        phases = [anchor - (first_base + i) for i in range(len(ref))]
    else:
        phases = [first_base + i - anchor for i in range(len(ref))]
    inside = [(k, r, a) for k, r, a in zip(phases, ref, alt, strict=True) if 0 <= k <= 2]
    if not inside or len(inside) != len(ref):
        return undecided
    candidates = [c for c in STOP_CODONS if all(c[k] == r for k, r, _ in inside)]
    if not candidates:
        return undecided
    after = []
    for codon in candidates:
        bases = list(codon)
        for k, _, a in inside:
            bases[k] = a
        after.append("".join(bases))
    stops = [c in STOP_CODONS for c in after]
    if all(stops):
        return TERM["stop_retained_variant"]
    if not any(stops):
        return TERM["stop_lost"]
    return undecided


_TERM_TEXT: dict[int, str] = {}


def term_text(mask: int) -> str:
    """'a&b' for a term mask (VEP's separator), most severe first."""
    text = _TERM_TEXT.get(mask)
    if text is None:
        text = _TERM_TEXT[mask] = "&".join(name for rank, name in enumerate(TERMS) if mask >> rank & 1)
    return text


def most_severe_rank(masks: np.ndarray) -> np.ndarray:
    """Rank (index into TERMS) of the lowest set bit of each non-zero mask; -1 for 0."""
    m = masks.astype(np.int64)
    low = m & -m
    out = np.full(m.size, -1, dtype=np.int64)
    nz = low > 0
    out[nz] = np.log2(low[nz]).round().astype(np.int64)
    return out
