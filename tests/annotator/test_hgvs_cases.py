"""Hand-checked consequences and HGVS on small hand-written transcripts, and every HGVS string parses.

The genome and gene model below are written by hand; every expected value was worked out by hand
from the HGVS recommendations (3' rule, dup before ins, delins, fsTer counting from the first
changed residue, extTer, p.Met1?, `=`) and Ensembl VEP's conventions (SO terms and their order,
IMPACT, DISTANCE, EXON/INTRON, Codons case, Amino_acids), with a one-line reason each. GAS runs as
a user runs it: `gas-annotation-db build --gff3` then `gas-annotate --db`.

Transcripts (1-based genome coordinates on contig 1):
  TP  ENST00000000101.1 (+, MANE Select, canonical; ENSP00000000101.1), gene HANDP
      exon1 1001-1027 (5'UTR 1001-1020 = c.-20..c.-1, c.1-7 = 1021-1027), intron1 1028-1127,
      exon2 1128-1160 (c.8-40, c.N = 1120+N), intron2 1161-1260,
      exon3 1261-1320 (c.41-60 = 1261-1280, stop c.58-60, 3'UTR c.*1-*40 = 1281-1320)
      CDS  ATG GCC CTG GAG AAA AAG TCT CTC TGG CGA GAC TAC CAT GGA TTC CAG ACC GTG ATC TAA
           M1  A2  L3  E4  K5  K6  S7  L8  W9  R10 D11 Y12 H13 G14 F15 Q16 T17 V18 I19 *20
      3'UTR GCT GAC TAG ...  (in frame: A D * -> a stop-loss extends by 3)
  TPN ENST00000000102.1: TP's exons and CDS, biotype nonsense_mediated_decay
  TM  ENST00000000201.1 (-, canonical), gene HANDM: transcript 5'->3' = genome 2110 -> 2001
      exon1 2086-2110 (5'UTR c.-10..c.-1 = 2110..2101, c.1-15 = 2100..2086, c.N = 2101-N),
      intron 2026-2085 (c.15+1 = 2085, c.16-1 = 2026), exon2 2001-2025 (c.16-30 = 2025..2011, c.N = 2041-N;
      3'UTR c.*1-*10 = 2010..2001); CDS ATG CGT TCC GAA CTG AAA TGG GCC TTC TGA = M R S E L K W A F *;
      3'UTR GTAACCTTGC
  TL  ENST00000000301.1 (+, lncRNA), gene HANDL: exon1 3001-3020, intron 3021-3070, exon2 3071-3100
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import hgvs.exceptions
import hgvs.parser
import pytest
from effects_oracle import csq_format
from engine_support import needs_bcftools

BIN = Path(sys.executable).parent
COMP = str.maketrans("ACGT", "TGCA")

UTR5_TP = "CCTTGCAGCTTCGCACCACC"
CDS_TP = "ATGGCCCTGGAGAAAAAGTCTCTCTGGCGAGACTACCATGGATTCCAGACCGTGATCTAA"
UTR3_TP = "GCTGACTAG" + "CTTGCCATCCGTTCAGGCTTACGGTTCACCT"
INTRON1_TP = "GTAAGT" + ("TGCATCGATC" * 9)[:88] + "CTTCAG"
INTRON2_TP = "GTGAGT" + ("CAGTTGCCAT" * 9)[:88] + "TTTTAG"
UTR5_TM = "GCAGCCACCA"
CDS_TM = "ATGCGTTCCGAACTGAAATGGGCCTTCTGA"
UTR3_TM = "GTAACCTTGC"
INTRON_TM = "GTAAGG" + ("ACGTTGCAAC" * 5)[:48] + "CCCTAG"
EXON1_TL = "GGCTAGCTTACGATCGTACG"
INTRON_TL = "GTAAGA" + ("CATGCATGCA" * 4)[:38] + "TTGCAG"
EXON2_TL = "CCGATTACGGCATCGATTGCAGGCTTACGA"
UTR5_TU = "GCAGTCCTTAGCACCGTACC"  # TU's exon 1: all 5' UTR, so its intron lies before the CDS
INTRON_TU = "GTAAGT" + ("TCGATCCATG" * 5)[:48] + "CTCCAG"
EXON2_TU = "ATGGCCAAAGGGTTTCCCTAA" + "GCTTGACCATCGGATCCATTGACCGTAGC"


def genome() -> str:
    rng = random.Random(7)
    seq = [rng.choice("ACGT") for _ in range(4000)]

    def put(start: int, s: str) -> None:
        seq[start - 1 : start - 1 + len(s)] = s

    tp = UTR5_TP + CDS_TP[:7] + INTRON1_TP + CDS_TP[7:40] + INTRON2_TP + CDS_TP[40:] + UTR3_TP
    assert len(tp) == 320 and len(UTR3_TP) == 40
    put(1001, tp)
    tm = UTR5_TM + CDS_TM[:15] + INTRON_TM + CDS_TM[15:] + UTR3_TM  # transcript strand
    assert len(tm) == 110
    put(2001, tm.translate(COMP)[::-1])
    put(3001, EXON1_TL + INTRON_TL + EXON2_TL)
    tu = UTR5_TU + INTRON_TU + EXON2_TU
    assert len(tu) == 130
    put(3301, tu)
    return "".join(seq)


Span = tuple[int, int]


def gene(kind: str, gene_id: str, name: str, biotype: str, span: Span, strand: str) -> list[tuple]:
    return [(kind, *span, strand, ".", f"ID=gene:{gene_id};Name={name};biotype={biotype};version=1")]


def transcript(
    kind: str,
    tid: str,
    gene_id: str,
    name: str,
    biotype: str,
    tags: str,
    span: Span,
    strand: str,
    exons: Sequence[Span],
    utr5: Span | None = None,
    cds: Sequence[tuple[int, int, str]] = (),
    utr3: Span | None = None,
) -> list[tuple]:
    """A transcript's GFF3 rows in Ensembl's order: itself, its exons, 5' UTR, CDS (start, end,
    phase) and 3' UTR."""
    tag = f"tag={tags};" if tags else ""
    parent = f"Parent=transcript:{tid}"
    pid = tid.replace("ENST", "ENSP")
    ids = f"ID=transcript:{tid};Parent=gene:{gene_id};Name={name};biotype={biotype};{tag}transcript_id={tid}"
    rows = [(kind, *span, strand, ".", f"{ids};version=1")]
    rows += [("exon", *exon, strand, ".", parent) for exon in exons]
    rows += [("five_prime_UTR", *utr5, strand, ".", parent)] if utr5 else []
    rows += [("CDS", a, b, strand, phase, f"ID=CDS:{pid};{parent};protein_id={pid}") for a, b, phase in cds]
    rows += [("three_prime_UTR", *utr3, strand, ".", parent)] if utr3 else []
    return rows


