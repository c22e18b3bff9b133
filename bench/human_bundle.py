"""Seeded generator of a human-scale reference bundle (genome + Ensembl GFF3) and a whole-genome VCF.

    .venv/bin/python bench/human_bundle.py OUTDIR [--seed 1] [--genes 60000] [--scale 10] [--variants 1000000]

The issue's speed target (issue 24: ~60k genes, ~250k transcripts, a genome of at least
300 Mb, 1M variants) needs inputs the differential test's generator (tests/annotator/
bundle_gen.py, base by base in Python, variants dense at every boundary) cannot make in
reasonable time. This one draws the genome with numpy and places genes and variants as a
real genome has them:

* contigs 1-22, X, Y at GRCh38's lengths divided by ``--scale`` (10: 309 Mb), bases drawn
  in bulk with 41% GC;
* genes placed by a clustered density (100 kb windows weighted by a gamma draw: gene-dense
  regions and deserts), one third each protein-coding, lincRNA and short single-exon genes;
  ~4 transcripts per gene (coding genes ~8: alternative first/last exons, skipped exons,
  shifted edges, NMD and retained-intron isoforms). Exon counts and lengths follow human
  ones (coding: ~9 exons, internal exons ~120 bp, 3' UTRs ~700 bp); introns and gaps are
  ~10x shorter than human ones, because the genome is (the same gene count on a tenth of
  the sequence);
* real ORFs: every coding transcript reads ATG ... stop with internal stops removed (the
  canonical transcripts' frames are written last, and protein-coding genes do not overlap one
  another, so they are clean);
* variants uniform over the genome (so most are intergenic or intronic, as in a real genome),
  85% SNVs (transitions twice as frequent as transversions), 2% MNVs, 13% indels of 1-30 bp.

Writes genome.fa (+ .fai), genes.gff3 (Ensembl layout: the layout both GAS and bcftools csq
read) and variants.vcf with tests/annotator/bundle_gen.py's writers, whose tagging it shares.
With ``--scale 10`` it takes about a minute (30 s CPU) and 2.1 GB of memory.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "annotator"))

from bundle_gen import (  # noqa: E402
    Bundle,
    Gene,
    Transcript,
    noncoding_without_cds,
    tag,
    write_fasta_arrays,
    write_gff3,
    write_vcf,
)

GRCH38 = {
    "1": 248_956_422, "2": 242_193_529, "3": 198_295_559, "4": 190_214_555, "5": 181_538_259,
    "6": 170_805_979, "7": 159_345_973, "8": 145_138_636, "9": 138_394_717, "10": 133_797_422,
    "11": 135_086_622, "12": 133_275_309, "13": 114_364_328, "14": 107_043_718, "15": 101_991_189,
    "16": 90_338_345, "17": 83_257_441, "18": 80_373_285, "19": 58_617_616, "20": 64_444_167,
    "21": 46_709_983, "22": 50_818_468, "X": 156_040_895, "Y": 57_227_415,
}  # fmt: skip
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
# 100 slots: A and T 29 each, C and G 21 each (41% GC), drawn as one byte per base.
GC41 = np.repeat(BASES, [29, 21, 21, 29])
COMPLEMENT = np.arange(256, dtype=np.uint8)
COMPLEMENT[list(b"ACGT")] = list(b"TGCA")
A, C, G, T = b"ACGT"
STOP_CODONS = (b"TAA", b"TAG", b"TGA")
WINDOW = 100_000


def genome(rng: np.random.Generator, scale: int) -> dict[str, np.ndarray]:
    return {name: GC41[rng.integers(0, 100, size=length // scale, dtype=np.uint8)] for name, length in GRCH38.items()}


def _lognormal(rng: np.random.Generator, median: float, sigma: float, lo: int, hi: int) -> int:
    return int(np.clip(rng.lognormal(np.log(median), sigma), lo, hi))


def _gene_exons(rng: np.random.Generator, start: int, kind: str) -> list[tuple[int, int]]:
    """The union exon layout of a gene (its canonical transcript's), 1-based inclusive."""
    if kind == "small":
        n = 1
    elif kind == "lincRNA":
        n = 1 + int(rng.poisson(1.8))
    else:
        n = 1 if rng.random() < 0.06 else min(2 + int(rng.negative_binomial(2, 0.2)), 80)
    exons = []
    pos = start
    for i in range(n):
        if kind == "small":
            length = int(rng.integers(60, 400))
        elif i == n - 1 and kind == "coding":
            length = _lognormal(rng, 900, 0.7, 100, 8_000)  # the last exon holds the 3' UTR
        elif i == 0:
            length = _lognormal(rng, 200, 0.7, 30, 3_000)
        else:
            length = _lognormal(rng, 120, 0.5, 1, 2_000)
        exons.append((pos, pos + length - 1))
        pos += length + _lognormal(rng, 450, 1.1, 60, 40_000)
    return exons


def _alternative(rng: np.random.Generator, base: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """An isoform: a window of the gene's exons, some internal ones skipped, an outer edge moved."""
    n = len(base)
    i = int(rng.integers(0, max(1, n // 3))) if rng.random() < 0.4 else 0
    j = n - int(rng.integers(0, max(1, n // 3))) if rng.random() < 0.3 else n
    exons = [e for k, e in enumerate(base[i:j]) if k in (0, j - i - 1) or rng.random() > 0.15]
    if rng.random() < 0.4:
        a, b = exons[0]
        exons[0] = (max(1, min(b, a + int(rng.integers(-200, 200)))), b)
    if rng.random() < 0.4:
        a, b = exons[-1]
        exons[-1] = (a, max(a, b + int(rng.integers(-300, 300))))
    return exons


def _place_cds(rng: np.random.Generator, t: Transcript, strand: str, start: int | None) -> int | None:
    """Choose t's CDS on its spliced sequence (sharing the gene's start codon when t has it);
    returns the genomic position of the first CDS base in transcription order, None if non-coding."""
    ordered = t.exons if strand == "+" else t.exons[::-1]
    lengths = [b - a + 1 for a, b in ordered]
    total = sum(lengths)
    offset = None  # transcript index of the CDS's first base
    if start is not None:
        done = 0
        for (a, b), n in zip(ordered, lengths, strict=True):
            if a <= start <= b:
                offset = done + (start - a if strand == "+" else b - start)
                break
            done += n
    if offset is None:
        offset = min(_lognormal(rng, 150, 0.8, 0, 2_000), total // 4)
    utr3 = min(_lognormal(rng, 700, 0.8, 0, 6_000), (total - offset) // 3)
    codons = (total - offset - utr3) // 3
    if codons < 4:
        t.biotype, t.cds = "processed_transcript", None
        return None
    last = offset + codons * 3 - 1

    def genomic(i: int) -> int:
        for (a, b), n in zip(ordered, lengths, strict=True):
            if i < n:
                return a + i if strand == "+" else b - i
            i -= n
        raise AssertionError(i)

    g0, g1 = genomic(offset), genomic(last)
    t.cds = (min(g0, g1), max(g0, g1))
    return g0


def _write_orf(rng: np.random.Generator, seq: np.ndarray, t: Transcript, strand: str) -> None:
    """ATG, stop-free codons and a stop codon along t's CDS, in the genome array."""
    assert t.cds is not None
    lo, hi = t.cds
    pos = np.concatenate([np.arange(max(a, lo) - 1, min(b, hi)) for a, b in t.exons if b >= lo and a <= hi])
    if strand == "-":
        pos = pos[::-1]
    bases = seq[pos] if strand == "+" else COMPLEMENT[seq[pos]]
    codons = bases.reshape(-1, 3)
    codons[0] = list(b"ATG")
    codons[-1] = list(STOP_CODONS[int(rng.integers(0, 3))])
    inner = codons[1:-1]
    stop = (inner[:, 0] == T) & (
        ((inner[:, 1] == A) & ((inner[:, 2] == A) | (inner[:, 2] == G))) | ((inner[:, 1] == G) & (inner[:, 2] == A))
    )
    inner[stop, 0] = np.where(rng.random(int(stop.sum())) < 0.5, C, G)
    seq[pos] = bases if strand == "+" else COMPLEMENT[bases]


def genes(rng: np.random.Generator, contigs: dict[str, np.ndarray], n_genes: int) -> list[Gene]:
    total = sum(s.size for s in contigs.values())
    out: list[Gene] = []
    gnum = tnum = 0
    for chrom, seq in contigs.items():
        length = seq.size
        count = round(n_genes * length / total)
        # Clustered placement: 100 kb windows weighted by a gamma draw (shape 0.5: deserts and dense regions).
        weights = rng.gamma(0.5, size=max(1, length // WINDOW))
        windows = rng.choice(weights.size, size=count, p=weights / weights.sum())
        starts = np.sort(windows * WINDOW + rng.integers(0, WINDOW, size=count))
        coding_end = 0  # where the last protein-coding gene ends: their coding sequences do not overlap
        for start in starts.tolist():
            r = rng.random()
            kind = "coding" if r < 0.36 else "lincRNA" if r < 0.7 else "small"
            if kind == "coding":
                start = max(start, coding_end + int(rng.integers(200, 5_000)))
            base = _gene_exons(rng, int(start) + 1, kind)
            if base[0][0] < 6_000 or base[-1][1] > length - 6_000:
                continue
            strand = "+" if rng.random() < 0.5 else "-"
            gnum += 1
            biotype = "protein_coding" if kind == "coding" else "lincRNA"
            gene = Gene(f"ENSG{gnum:011d}", int(rng.integers(1, 20)), f"GEN{gnum}", biotype, chrom, strand, [])
            ntx = 1 + int(rng.poisson(7.0 if kind == "coding" else 2.0 if kind == "lincRNA" else 0.0))
            cds_start: int | None = None
            for k in range(ntx):
                tnum += 1
                exons = list(base) if k == 0 else _alternative(rng, base)
                t = Transcript(f"ENST{tnum:011d}", int(rng.integers(1, 10)), biotype, exons)
                if kind == "coding" and k > 0:
                    r = rng.random()
                    t.biotype = "nonsense_mediated_decay" if r < 0.12 else "retained_intron" if r < 0.25 else t.biotype
                if t.biotype in ("protein_coding", "nonsense_mediated_decay"):
                    first = _place_cds(rng, t, strand, cds_start)
                    cds_start = first if k == 0 else cds_start
                tag(rng.random, t, canonical=k == 0, basic=0.7, mane=0.9, basic_canonical=True)
                gene.transcripts.append(t)
            noncoding_without_cds(gene)
            out.append(gene)
            if kind == "coding":
                coding_end = gene.end
    # Canonical transcripts' ORFs last, so theirs are the clean frames.
    for canonical in (False, True):
        for gene in out:
            for k, t in enumerate(gene.transcripts):
                if t.cds and (k == 0) == canonical:
                    _write_orf(rng, contigs[gene.chrom], t, gene.strand)
    return out


def variants(rng: np.random.Generator, contigs: dict[str, np.ndarray], n: int) -> list[tuple[str, int, str, str]]:
    names = list(contigs)
    ends = np.cumsum([s.size for s in contigs.values()])
    gpos = np.sort(rng.integers(0, int(ends[-1]), size=int(n * 1.02)))
    cid = np.searchsorted(ends, gpos, side="right")
    pos0 = gpos - np.concatenate([[0], ends[:-1]])[cid]  # 0-based on the contig
    kind = rng.random(gpos.size)
    transition = {A: "G", G: "A", C: "T", T: "C"}
    others = {b: [chr(x) for x in b"ACGT" if x != b] for b in b"ACGT"}
    out: list[tuple[str, int, str, str]] = []
    seen: set[tuple[int, int]] = set()
    for c, p, k in zip(cid.tolist(), pos0.tolist(), kind.tolist(), strict=True):
        seq = contigs[names[c]]
        if not 1 <= p < seq.size - 40 or (c, p) in seen:
            continue
        seen.add((c, p))
        ref1 = int(seq[p])
        if k < 0.85:
            alt = transition[ref1] if rng.random() < 2 / 3 else others[ref1][int(rng.integers(0, 3))]
            out.append((names[c], p + 1, chr(ref1), alt))
            continue
        length = min(30, 1 + int(rng.geometric(0.45)))
        if k < 0.87:  # MNV of 2-3 bases, every base changed
            ref = seq[p : p + 1 + length % 2 + 1].tobytes().decode()
            alt = "".join(others[ord(b)][int(rng.integers(0, 3))] for b in ref)
            out.append((names[c], p + 1, ref, alt))
        elif k < 0.94:  # deletion after the anchor base at p
            out.append((names[c], p + 1, seq[p : p + 1 + length].tobytes().decode(), chr(ref1)))
        else:  # insertion after the anchor base, a third of them copies of the next bases (dups)
            ins = seq[p + 1 : p + 1 + length].tobytes().decode() if rng.random() < 0.33 else None
            ins = ins or "".join("ACGT"[x] for x in rng.integers(0, 4, size=length))
            out.append((names[c], p + 1, chr(ref1), chr(ref1) + ins))
        if len(out) >= n:
            break
    return out[:n]


def write(outdir: Path, seed: int = 1, n_genes: int = 60_000, scale: int = 10, n_variants: int = 1_000_000) -> str:
    """Write genome.fa(.fai), genes.gff3 and variants.vcf into outdir; returns a one-line description."""
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    contigs = genome(rng, scale)
    model = genes(rng, contigs, n_genes)
    write_fasta_arrays(contigs, outdir / "genome.fa")
    bundle = Bundle(contigs, model)  # arrays where the tests' bundles hold lists: both have len()
    write_gff3(bundle, outdir / "genes.gff3")
    rows = variants(rng, contigs, n_variants)
    write_vcf(bundle, rows, outdir / "variants.vcf")
    ntx = sum(len(g.transcripts) for g in model)
    coding = sum(1 for g in model for t in g.transcripts if t.cds)
    size = sum(s.size for s in contigs.values())
    return f"{size / 1e6:.0f} Mb, {len(model)} genes, {ntx} transcripts ({coding} coding), {len(rows)} variants"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--genes", type=int, default=60_000)
    parser.add_argument("--scale", type=int, default=10, help="contig lengths are GRCh38's divided by this")
    parser.add_argument("--variants", type=int, default=1_000_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    summary = write(args.outdir, args.seed, args.genes, args.scale, args.variants)
    print(f"{summary} -> {args.outdir} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
