"""Seeded generator of a test reference bundle (genome + gene model) and of variants at its boundaries.

The genome is random sequence; the gene model is written as Ensembl GFF3 (what `bcftools csq`
reads) and as GENCODE GTF, both from the same in-memory model, so an annotator must give the
same answer from either. Coding transcripts get real ORFs (ATG ... stop, internal in-frame stops
mostly removed) so that start/stop rules are exercised. The variants are placed on and around
every boundary the model has (CDS ends, exon/intron edges, splice sites, UTRs, start/stop
codons, transcript ends) and written as a sorted sites-only VCF with REF from the genome.

Run as a script to write a bundle: `python bundle_gen.py OUTDIR [--seed N] [--variants N]`.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BASES = "ACGT"
STOPS = {"TAA", "TAG", "TGA"}
COMP = str.maketrans("ACGTN", "TGCAN")


def revcomp(s: str) -> str:
    return s.translate(COMP)[::-1]


@dataclass
class Transcript:
    id: str  # stable id without version
    version: int
    biotype: str  # protein_coding, nonsense_mediated_decay, lncRNA
    exons: list[tuple[int, int]]  # 1-based inclusive, ascending genomic order
    cds: tuple[int, int] | None = None  # genomic span of the CDS incl. stop codon (GFF3 convention)
    start_nf: bool = False  # 5' incomplete CDS: no start codon, first CDS phase may be 1 or 2
    end_nf: bool = False  # 3' incomplete CDS: no stop codon
    tags: list[str] = field(default_factory=list)
    first_phase: int = 0  # bases before the first complete codon (cds_start_NF only)

    @property
    def start(self) -> int:
        return self.exons[0][0]

    @property
    def end(self) -> int:
        return self.exons[-1][1]

    @property
    def protein_id(self) -> str:
        return self.id.replace("ENST", "ENSP")


@dataclass
class Gene:
    id: str
    version: int
    name: str
    biotype: str
    chrom: str
    strand: str  # "+" or "-"
    transcripts: list[Transcript]

    @property
    def start(self) -> int:
        return min(t.start for t in self.transcripts)

    @property
    def end(self) -> int:
        return max(t.end for t in self.transcripts)


@dataclass
class Bundle:
    contigs: dict[str, list[str]]  # name -> mutable sequence (list of bases; bench/human_bundle.py: arrays)
    genes: list[Gene]

    def seq(self, chrom: str) -> str:
        return "".join(self.contigs[chrom])


def cds_segments(t: Transcript) -> list[tuple[int, int]]:
    """The CDS pieces (ascending genomic order) of a coding transcript, stop codon included."""
    assert t.cds is not None
    lo, hi = t.cds
    return [(max(a, lo), min(b, hi)) for a, b in t.exons if b >= lo and a <= hi]


def cds_positions(t: Transcript, strand: str) -> list[int]:
    """Genomic positions of the CDS in transcript (5'->3') order."""
    pos = [p for a, b in cds_segments(t) for p in range(a, b + 1)]
    return pos if strand == "+" else pos[::-1]


# --- the gene model -----------------------------------------------------------------------


def tag(
    random: Callable[[], float],
    t: Transcript,
    canonical: bool,
    basic: float,
    mane: float,
    basic_canonical: bool = False,
) -> None:
    """Ensembl's tags on a generated transcript: `basic` with that chance (always on the canonical
    one with `basic_canonical`), Ensembl_canonical on the gene's first, MANE_Select with chance
    `mane` on a canonical coding one with a complete CDS, cds_start_NF / cds_end_NF. `random`:
    either generator's draw (random.Random here, numpy's in bench/human_bundle.py), made in this
    order so a seed keeps its bundle."""
    t.tags = ["basic"] if random() < basic or (canonical and basic_canonical) else []
    if canonical:
        t.tags.append("Ensembl_canonical")
        if t.cds and not (t.start_nf or t.end_nf) and random() < mane:
            t.tags.append("MANE_Select")
    if t.start_nf:
        t.tags.append("cds_start_NF")
    if t.end_nf:
        t.tags.append("cds_end_NF")


def noncoding_without_cds(gene: Gene) -> None:
    """A protein-coding gene none of whose transcripts got a CDS is a lincRNA gene, as are they."""
    if gene.biotype == "protein_coding" and not any(t.cds for t in gene.transcripts):
        gene.biotype = "lincRNA"
        for t in gene.transcripts:
            t.biotype = "lincRNA"


def _exon_layout(rng: random.Random, start: int, n: int, tiny: bool) -> list[tuple[int, int]]:
    exons = []
    pos = start
    for i in range(n):
        if tiny and 0 < i < n - 1 and rng.random() < 0.25:
            length = rng.choice([1, 2])  # 1-2 bp exons
        else:
            length = rng.choice([rng.randint(3, 40), rng.randint(40, 250)])
        exons.append((pos, pos + length - 1))
        pos += length + rng.randint(60, 900)  # introns long enough for splice regions on both sides
    return exons


def _place_cds(rng: random.Random, t: Transcript, strand: str) -> None:
    """Choose the CDS on the spliced transcript; sometimes make its start/stop codon straddle an intron."""
    tpos = [p for a, b in t.exons for p in range(a, b + 1)]
    if strand == "-":
        tpos.reverse()
    n = len(tpos)
    if n < 12:
        t.cds = None
        t.biotype = "processed_transcript"
        return
    t.start_nf = rng.random() < 0.06
    t.end_nf = rng.random() < 0.06
    # Exon junctions in transcript coordinates (index of the first base of each later exon).
    junctions = []
    acc = 0
    ordered = t.exons if strand == "+" else t.exons[::-1]
    for a, b in ordered[:-1]:
        acc += b - a + 1
        junctions.append(acc)
    if t.start_nf:
        c0 = 0
        t.first_phase = rng.choice([0, 1, 2])
    elif junctions and rng.random() < 0.15:
        c0 = max(0, rng.choice(junctions) - rng.choice([1, 2]))  # ATG split by an intron
    else:
        c0 = rng.randint(0, min(n // 3, 120)) if rng.random() < 0.85 else 0
    room = n - c0 - t.first_phase
    if room < 9:
        t.cds, t.start_nf, t.end_nf, t.first_phase = None, False, False, 0
        t.biotype = "processed_transcript"
        return
    if t.end_nf:
        c1 = n - 1
        # no 3' UTR; the last codon may be partial (incomplete_terminal_codon)
    else:
        codons = rng.randint(3, room // 3)
        c1 = c0 + t.first_phase + codons * 3 - 1
        if junctions and rng.random() < 0.2:
            # stop codon split by an intron: its last base at transcript index j or j+1 after a junction j
            ends = [j + k for j in junctions for k in (0, 1) if (j + k - c0 - t.first_phase + 1) % 3 == 0]
            ends = [e for e in ends if e - c0 - t.first_phase + 1 >= 9 and e <= n - 1]
            if ends:
                c1 = rng.choice(ends)
    g0, g1 = tpos[c0], tpos[c1]
    t.cds = (min(g0, g1), max(g0, g1))


def _write_orf(rng: random.Random, bundle: Bundle, g: Gene, t: Transcript) -> None:
    """Write ATG, a stop codon and (mostly) stop-free codons into the genome along t's CDS."""
    seq = bundle.contigs[g.chrom]
    pos = cds_positions(t, g.strand)
    plus = g.strand == "+"

    def put(i: int, base: str) -> None:
        seq[pos[i] - 1] = base if plus else base.translate(COMP)

    def get(i: int) -> str:
        b = seq[pos[i] - 1]
        return b if plus else b.translate(COMP)

    off = t.first_phase
    ncod = (len(pos) - off) // 3
    if not t.start_nf:
        for k, b in enumerate("ATG"):
            put(off + k, b)
    last = ncod - 1
    if not t.end_nf:
        for k, b in enumerate(rng.choice(sorted(STOPS))):
            put(off + 3 * last + k, b)
    for c in range(0 if t.start_nf else 1, last if not t.end_nf else ncod):
        i = off + 3 * c
        codon = get(i) + get(i + 1) + get(i + 2)
        if codon in STOPS and rng.random() < 0.97:  # a few internal stops stay (real models have them)
            put(i, rng.choice("CG"))