def gff3() -> str:
    s = "ensembl_havana"
    handp = (1001, 1320)
    exons = [(1001, 1027), (1128, 1160), (1261, 1320)]
    cds = [(1021, 1027, "0"), (1128, 1160, "2"), (1261, 1280, "2")]
    rows = [
        *gene("gene", "ENSG00000000100", "HANDP", "protein_coding", handp, "+"),
        *transcript("mRNA", "ENST00000000101", "ENSG00000000100", "HANDP-201", "protein_coding",
                    "basic,Ensembl_canonical,MANE_Select", handp, "+", exons, (1001, 1020), cds, (1281, 1320)),
        *transcript("NMD_transcript_variant", "ENST00000000102", "ENSG00000000100", "HANDP-202",
                    "nonsense_mediated_decay", "basic", handp, "+", exons, (1001, 1020), cds, (1281, 1320)),
        *gene("gene", "ENSG00000000200", "HANDM", "protein_coding", (2001, 2110), "-"),
        *transcript("mRNA", "ENST00000000201", "ENSG00000000200", "HANDM-201", "protein_coding",
                    "basic,Ensembl_canonical", (2001, 2110), "-",
                    [(2086, 2110), (2001, 2025)], (2101, 2110), [(2086, 2100, "0"), (2011, 2025, "0")], (2001, 2010)),
        *gene("ncRNA_gene", "ENSG00000000300", "HANDL", "lncRNA", (3001, 3100), "+"),
        *transcript("lnc_RNA", "ENST00000000301", "ENSG00000000300", "HANDL-201", "lncRNA",
                    "basic,Ensembl_canonical", (3001, 3100), "+", [(3001, 3020), (3071, 3100)]),
        *gene("gene", "ENSG00000000400", "HANDU", "protein_coding", (3301, 3430), "+"),
        *transcript("mRNA", "ENST00000000401", "ENSG00000000400", "HANDU-201", "protein_coding", "",
                    (3301, 3430), "+", [(3301, 3320), (3381, 3430)], (3301, 3320), [(3381, 3401, "0")], (3402, 3430)),
    ]  # fmt: skip
    body = "".join(f"1\t{s}\t{t}\t{a}\t{b}\t.\t{st}\t{ph}\t{attr}\n" for t, a, b, st, ph, attr in rows)
    return "##gff-version 3\n##sequence-region   1 1 4000\n" + body


