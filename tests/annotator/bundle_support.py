"""A small hand-made bundle for the bundle-build and transcript-effect tests. Every base the
tests touch is placed by hand (below), so the expected codons, amino acids and HGVS strings
can be checked on paper.

chr1 (1-based coordinates):

* GENEA, + strand, ENSG1.2 / ENST1.3 (Ensembl_canonical, MANE_Select) / ENSP1.1:
  exon 1 101-130 (5' UTR 101-110, CDS c.1-20 at 111-130), intron 131-200 (GTAAGT ... TTTCAG),
  exon 2 201-240 (CDS c.21-33 at 201-213, 3' UTR 214-240). The CDS is
  ATG AAA CTG CTG CTG CGC GG|A TCC TGG CAG TAA = M K L L L R G S W Q * (codon 7 split by the
  intron; the second CDS row has phase 1); the 3' UTR starts GTGA, so a frameshift that reads
  on into it stops there.
* GENEB, - strand, ENSG2.1 / ENST2.1 / ENSP2.1, one exon 401-460: 5' UTR 451-460, CDS 412-450
  (ATG GCT GAA GGT TGG CAA CGT CCT TAT GAA TTT CAG TAG, read on the minus strand), 3' UTR 401-411.
* GENEC, + strand, lncRNA ENSG3.1 / ENST3.1: exons 601-650 and 701-750.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
UTR5_A = "GCAGCAGCAG"
CDS_A = "ATGAAACTGCTGCTGCGCGGATCCTGGCAGTAA"
INTRON_A = "GTAAGT" + "C" * 58 + "TTTCAG"
UTR3_A = "GTGATTACAGATTACAGATTACAGATT"
TX_B = "GGGAAACCCT" + "ATGGCTGAAGGTTGGCAACGTCCTTATGAATTTCAGTAG" + "CCCAAATTTGG"  # 5'->3'
LENGTH = 1000


def revcomp(s: str) -> str:
    return s.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def genome() -> str:
    rng = random.Random(7)
    seq = [rng.choice("ACGT") for _ in range(LENGTH)]

    def put(pos1: int, text: str) -> None:
        seq[pos1 - 1 : pos1 - 1 + len(text)] = list(text)

    put(101, UTR5_A + CDS_A[:20] + INTRON_A + CDS_A[20:] + UTR3_A)
    put(401, revcomp(TX_B))
    return "".join(seq)


GFF3 = """\
##gff-version 3
##sequence-region chr1 1 1000
chr1\tensembl\tgene\t101\t240\t.\t+\t.\tID=gene:ENSG1;Name=GENEA;biotype=protein_coding;version=2
chr1\tensembl\tmRNA\t101\t240\t.\t+\t.\tID=transcript:ENST1;Parent=gene:ENSG1;Name=GENEA-201;biotype=protein_coding;tag=basic,Ensembl_canonical,MANE_Select;version=3
chr1\tensembl\texon\t101\t130\t.\t+\t.\tParent=transcript:ENST1;Name=ENSE1;rank=1
chr1\tensembl\tfive_prime_UTR\t101\t110\t.\t+\t.\tParent=transcript:ENST1
chr1\tensembl\tCDS\t111\t130\t.\t+\t0\tID=CDS:ENSP1;Parent=transcript:ENST1;protein_id=ENSP1.1
chr1\tensembl\texon\t201\t240\t.\t+\t.\tParent=transcript:ENST1;Name=ENSE2;rank=2
chr1\tensembl\tCDS\t201\t213\t.\t+\t1\tID=CDS:ENSP1;Parent=transcript:ENST1;protein_id=ENSP1.1
chr1\tensembl\tthree_prime_UTR\t214\t240\t.\t+\t.\tParent=transcript:ENST1
chr1\tensembl\tgene\t401\t460\t.\t-\t.\tID=gene:ENSG2;Name=GENEB;biotype=protein_coding;version=1
chr1\tensembl\tmRNA\t401\t460\t.\t-\t.\tID=transcript:ENST2;Parent=gene:ENSG2;biotype=protein_coding;tag=basic,Ensembl_canonical;version=1
chr1\tensembl\texon\t401\t460\t.\t-\t.\tParent=transcript:ENST2
chr1\tensembl\tCDS\t412\t450\t.\t-\t0\tParent=transcript:ENST2;protein_id=ENSP2.1
chr1\tensembl\tncRNA_gene\t601\t750\t.\t+\t.\tID=gene:ENSG3;Name=GENEC;biotype=lncRNA;version=1
chr1\tensembl\tlnc_RNA\t601\t750\t.\t+\t.\tID=transcript:ENST3;Parent=gene:ENSG3;biotype=lncRNA;tag=basic,Ensembl_canonical;version=1
chr1\tensembl\texon\t601\t650\t.\t+\t.\tParent=transcript:ENST3
chr1\tensembl\texon\t701\t750\t.\t+\t.\tParent=transcript:ENST3
"""


def _gtf_row(start: int, end: int, strand: str, kind: str, frame: str, attrs: str) -> str:
    return f"chr1\tHAVANA\t{kind}\t{start}\t{end}\t.\t{strand}\t{frame}\t{attrs}\n"


def gtf() -> str:
    a = 'gene_id "ENSG1.2"; transcript_id "ENST1.3"; gene_type "protein_coding"; gene_name "GENEA"; '
    a += 'transcript_type "protein_coding"; tag "basic"; tag "Ensembl_canonical"; tag "MANE_Select";'
    b = 'gene_id "ENSG2.1"; transcript_id "ENST2.1"; gene_type "protein_coding"; gene_name "GENEB"; '
    b += 'transcript_type "protein_coding"; tag "basic"; tag "Ensembl_canonical";'
    c = 'gene_id "ENSG3.1"; transcript_id "ENST3.1"; gene_type "lncRNA"; gene_name "GENEC"; '
    c += 'transcript_type "lncRNA"; tag "basic"; tag "Ensembl_canonical";'
    rows = [
        "##description: hand-made test model\n",
        _gtf_row(101, 240, "+", "gene", ".", 'gene_id "ENSG1.2"; gene_type "protein_coding"; gene_name "GENEA";'),
        _gtf_row(101, 240, "+", "transcript", ".", a),
        _gtf_row(101, 130, "+", "exon", ".", a + " exon_number 1;"),
        _gtf_row(111, 130, "+", "CDS", "0", a + ' protein_id "ENSP1.1";'),
        _gtf_row(111, 113, "+", "start_codon", "0", a),
        _gtf_row(201, 240, "+", "exon", ".", a + " exon_number 2;"),
        _gtf_row(201, 210, "+", "CDS", "1", a + ' protein_id "ENSP1.1";'),  # GTF: the stop codon is not CDS
        _gtf_row(211, 213, "+", "stop_codon", "0", a),
        _gtf_row(101, 110, "+", "UTR", ".", a),
        _gtf_row(214, 240, "+", "UTR", ".", a),
        _gtf_row(401, 460, "-", "gene", ".", 'gene_id "ENSG2.1"; gene_type "protein_coding"; gene_name "GENEB";'),
        _gtf_row(401, 460, "-", "transcript", ".", b),
        _gtf_row(401, 460, "-", "exon", ".", b),
        _gtf_row(415, 450, "-", "CDS", "0", b + ' protein_id "ENSP2.1";'),
        _gtf_row(412, 414, "-", "stop_codon", "0", b),
        _gtf_row(601, 750, "+", "gene", ".", 'gene_id "ENSG3.1"; gene_type "lncRNA"; gene_name "GENEC";'),
        _gtf_row(601, 750, "+", "transcript", ".", c),
        _gtf_row(601, 650, "+", "exon", ".", c),
        _gtf_row(701, 750, "+", "exon", ".", c),
    ]
    return "".join(rows)


def write_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    seq = genome()
    paths = {"fasta": folder / "genome.fa", "gff3": folder / "genes.gff3", "gtf": folder / "genes.gtf"}
    paths["fasta"].write_text(">chr1 test\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60)))
    paths["gff3"].write_text(GFF3)
    paths["gtf"].write_text(gtf())
    return paths


def build(name: str, db_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "gas-annotation-db"), "build", "--name", name, "--db-dir", str(db_dir), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def annotate(vcf: Path, name: str, db_dir: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "gas-annotate"), str(vcf), "--db", name, "--db-dir", str(db_dir), "-o", str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