def generate(seed: int = 1, contigs: dict[str, int] | None = None, genes_per_contig: int = 60) -> Bundle:
    rng = random.Random(seed)
    contigs = contigs or {"1": 700_000, "2": 500_000, "MT": 16_569}
    bundle = Bundle({c: [rng.choice(BASES) for _ in range(n)] for c, n in contigs.items()}, [])
    gnum = tnum = 0
    for chrom, length in contigs.items():
        count = genes_per_contig if length > 100_000 else 3
        cursor = 6_000
        for _ in range(count):
            if cursor > length - 40_000:
                break
            strand = rng.choice("+-")
            kind = rng.random()
            if kind < 0.12:
                start = cursor + rng.randint(0, 3_000)  # nothing special
            elif kind < 0.35 and bundle.genes and bundle.genes[-1].chrom == chrom:
                prev = bundle.genes[-1]
                start = rng.randint(prev.start, max(prev.start, prev.end - 50))  # overlapping or nested
            else:
                start = cursor + rng.randint(500, 6_000)  # a gap: room for upstream/downstream
            gnum += 1
            # bcftools 1.16 knows lincRNA (Ensembl <= 93) but not lncRNA: both appear, only one is compared.
            biotype = rng.choice(["lncRNA", "lincRNA"]) if rng.random() < 0.12 else "protein_coding"
            gene = Gene(f"ENSG{gnum:011d}", rng.randint(1, 9), f"GEN{gnum}", biotype, chrom, strand, [])
            ntx = rng.choice([1, 1, 2, 3, 4])
            nex_main = rng.choice([1, 1, 2, 3, 5, 8, 12, 20, 30]) if rng.random() < 0.95 else 1
            base = _exon_layout(rng, start, nex_main, tiny=True)
            for k in range(ntx):
                tnum += 1
                if k == 0:
                    exons = list(base)
                else:  # alternative transcripts: skip exons, shift an edge
                    exons = [e for e in base if rng.random() < 0.8] or [base[0]]
                    if rng.random() < 0.4:
                        a, b = exons[-1]
                        exons[-1] = (a, b + rng.randint(1, 60))
                t = Transcript(f"ENST{tnum:011d}", rng.randint(1, 5), "protein_coding", exons)
                if biotype != "protein_coding":
                    t.biotype = biotype
                elif k > 0 and rng.random() < 0.25:
                    t.biotype = "nonsense_mediated_decay"
                elif k > 0 and rng.random() < 0.15:
                    t.biotype = rng.choice(["retained_intron", "processed_transcript"])
                if t.biotype in ("protein_coding", "nonsense_mediated_decay"):
                    _place_cds(rng, t, strand)
                tag(rng.random, t, canonical=k == 0, basic=0.9, mane=0.6)
                gene.transcripts.append(t)
            noncoding_without_cds(gene)
            if gene.end >= length - 6_000:
                gnum -= 1
                tnum -= len(gene.transcripts)
                continue
            bundle.genes.append(gene)
            cursor = max(cursor, gene.end + rng.randint(200, 8_000))
    for g in bundle.genes:
        for t in g.transcripts:
            if t.cds:
                _write_orf(rng, bundle, g, t)
    for g in bundle.genes:
        for t in g.transcripts:
            if t.cds:
                _mark_incomplete(bundle, g, t)
    return bundle