@dataclass(frozen=True)
class Case:
    name: str
    pos: int
    ref: str  # "" = take the genome's base (positions outside the hand-written sequence)
    alt: str
    feature: str
    expect: dict[str, str]
    why: str
    # Terms that must be among the consequences (VEP versions differ on the rest), and terms that must not be.
    contains: frozenset[str] = frozenset()
    absent: frozenset[str] = frozenset()


TP, TPN, TM, TL = "ENST00000000101.1", "ENST00000000102.1", "ENST00000000201.1", "ENST00000000301.1"
TU = "ENST00000000401.1"  # + strand: exon1 3301-3320 (5' UTR), intron 3321-3380, exon2 3381-3430 (CDS 3381-3401)
# Ensembl GFF3 gives the protein no version (CDS lines carry protein_id only), so HGVSp names it without one.
PP, PM = "ENSP00000000101", "ENSP00000000201"


def c(
    name: str,
    pos: int,
    ref: str,
    alt: str,
    feature: str,
    why: str,
    contains=frozenset(),
    absent=frozenset(),
    **expect: str,
) -> Case:
    return Case(name, pos, ref, alt, feature, expect, why, frozenset(contains), frozenset(absent))


G = genome()  # for the REF of the longer cases

CASES = [
    # --- TP, plus strand: substitutions
    c("missense", 1024, "G", "A", TP, "c.4 G of GCC (Ala2) -> ACC Thr", Consequence="missense_variant",
      IMPACT="MODERATE", HGVSc=f"{TP}:c.4G>A", HGVSp=f"{PP}:p.Ala2Thr", Amino_acids="A/T", Codons="Gcc/Acc",
      Protein_position="2", CDS_position="4", cDNA_position="24", EXON="1/3", STRAND="1", Allele="A",
      PICK="1", CANONICAL="YES", SYMBOL="HANDP", Gene="ENSG00000000100.1", BIOTYPE="protein_coding"),
    c("mnv delins", 1024, "GC", "AT", TP, "two changed bases are one delins; GCC -> ATC Ile; c.5 is 3 from exon end",
      Consequence="missense_variant&splice_region_variant", HGVSc=f"{TP}:c.4_5delinsAT", HGVSp=f"{PP}:p.Ala2Ile",
      Codons="GCc/ATc"),
    c("synonymous", 1156, "C", "T", TP, "TAC -> TAT still Tyr12; VEP writes p.Tyr12=",
      Consequence="synonymous_variant", IMPACT="LOW", HGVSc=f"{TP}:c.36C>T", HGVSp=f"{PP}:p.Tyr12=",
      Amino_acids="Y", Codons="taC/taT", EXON="2/3"),
    c("synonymous in splice region", 1129, "G", "A", TP, "c.9 is exon 2's second base (exon side 1-3)",
      Consequence="splice_region_variant&synonymous_variant", IMPACT="LOW", HGVSc=f"{TP}:c.9G>A",
      HGVSp=f"{PP}:p.Leu3="),
    c("missense exon 2", 1140, "C", "A", TP, "TCT -> TAT: Ser7Tyr, exon 2 of 3", Consequence="missense_variant",
      HGVSc=f"{TP}:c.20C>A", HGVSp=f"{PP}:p.Ser7Tyr", Codons="tCt/tAt", EXON="2/3"),
    c("missense in splice region", 1160, "G", "A", TP, "last base of exon 2; GGA -> AGA Arg, more severe first",
      Consequence="missense_variant&splice_region_variant", HGVSp=f"{PP}:p.Gly14Arg", HGVSc=f"{TP}:c.40G>A"),
    c("stop gained", 1148, "C", "T", TP, "CGA -> TGA", Consequence="stop_gained", IMPACT="HIGH",
      HGVSc=f"{TP}:c.28C>T", HGVSp=f"{PP}:p.Arg10Ter", Amino_acids="R/*", Codons="Cga/Tga"),
    c("delins missense", 1148, "CG", "TT", TP, "CGA -> TTA Leu", Consequence="missense_variant",
      HGVSc=f"{TP}:c.28_29delinsTT", HGVSp=f"{PP}:p.Arg10Leu"),
    c("start lost c.1", 1021, "A", "G", TP, "ATG -> GTG: the start is lost, protein unknown", Consequence="start_lost",
      IMPACT="HIGH", HGVSc=f"{TP}:c.1A>G", HGVSp=f"{PP}:p.Met1?"),
    c("insertion inside the start codon", 1021, "A", "ATG", TP, "A|TG|TG: codon 1 still reads ATG, but the "
      "5' UTR + CDS no longer ends with the CDS (VEP's _ins_del_start_altered), so start_lost",
      Consequence="frameshift_variant&start_lost", HGVSp=f"{PP}:p.Met1?"),
    c("insertion keeping the start codon", 1021, "A", "AA", TP, "A|A|TG: the sequence still ends with the whole "
      "CDS (VEP's start_retained_variant), yet AAT now stands at the start codon's place after the 5' UTR "
      "(VEP's _inv_start_altered: start_lost); VEP's predicates give both, beside the frameshift",
      Consequence="frameshift_variant&start_lost&start_retained_variant"),
    c("start lost c.3", 1023, "G", "A", TP, "ATG -> ATA", Consequence="start_lost", HGVSc=f"{TP}:c.3G>A",
      HGVSp=f"{PP}:p.Met1?"),
    c("stop lost", 1278, "T", "C", TP, "TAA -> CAA Gln; 3'UTR GCT GAC TAG reads Ala Asp Ter: new stop 3 on",
      Consequence="stop_lost", IMPACT="HIGH", HGVSc=f"{TP}:c.58T>C", HGVSp=f"{PP}:p.Ter20GlnextTer3",
      Amino_acids="*/Q", Codons="Taa/Caa", EXON="3/3"),
    c("stop retained", 1280, "A", "G", TP, "TAA -> TAG", Consequence="stop_retained_variant", IMPACT="LOW",
      HGVSc=f"{TP}:c.60A>G", HGVSp=f"{PP}:p.Ter20=", Amino_acids="*", Codons="taA/taG"),
    c("frameshift keeping the stop", 1278, "T", "TG", TP, "TAA -> TGAA: the whole alternate codon TGA still "
      "stops, so VEP's stop_retained (both peptides start with *), not stop_lost",
      Consequence="frameshift_variant&stop_retained_variant", Codons="taa/tGaa"),
    c("frameshift losing the stop", 1278, "TA", "T", TP, "TAA -> TA: no whole alternate codon, no stop (VEP's "
      "peptide X), so stop_lost", Consequence="frameshift_variant&stop_lost"),
    # --- TP: indels and 3' shifting (run c.13-17 AAAAA, repeat c.19-25 TCTCTCT)
    c("dup in a run", 1132, "G", "GA", TP, "one more A in AAAAA (c.13-17) is c.17dup (3'-most); new frame S7V..Ter22",
      Consequence="frameshift_variant", IMPACT="HIGH", HGVSc=f"{TP}:c.17dup", HGVSp=f"{PP}:p.Ser7ValfsTer16",
      Allele="A"),
    c("del in a run", 1132, "GA", "G", TP, "one A less is c.17del; AAG -> AGT: K6S..Ter18 (13 counting K6 as 1)",
      Consequence="frameshift_variant", HGVSc=f"{TP}:c.17del", HGVSp=f"{PP}:p.Lys6SerfsTer13", Allele="-"),
    c("inframe dup", 1132, "G", "GAAA", TP, "AAA into AAAAA: 3'-most copy c.15_17; one more Lys after K5K6",
      Consequence="inframe_insertion", IMPACT="MODERATE", HGVSc=f"{TP}:c.15_17dup", HGVSp=f"{PP}:p.Lys6dup"),
    c("inframe del in a run", 1132, "GAAA", "G", TP, "AAA out of AAAAA: c.15_17del, the last Lys of K5K6",
      Consequence="inframe_deletion", IMPACT="MODERATE", HGVSc=f"{TP}:c.15_17del", HGVSp=f"{PP}:p.Lys6del"),
    c("dinucleotide del", 1138, "GTC", "G", TP, "TC out of TCTCTCT (c.19-25) shifts to c.24_25; S7 L8 stay, W9A",
      Consequence="frameshift_variant", HGVSc=f"{TP}:c.24_25del", HGVSp=f"{PP}:p.Trp9AlafsTer13"),
    c("dinucleotide dup", 1138, "G", "GTC", TP, "TC into TCTCTCT is a dup of c.24_25 (3'-most); W9S..Ter19",
      Consequence="frameshift_variant", HGVSc=f"{TP}:c.24_25dup", HGVSp=f"{PP}:p.Trp9SerfsTer11"),
    c("codon deletion", 1150, "AGAC", "A", TP, "GAC (Asp11) removed; no shift possible (G != T)",
      Consequence="inframe_deletion", HGVSc=f"{TP}:c.31_33del", HGVSp=f"{PP}:p.Asp11del"),
    c("insertion not a dup", 1153, "C", "CGGG", TP, "GGG between codons 11 and 12, unlike GAC before it",
      Consequence="inframe_insertion", HGVSc=f"{TP}:c.33_34insGGG", HGVSp=f"{PP}:p.Asp11_Tyr12insGly"),
    # --- TP: splice sites, introns, UTRs, flanks
    c("donor +1", 1028, "G", "A", TP, "first intron base", Consequence="splice_donor_variant", IMPACT="HIGH",
      HGVSc=f"{TP}:c.7+1G>A", HGVSp="", INTRON="1/2", EXON=""),
    c("donor +2", 1029, "T", "C", TP, "second intron base", Consequence="splice_donor_variant",
      HGVSc=f"{TP}:c.7+2T>C", INTRON="1/2"),
    c("acceptor -1", 1127, "G", "C", TP, "last intron base", Consequence="splice_acceptor_variant", IMPACT="HIGH",
      HGVSc=f"{TP}:c.8-1G>C", INTRON="1/2"),
    c("acceptor -2", 1126, "A", "G", TP, "second-last intron base", Consequence="splice_acceptor_variant",
      HGVSc=f"{TP}:c.8-2A>G"),
    c("insertion at the exon/intron junction", 1027, "C", "CA", TP, "between c.7 and c.7+1: VEP's splice region, "
      "not the site (an insertion overlaps only the bases on both sides of it)", contains={"splice_region_variant"},
      absent={"splice_donor_variant", "intron_variant"}),
    c("insertion inside the donor site", 1028, "G", "GC", TP, "between c.7+1 and c.7+2: both sides are the site",
      Consequence="splice_donor_variant", HGVSc=f"{TP}:c.7+1_7+2insC"),
    c("insertion after the donor site", 1029, "T", "TC", TP, "between c.7+2 and c.7+3: VEP's region and intronic",
      Consequence="splice_region_variant&intron_variant", HGVSc=f"{TP}:c.7+2_7+3insC"),
    c("donor region +7", 1034, "T", "G", TP, "intron 3-8 bases from the exon: splice region, and intronic",
      Consequence="splice_region_variant&intron_variant", IMPACT="LOW", HGVSc=f"{TP}:c.7+7T>G"),
    c("acceptor region -3", 1258, "T", "G", TP, "3 bases before exon 3 (VEP 105+ also names the polypyrimidine tract)",
      contains={"splice_region_variant", "intron_variant"}, HGVSc=f"{TP}:c.41-3T>G", INTRON="2/2"),
    c("intron first half", 1057, "A", "G", TP, "30th of 100 intron bases: counted from the donor",
      Consequence="intron_variant", IMPACT="MODIFIER", HGVSc=f"{TP}:c.7+30A>G", INTRON="1/2"),
    c("intron second half", 1098, "T", "C", TP, "71st of 100: counted back from the acceptor (c.8-30)",
      Consequence="intron_variant", HGVSc=f"{TP}:c.8-30T>C", INTRON="1/2"),
    c("deletion from upstream into the start codon", 995, G[994:1022], G[994], TP, "996-1022: 5 bases before the "
      "transcript, the 5' UTR, c.1-2; it starts outside the cDNA, so VEP's _overlaps_start_codon (cdna_start "
      "undefined) gives no start_lost", contains={"5_prime_UTR_variant", "coding_sequence_variant"},
      absent={"start_lost", "upstream_gene_variant"}),
    c("deletion from a 5' UTR intron into the start codon", 3374, G[3373:3383], G[3373], TU, "3375-3383: the "
      "intron's last 6 bases (the acceptor site) and the ATG; the intron lies before the CDS, so VEP's "
      "_before_coding (genomic) gives 5_prime_UTR_variant; it starts in the intron, so no start_lost",
      contains={"splice_acceptor_variant", "5_prime_UTR_variant"}, absent={"start_lost"}),
    c("5' UTR", 1016, "C", "T", TP, "5 bases before the ATG", Consequence="5_prime_UTR_variant", IMPACT="MODIFIER",
      HGVSc=f"{TP}:c.-5C>T", cDNA_position="16", EXON="1/3", HGVSp=""),
    c("3' UTR", 1285, "A", "G", TP, "5 bases after the stop", Consequence="3_prime_UTR_variant",
      HGVSc=f"{TP}:c.*5A>G", cDNA_position="85", EXON="3/3"),
    c("upstream", 996, "", "", TP, "5 bases before the transcript start (+ strand)",
      Consequence="upstream_gene_variant", IMPACT="MODIFIER", DISTANCE="5"),
    c("downstream", 1330, "", "", TP, "10 bases after the transcript end", Consequence="downstream_gene_variant",
      DISTANCE="10"),
    # --- TPN: the same CDS in an NMD transcript
    c("NMD missense", 1024, "G", "A", TPN, "coding change in an NMD transcript; not picked, not canonical",
      Consequence="missense_variant&NMD_transcript_variant", IMPACT="MODERATE",
      HGVSp="ENSP00000000102:p.Ala2Thr", BIOTYPE="nonsense_mediated_decay", PICK="", CANONICAL=""),
    c("NMD intron", 1057, "A", "G", TPN, "intronic in an NMD transcript",
      Consequence="intron_variant&NMD_transcript_variant", HGVSc=f"{TPN}:c.7+30A>G"),
    # --- TM, minus strand (genome bases are the complement)
    c("minus missense", 2097, "G", "A", TM, "c.4 C of CGT (Arg2) -> TGT Cys; genome G>A",
      Consequence="missense_variant", HGVSc=f"{TM}:c.4C>T", HGVSp=f"{PM}:p.Arg2Cys", Codons="Cgt/Tgt",
      Amino_acids="R/C", STRAND="-1", EXON="1/2", Allele="A"),
    c("minus synonymous at exon end", 2086, "C", "T", TM, "c.15 last base of exon 1: CTG -> CTA Leu5",
      Consequence="splice_region_variant&synonymous_variant", HGVSc=f"{TM}:c.15G>A", HGVSp=f"{PM}:p.Leu5="),
    c("minus donor", 2085, "C", "T", TM, "c.15+1: the intron's first base in transcript order",
      Consequence="splice_donor_variant", HGVSc=f"{TM}:c.15+1G>A", INTRON="1/1"),
    c("minus acceptor", 2027, "T", "C", TM, "c.16-2 A of the AG", Consequence="splice_acceptor_variant",
      HGVSc=f"{TM}:c.16-2A>G", INTRON="1/1"),
    c("minus del shifted", 2022, "AT", "A", TM, "one A out of AAA (c.16-18, first 3 exon bases): 3'-most in the "
      "transcript is c.18; AAT Asn then GGG CCT TCT GAG TAA: Ter at 11",
      Consequence="frameshift_variant&splice_region_variant", HGVSc=f"{TM}:c.18del",
      HGVSp=f"{PM}:p.Lys6AsnfsTer6", EXON="2/2"),
    c("minus 5' UTR", 2103, "G", "T", TM, "c.-3 C -> A on the transcript", Consequence="5_prime_UTR_variant",
      HGVSc=f"{TM}:c.-3C>A"),
    c("minus stop lost", 2011, "T", "C", TM, "TGA -> TGG Trp; no stop in the rest of the transcript",
      Consequence="stop_lost", HGVSc=f"{TM}:c.30A>G", HGVSp=f"{PM}:p.Ter10TrpextTer?", Amino_acids="*/W",
      Codons="tgA/tgG"),
    c("minus upstream", 2120, "", "", TM, "the transcript starts at 2110 on the minus strand",
      Consequence="upstream_gene_variant", DISTANCE="10"),
    c("minus downstream", 1995, "", "", TM, "the transcript ends at 2001 on the minus strand",
      Consequence="downstream_gene_variant", DISTANCE="6"),
    # --- TL, non-coding
    c("non-coding exon", 3005, "A", "G", TL, "exon of a lncRNA: n. numbering",
      Consequence="non_coding_transcript_exon_variant", IMPACT="MODIFIER", HGVSc=f"{TL}:n.5A>G",
      HGVSp="", EXON="1/2", cDNA_position="5", BIOTYPE="lncRNA"),
    c("non-coding intron", 3040, "G", "A", TL, "20th of 50 intron bases",
      Consequence="intron_variant&non_coding_transcript_variant", HGVSc=f"{TL}:n.20+20G>A", INTRON="1/1"),
    c("non-coding donor", 3021, "G", "T", TL, "donor of a lncRNA intron",
      Consequence="splice_donor_variant&non_coding_transcript_variant", HGVSc=f"{TL}:n.20+1G>T"),
    c("non-coding upstream", 2990, "", "", TL, "11 bases before the lncRNA", Consequence="upstream_gene_variant",
      DISTANCE="11"),
]  # fmt: skip


Annotated = tuple[Path, dict[tuple[int, str, str, str], dict[str, str]]]


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> Annotated:
    tmp = tmp_path_factory.mktemp("hgvs")
    seq = genome()
    (tmp / "hand.fa").write_text(">1\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    (tmp / "hand.gff3").write_text(gff3())
    variants = set()
    for case in CASES:
        ref, alt = case_alleles(case, seq)
        assert seq[case.pos - 1 : case.pos - 1 + len(ref)] == ref, f"{case.name}: REF is not the genome's"
        variants.add((case.pos, ref, alt))
    head = "##fileformat=VCFv4.2\n##contig=<ID=1,length=4000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    (tmp / "hand.vcf").write_text(head + "".join(f"1\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\n" for p, r, a in sorted(variants)))
    db = tmp / "db"
    build = [str(BIN / "gas-annotation-db"), "build", "--name", "hand", "--gff3", str(tmp / "hand.gff3")]
    proc = subprocess.run(
        [*build, "--fasta", str(tmp / "hand.fa"), "--db-dir", str(db)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    cmd = [
        str(BIN / "gas-annotate"),
        str(tmp / "hand.vcf"),
        "--db",
        "hand",
        "--db-dir",
        str(db),
        "-o",
        str(tmp / "out"),
    ]
    proc = subprocess.run([*cmd, "--no-parquet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = Path(proc.stdout.splitlines()[0])
    names = csq_format(out)
    entries: dict[tuple[int, str, str, str], dict[str, str]] = {}
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        m = re.search(r"(?:^|;)CSQ=([^;]*)", f[7])
        assert m, f"no CSQ in {line}"
        for entry in m.group(1).split(","):
            row = dict(zip(names, (unquote(x) for x in entry.split("|")), strict=True))
            entries[(int(f[1]), f[3], f[4], row["Feature"])] = row
    return out, entries


def case_alleles(case: Case, seq: str) -> tuple[str, str]:
    if case.ref:
        return case.ref, case.alt
    ref = seq[case.pos - 1]
    return ref, "C" if ref != "C" else "G"


def test_at_least_40_cases() -> None:
    assert len(CASES) >= 40 and len({x.name for x in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[x.name for x in CASES])
def test_case(case: Case, annotated: Annotated) -> None:
    _, entries = annotated
    ref, alt = case_alleles(case, genome())
    row = entries.get((case.pos, ref, alt, case.feature))
    assert row is not None, f"{case.name}: no CSQ entry for {case.feature} ({case.why})"
    got = {k: row.get(k) for k in case.expect}
    assert got == case.expect, f"{case.name} ({case.why}): {row}"
    terms = set(row["Consequence"].split("&"))
    assert case.contains <= terms and not case.absent & terms, f"{case.name} ({case.why}): {row['Consequence']}"


def test_picks_the_mane_transcript_once_per_allele(annotated: Annotated) -> None:
    _, entries = annotated
    by_variant: dict[tuple[int, str, str], list[dict[str, str]]] = {}
    for (pos, ref, alt, _), row in entries.items():
        by_variant.setdefault((pos, ref, alt), []).append(row)
    for variant, rows in by_variant.items():
        assert sum(r["PICK"] == "1" for r in rows) == 1, f"{variant}: {[(r['Feature'], r['PICK']) for r in rows]}"
    assert entries[(1024, "G", "A", TP)]["MANE_SELECT"] != ""
    assert entries[(1024, "G", "A", TPN)]["MANE_SELECT"] == ""


def test_equals_sign_is_escaped_in_the_vcf(annotated: Annotated) -> None:
    out, _ = annotated
    line = next(x for x in out.read_text().splitlines() if x.startswith("1\t1156\t"))
    assert "p.Tyr12%3D" in line and "p.Tyr12=" not in line


PARSER = hgvs.parser.Parser()


def test_the_hgvs_parser_rejects_malformed_strings() -> None:
    # The check below can fail: the parser is strict about the grammar.
    for bad in (f"{TP}:c.4G>", f"{PP}:p.Ala2Thx", f"{TP}:c.4_5delinsXY", f"{PP}:p.Ter20GlnextTerX"):
        with pytest.raises(hgvs.exceptions.HGVSParseError):
            PARSER.parse_hgvs_variant(bad)


def test_every_hgvs_string_parses(annotated: Annotated) -> None:
    _, entries = annotated
    strings = {row[k] for row in entries.values() for k in ("HGVSc", "HGVSp") if row.get(k)}
    assert len(strings) >= 60
    bad = []
    for s in sorted(strings):
        try:
            PARSER.parse_hgvs_variant(s)
        except hgvs.exceptions.HGVSParseError as exc:
            bad.append(f"{s}: {exc}")
    assert bad == []


CONTRACT_FIELDS = (
    "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|cDNA_position|"
    "CDS_position|Protein_position|Amino_acids|Codons|Existing_variation|DISTANCE|STRAND|FLAGS|PICK|CANONICAL|"
    "MANE_SELECT"
).split("|")


@pytest.mark.bcftools
@needs_bcftools
def test_bcftools_split_vep_reads_the_csq(annotated: Annotated) -> None:
    out, _ = annotated

    def split_vep(*args: str) -> list[str]:
        proc = subprocess.run(["bcftools", "+split-vep", *args, str(out)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    listed = [line.split("\t")[1] for line in split_vep("-l")]
    assert listed == CONTRACT_FIELDS == csq_format(out)
    # The brief's own command: one line per record, the transcripts' values comma-joined.
    lines = split_vep("-f", "%Consequence\t%HGVSp\n")
    assert len(lines) == len({(p, r, a) for p, r, a, _ in annotated[1]})
    assert any("stop_gained" in line and f"{PP}:p.Arg10Ter" in line for line in lines)
    # Per transcript (-d): the values VEP-aware tools see, `=` escaped as VEP does.
    rows = split_vep("-d", "-f", "%POS\t%Feature\t%Consequence\t%HGVSp\t%PICK\n")
    assert f"1156\t{TP}\tsynonymous_variant\t{PP}:p.Tyr12%3D\t1" in rows
    assert f"1028\t{TP}\tsplice_donor_variant\t.\t1" in rows  # split-vep prints empty fields as "."
    assert f"1024\t{TPN}\tmissense_variant&NMD_transcript_variant\tENSP00000000102:p.Ala2Thr\t." in rows