def _mark_incomplete(bundle: Bundle, g: Gene, t: Transcript) -> None:
    """An overlapping gene's ORF, written later, may overwrite t's start or stop codon: the model then
    says so, as Ensembl marks a CDS without an ATG or a stop (cds_start_NF / cds_end_NF)."""
    seq = bundle.contigs[g.chrom]
    bases = "".join(seq[p - 1] for p in cds_positions(t, g.strand))
    bases = bases if g.strand == "+" else bases.translate(COMP)
    if not t.start_nf and bases[:3] != "ATG":
        t.start_nf = True
        t.tags.append("cds_start_NF")
    whole = len(bases) - t.first_phase
    if not t.end_nf and (whole % 3 or bases[-3:] not in STOPS):
        t.end_nf = True
        t.tags.append("cds_end_NF")


# --- writers ------------------------------------------------------------------------------


def write_fasta(bundle: Bundle, path: Path, width: int = 60) -> None:
    """FASTA plus its .fai (name, length, offset, bases per line, bytes per line)."""
    write_fasta_arrays(
        {c: np.frombuffer("".join(s).encode(), dtype=np.uint8) for c, s in bundle.contigs.items()}, path, width
    )


def write_fasta_arrays(contigs: Mapping[str, np.ndarray], path: Path, width: int = 60) -> None:
    """FASTA in lines of ``width`` bases from one byte a base (numpy: bench/human_bundle.py's
    300 Mb genome is written in seconds), and its .fai."""
    fai = []
    offset = 0
    with path.open("wb") as f:
        for name, seq in contigs.items():
            head = f">{name}\n".encode()
            f.write(head)
            offset += len(head)
            fai.append(f"{name}\t{seq.size}\t{offset}\t{width}\t{width + 1}\n")
            full = seq.size // width * width
            lines = np.empty((seq.size // width, width + 1), dtype=np.uint8)
            lines[:, :width] = seq[:full].reshape(-1, width)
            lines[:, width] = ord("\n")
            f.write(lines.tobytes())
            tail = seq[full:].tobytes() + b"\n" if seq.size > full else b""
            f.write(tail)
            offset += lines.size + len(tail)
    Path(f"{path}.fai").write_text("".join(fai))


def _phases(t: Transcript, strand: str) -> list[tuple[int, int, int]]:
    """CDS segments with their GFF phase, in transcript order."""
    segs = cds_segments(t)
    if strand == "-":
        segs = segs[::-1]
    out = []
    done = 0
    for a, b in segs:
        phase = (3 - (done - t.first_phase) % 3) % 3 if done or t.first_phase else 0
        if done == 0:
            phase = t.first_phase
        out.append((a, b, phase))
        done += b - a + 1
    return out


def _utrs(t: Transcript, strand: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """5' and 3' UTR pieces (genomic order)."""
    assert t.cds is not None
    lo, hi = t.cds
    left = [(a, min(b, lo - 1)) for a, b in t.exons if a < lo]
    right = [(max(a, hi + 1), b) for a, b in t.exons if b > hi]
    return (left, right) if strand == "+" else (right, left)


GFF3_TYPE = {
    "protein_coding": "mRNA",
    "nonsense_mediated_decay": "NMD_transcript_variant",
    "lncRNA": "lnc_RNA",
    "lincRNA": "lnc_RNA",
    "retained_intron": "transcript",
    "processed_transcript": "transcript",
}


def write_gff3(bundle: Bundle, path: Path) -> None:
    """Ensembl GFF3 layout: gene:/transcript: ids, biotype=, tag=, version=, CDS with phase (stop included)."""
    lines = ["##gff-version 3\n"]
    for name, seq in bundle.contigs.items():
        lines.append(f"##sequence-region   {name} 1 {len(seq)}\n")
    src = "ensembl_havana"
    for g in sorted(bundle.genes, key=lambda g: (list(bundle.contigs).index(g.chrom), g.start)):
        s = g.strand
        gtype = "gene" if g.biotype == "protein_coding" else "ncRNA_gene"
        lines.append(
            f"{g.chrom}\t{src}\t{gtype}\t{g.start}\t{g.end}\t.\t{s}\t.\tID=gene:{g.id};Name={g.name};"
            f"biotype={g.biotype};description=generated;gene_id={g.id};logic_name=ensembl_havana_gene;"
            f"version={g.version}\n"
        )
        for k, t in enumerate(g.transcripts):
            tag = f";tag={','.join(t.tags)}" if t.tags else ""
            lines.append(
                f"{g.chrom}\t{src}\t{GFF3_TYPE[t.biotype]}\t{t.start}\t{t.end}\t.\t{s}\t.\t"
                f"ID=transcript:{t.id};Parent=gene:{g.id};Name={g.name}-{201 + k};biotype={t.biotype}{tag};"
                f"transcript_id={t.id};version={t.version}\n"
            )
            ordered = t.exons if s == "+" else t.exons[::-1]
            for rank, (a, b) in enumerate(ordered, 1):
                eid = f"ENSE{int(t.id[4:]) * 100 + rank:011d}"
                lines.append(
                    f"{g.chrom}\t{src}\texon\t{a}\t{b}\t.\t{s}\t.\tParent=transcript:{t.id};Name={eid};"
                    f"exon_id={eid};rank={rank};version=1\n"
                )
            if t.cds:
                five, three = _utrs(t, s)
                for a, b in five:
                    lines.append(f"{g.chrom}\t{src}\tfive_prime_UTR\t{a}\t{b}\t.\t{s}\t.\tParent=transcript:{t.id}\n")
                for a, b, ph in _phases(t, s):
                    lines.append(
                        f"{g.chrom}\t{src}\tCDS\t{a}\t{b}\t.\t{s}\t{ph}\tID=CDS:{t.protein_id};"
                        f"Parent=transcript:{t.id};protein_id={t.protein_id}\n"
                    )
                for a, b in three:
                    lines.append(f"{g.chrom}\t{src}\tthree_prime_UTR\t{a}\t{b}\t.\t{s}\t.\tParent=transcript:{t.id}\n")
        lines.append("###\n")
    path.write_text("".join(lines))


def write_gtf(bundle: Bundle, path: Path) -> None:
    """GENCODE GTF layout: versioned ids, gene_type/transcript_type, tag "..."; CDS excludes the stop codon."""
    out = ["##description: generated test bundle (GENCODE layout)\n", "##provider: GENCODE\n", "##format: gtf\n"]
    src = "HAVANA"
    for g in sorted(bundle.genes, key=lambda g: (list(bundle.contigs).index(g.chrom), g.start)):
        s = g.strand
        gattr = f'gene_id "{g.id}.{g.version}"; gene_type "{g.biotype}"; gene_name "{g.name}"; level 2;'
        out.append(f"{g.chrom}\t{src}\tgene\t{g.start}\t{g.end}\t.\t{s}\t.\t{gattr}\n")
        for k, t in enumerate(g.transcripts):
            tattr = (
                f'gene_id "{g.id}.{g.version}"; transcript_id "{t.id}.{t.version}"; gene_type "{g.biotype}"; '
                f'gene_name "{g.name}"; transcript_type "{t.biotype}"; transcript_name "{g.name}-{201 + k}"; level 2;'
            )
            prot = f' protein_id "{t.protein_id}.{t.version}";' if t.cds else ""
            tags = "".join(f' tag "{x}";' for x in t.tags)
            out.append(f"{g.chrom}\t{src}\ttranscript\t{t.start}\t{t.end}\t.\t{s}\t.\t{tattr}{prot}{tags}\n")
            ordered = t.exons if s == "+" else t.exons[::-1]
            body = []
            for rank, (a, b) in enumerate(ordered, 1):
                eid = f"ENSE{int(t.id[4:]) * 100 + rank:011d}.1"
                ex = f' exon_number {rank}; exon_id "{eid}";'
                body.append((a, 0, f"{g.chrom}\t{src}\texon\t{a}\t{b}\t.\t{s}\t.\t{tattr}{ex}{prot}{tags}\n"))
            if t.cds:
                pos = cds_positions(t, s)
                stop = [] if t.end_nf else pos[-3:]
                coding = set(pos) - set(stop)
                start = [] if t.start_nf else pos[:3]
                for a, b, ph in _phases(t, s):
                    seg = [p for p in range(a, b + 1) if p in coding]
                    if seg:
                        body.append(
                            (
                                seg[0],
                                1,
                                f"{g.chrom}\t{src}\tCDS\t{seg[0]}\t{seg[-1]}\t.\t{s}\t{ph}\t{tattr}{prot}{tags}\n",
                            )
                        )
                for feat, group in (("start_codon", start), ("stop_codon", stop)):
                    done = 0
                    for a, b in _runs(sorted(group), s):
                        ph = (3 - done % 3) % 3
                        body.append((a, 2, f"{g.chrom}\t{src}\t{feat}\t{a}\t{b}\t.\t{s}\t{ph}\t{tattr}{prot}{tags}\n"))
                        done += b - a + 1
                five, three = _utrs(t, s)
                for a, b in five + three:
                    if a <= b:
                        body.append((a, 3, f"{g.chrom}\t{src}\tUTR\t{a}\t{b}\t.\t{s}\t.\t{tattr}{prot}{tags}\n"))
            body.sort(key=lambda x: (x[0] if s == "+" else -x[0], x[1]))
            out.extend(line for _, _, line in body)
    path.write_text("".join(out))


def _runs(positions: list[int], strand: str) -> list[tuple[int, int]]:
    """Contiguous runs of genomic positions, in transcript order."""
    runs: list[tuple[int, int]] = []
    for p in positions:
        if runs and runs[-1][1] == p - 1:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return runs if strand == "+" else runs[::-1]


def describe(bundle: Bundle) -> dict:
    """Counts of every kind of structure the generator promises (the generator's own test reads them)."""
    d: Counter[str] = Counter()
    exon_counts = []
    for g in bundle.genes:
        for t in g.transcripts:
            d["plus_strand" if g.strand == "+" else "minus_strand"] += 1
            exon_counts.append(len(t.exons))
            d["exons_ge_20"] += len(t.exons) >= 20
            d["tiny_exons"] += sum(b - a + 1 <= 2 for a, b in t.exons)
            d["basic"] += "basic" in t.tags
            d["canonical"] += "Ensembl_canonical" in t.tags
            d["mane"] += "MANE_Select" in t.tags
            d["nmd"] += t.biotype == "nonsense_mediated_decay"
            if not t.cds:
                d["noncoding"] += 1
                continue
            d["single_exon_coding"] += len(t.exons) == 1
            five, three = _utrs(t, g.strand)
            d["utr5"] += any(a <= b for a, b in five)
            d["utr3"] += any(a <= b for a, b in three)
            for _, _, ph in _phases(t, g.strand):
                d[f"phase{ph}"] += 1
            pos = cds_positions(t, g.strand)
            split = [abs(pos[i + 1] - pos[i]) != 1 for i in range(len(pos) - 1)]
            d["start_split"] += not t.start_nf and any(split[:2])
            d["stop_split"] += not t.end_nf and any(split[-2:])
            d["start_nf"] += t.start_nf
            d["end_nf"] += t.end_nf
    for a in bundle.genes:
        for b in bundle.genes:
            if a is not b and a.chrom == b.chrom and a.start <= b.end and b.start <= a.end:
                d["overlapping_genes"] += 1
                d["nested_genes"] += a.start < b.start and b.end < a.end
    return {**d, "genes": len(bundle.genes), "transcripts": len(exon_counts), "exon_counts": sorted(set(exon_counts))}


# --- variants -----------------------------------------------------------------------------


def boundaries(bundle: Bundle) -> list[tuple[str, int]]:
    """Every edge in the model: exon edges (= splice sites), CDS ends, start/stop codons, UTR edges."""
    out = []
    for g in bundle.genes:
        for t in g.transcripts:
            for a, b in t.exons:
                out += [(g.chrom, a), (g.chrom, b)]
            if t.cds:
                pos = cds_positions(t, g.strand)
                out += [(g.chrom, p) for p in pos[:3] + pos[-3:]]
                for a, b in cds_segments(t):
                    out += [(g.chrom, a), (g.chrom, b)]
            out += [(g.chrom, t.start - 1), (g.chrom, t.end + 1)]
    return out


def _variant(rng: random.Random, seq: str, pos: int) -> tuple[int, str, str] | None:
    """One variant starting at or just before pos (1-based): SNV, MNV, deletion, insertion or delins."""
    kind = rng.random()
    n = len(seq)
    if kind < 0.45:
        ref = seq[pos - 1]
        return pos, ref, rng.choice([b for b in BASES if b != ref])
    if kind < 0.55:
        length = rng.choice([2, 2, 3, 3, 4, 6])
        ref = seq[pos - 1 : pos - 1 + length]
        alt = "".join(rng.choice([b for b in BASES if b != r]) if rng.random() < 0.7 else r for r in ref)
        if alt == ref or alt[0] == ref[0] or alt[-1] == ref[-1] or pos + length > n:
            alt = "".join(rng.choice([b for b in BASES if b != r]) for r in ref)
        return pos, ref, alt
    length = rng.choice([1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 9, 12, 15, 21, 30, rng.randint(1, 30)])
    p = pos - 1  # VCF anchor base before the event
    if p < 1 or p + length + 1 > n:
        return None
    anchor = seq[p - 1]
    if kind < 0.78:  # deletion
        return p, seq[p - 1 : p + length], anchor
    if kind < 0.95:  # insertion (sometimes a copy of the following or preceding bases: dup)
        if rng.random() < 0.3:
            ins = seq[p : p + length]
        elif rng.random() < 0.3:
            ins = seq[p - length : p]
        else:
            ins = "".join(rng.choice(BASES) for _ in range(length))
        return p, anchor, anchor + ins
    ref = seq[p - 1 : p + length]  # delins with a different length
    alt = anchor + "".join(rng.choice(BASES) for _ in range(rng.randint(1, 6)))
    return (p, ref, alt) if alt[1:] != ref[1 : len(alt)] and len(alt) != len(ref) else None


def variants(bundle: Bundle, count: int = 50_000, seed: int = 2) -> list[tuple[str, int, str, str]]:
    rng = random.Random(seed)
    seqs = {c: bundle.seq(c) for c in bundle.contigs}
    edges = boundaries(bundle)
    genes = bundle.genes
    seen: set[tuple[str, int, str, str]] = set()
    out: list[tuple[str, int, str, str]] = []
    while len(out) < count:
        r = rng.random()
        if r < 0.75:
            chrom, edge = rng.choice(edges)
            pos = edge + rng.randint(-11, 11)
        elif r < 0.9:  # inside a transcript anywhere (exons, introns)
            g = rng.choice(genes)
            t = rng.choice(g.transcripts)
            chrom, pos = g.chrom, rng.randint(t.start, t.end)
        else:  # within 6 kb of a gene (upstream/downstream) or anywhere
            g = rng.choice(genes)
            chrom = g.chrom
            pos = rng.choice([g.start - rng.randint(1, 6_000), g.end + rng.randint(1, 6_000)])
        seq = seqs[chrom]
        if not 2 <= pos <= len(seq) - 40:
            continue
        v = _variant(rng, seq, pos)
        if v is None:
            continue
        key = (chrom, *v)
        if key[2] == key[3] or key in seen:
            continue
        seen.add(key)
        out.append(key)
    order = {c: i for i, c in enumerate(bundle.contigs)}
    out.sort(key=lambda v: (order[v[0]], v[1], v[2], v[3]))
    return out


def write_vcf(bundle: Bundle, rows: list[tuple[str, int, str, str]], path: Path) -> None:
    """A sites-only VCF of `rows` (sorted), its contigs declared with their lengths."""
    with path.open("w") as f:
        f.write("##fileformat=VCFv4.2\n")
        f.writelines(f"##contig=<ID={c},length={len(s)}>\n" for c, s in bundle.contigs.items())
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        f.writelines(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\n" for c, p, r, a in rows)


@dataclass
class Written:
    fasta: Path
    gff3: Path
    gtf: Path
    vcf: Path
    bundle: Bundle


def write_bundle(outdir: Path, seed: int = 1, n_variants: int = 50_000) -> Written:
    outdir.mkdir(parents=True, exist_ok=True)
    bundle = generate(seed)
    w = Written(outdir / "genome.fa", outdir / "genes.gff3", outdir / "genes.gtf", outdir / "variants.vcf", bundle)
    write_fasta(bundle, w.fasta)
    write_gff3(bundle, w.gff3)
    write_gtf(bundle, w.gtf)
    write_vcf(bundle, variants(bundle, n_variants, seed + 1), w.vcf)
    return w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", type=int, default=50_000)
    args = ap.parse_args()
    w = write_bundle(args.outdir, args.seed, args.variants)
    ntx = sum(len(g.transcripts) for g in w.bundle.genes)
    print(f"{len(w.bundle.genes)} genes, {ntx} transcripts, {args.variants} variants -> {args.outdir}")


if __name__ == "__main__":
    main()
