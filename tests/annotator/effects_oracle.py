"""The differential oracle for transcript consequences: bcftools csq's BCSQ against GAS's VEP-style CSQ.

docs/annotation-engine.md ("Transcript consequences: differential test") publishes the map below
and says what is compared. In short: per variant x transcript, the set of consequence terms after
mapping VEP's SO terms to bcftools' names (terms bcftools does not have are dropped on both sides,
and `intron` counts only when nothing else is said, as bcftools reports it), and for substitutions
(SNV/MNV) in the coding sequence the protein position and the reference and alternate residues.
"""

from __future__ import annotations

import re
import subprocess
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote

# VEP (Sequence Ontology) term -> bcftools csq term; None: bcftools has no such term (not compared).
VEP_TO_BCFTOOLS: dict[str, str | None] = {
    "splice_acceptor_variant": "splice_acceptor",
    "splice_donor_variant": "splice_donor",
    "stop_gained": "stop_gained",
    "frameshift_variant": "frameshift",
    "stop_lost": "stop_lost",
    "start_lost": "start_lost",
    "inframe_insertion": "inframe_insertion",
    "inframe_deletion": "inframe_deletion",
    "protein_altering_variant": "inframe_altering",
    "missense_variant": "missense",
    "splice_region_variant": "splice_region",
    # VEP 105+ splits the donor side of the splice region; bcftools calls all of it splice_region.
    "splice_donor_5th_base_variant": "splice_region",
    "splice_donor_region_variant": "splice_region",
    "synonymous_variant": "synonymous",
    "stop_retained_variant": "stop_retained",
    "start_retained_variant": "start_retained",
    "5_prime_UTR_variant": "5_prime_utr",
    "3_prime_UTR_variant": "3_prime_utr",
    "non_coding_transcript_exon_variant": "non_coding",
    "intron_variant": "intron",
    "coding_sequence_variant": "coding_sequence",
    "feature_elongation": "feature_elongation",
    # Not in bcftools csq: covered by the hand-checked cases (tests/annotator/test_hgvs_cases.py).
    "splice_polypyrimidine_tract_variant": None,
    "incomplete_terminal_codon_variant": None,
    "NMD_transcript_variant": None,
    "non_coding_transcript_variant": None,
    "upstream_gene_variant": None,
    "downstream_gene_variant": None,
    "feature_truncation": None,
    "intergenic_variant": None,
}
BCFTOOLS_TERMS = {v for v in VEP_TO_BCFTOOLS.values() if v} | {"inframe_altering"}
# Terms whose amino-acid change is compared (substitutions only; see module docstring).
AA_TERMS = {"missense", "synonymous", "stop_gained", "stop_lost", "start_lost", "stop_retained"}


@dataclass(frozen=True)
class Call:
    terms: frozenset[str]  # bcftools names
    aa: tuple[int, str, str] | None  # (first protein position, reference residues, alternate residues)
    raw: str  # the tool's own text, for the report


Key = tuple[str, int, str, str, str]  # chrom, pos, ref, alt, transcript stable id (no version)


# bcftools prints `intron` and `non_coding` without the transcript id (gene name and biotype only);
# a resolver from the gene model gives them back to the overlapping transcripts of that gene and biotype
# that have no other call (bcftools' own rule: intron/non_coding only when nothing else holds).
GROUPED = {"intron", "non_coding"}
BIOTYPE_BCFTOOLS = {"nonsense_mediated_decay": "NMD"}
Resolver = Callable[[str, int, int, str, str], list[str]]  # chrom, start, end, gene name, bcftools biotype

# Terms about the protein, which VEP does not compute for a variant that is not wholly inside the CDS.
PROTEIN_TERMS = {
    "frameshift",
    "inframe_insertion",
    "inframe_deletion",
    "inframe_altering",
    "missense",
    "synonymous",
    "stop_gained",
    "stop_lost",
    "start_lost",
    "stop_retained",
    "start_retained",
}
INFRAME_INDEL = {"inframe_insertion", "inframe_deletion", "inframe_altering"}
# VEP's marks of a transcript without a CDS.
NON_CODING_TRANSCRIPT = {"non_coding_transcript_variant", "non_coding_transcript_exon_variant"}


def normalise(terms: set[str]) -> frozenset[str]:
    """The published rules applied to both tools' terms (docs/annotation-engine.md):

    - `intron` counts only when nothing else is said (bcftools reports it only then);
    - a variant that reaches a splice donor/acceptor site: its protein effect is not compared (VEP
      says coding_sequence_variant for a variant not wholly in the CDS, bcftools predicts from the
      exonic part or says nothing);
    - a variant crossing the CDS edge into a UTR: only start_lost/stop_lost of its protein terms are
      compared, for the same reason;
    - start_lost: bcftools stops there, VEP adds frameshift/inframe terms; those are not compared;
    - frameshift: stop_gained is not compared (VEP looks for a stop in the changed codons only,
      bcftools in the whole new frame)."""
    out = set(terms)
    if len(out) > 1:
        out.discard("intron")
    protein = PROTEIN_TERMS | {"coding_sequence"}
    if out & {"splice_donor", "splice_acceptor"}:
        out -= protein
    elif out & {"5_prime_utr", "3_prime_utr"} and out & protein:
        out -= protein - {"start_lost", "stop_lost"}
    if "start_lost" in out:
        out -= INFRAME_INDEL | {"frameshift"}
    if "frameshift" in out:
        out.discard("stop_gained")
    return frozenset(out)


def equivalent(gas: frozenset[str], bcf: frozenset[str]) -> bool:
    """Equal terms, or VEP's protein_altering_variant where bcftools names the in-frame indel by length."""
    if gas == bcf:
        return True
    if "inframe_altering" in gas:
        return (gas - INFRAME_INDEL) == (bcf - INFRAME_INDEL) and bool(bcf & INFRAME_INDEL)
    return False


def run_bcftools_csq(fasta: Path, gff3: Path, vcf: Path, out: Path) -> Path:
    subprocess.run(
        ["bcftools", "csq", "--local-csq", "-f", str(fasta), "-g", str(gff3), "-Ov", "-o", str(out), str(vcf)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out


_BCSQ_AA = re.compile(r"^(\d+)([A-Z*]+)(?:>(\d+)([A-Z*]+))?$")


def parse_bcsq_aa(text: str) -> tuple[int, str, str] | None:
    """`28R>28W` (change), `28R` (synonymous); None for anything longer (`..` abbreviations, indels)."""
    m = _BCSQ_AA.match(text)
    if not m:
        return None
    pos, ref, _, alt = m.groups()
    return int(pos), ref, alt if alt is not None else ref


def _info_values(path: Path, tag: str) -> Iterator[tuple[list[str], str]]:
    """(the record's first nine columns, the value of INFO `tag`) for each record that has it."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t", 8)
        m = re.search(rf"(?:^|;){tag}=([^;\t]*)", f[7])
        if m:
            yield f, m.group(1)


def read_bcsq(path: Path, resolve: Resolver | None = None) -> dict[Key, Call]:
    """BCSQ=csq|gene|transcript|biotype|strand|amino_acid_change|dna_change, comma-separated per record."""
    calls: dict[Key, Call] = {}
    for f, value in _info_values(path, "BCSQ"):
        chrom, pos, ref, alt = f[0], int(f[1]), f[3], f[4]
        groups = []
        for entry in value.split(","):
            if entry.startswith("@"):  # haplotype reference to another record (not with --local-csq)
                continue
            parts = entry.split("|")
            terms = {t.lstrip("*") for t in parts[0].split("&")}
            if not parts[2]:
                if not terms <= GROUPED:
                    raise ValueError(f"{chrom}:{pos}: BCSQ entry without a transcript: {entry}")
                groups.append((parts, terms, entry))
                continue
            aa = parse_bcsq_aa(parts[5]) if len(parts) > 5 else None
            key = (chrom, pos, ref, alt, parts[2])
            if key in calls:  # bcftools writes splice and coding consequences of one transcript apart
                prev = calls[key]
                terms |= prev.terms
                aa, entry = prev.aa or aa, f"{prev.raw},{entry}"
            calls[key] = Call(frozenset(terms), aa, entry)
        for parts, terms, entry in groups:
            tids = resolve(chrom, pos, pos + len(ref) - 1, parts[1], parts[3]) if resolve else []
            tids = [t for t in tids if (chrom, pos, ref, alt, t) not in calls] or [f"gene:{parts[1]}|{parts[3]}"]
            for tid in tids:
                calls[(chrom, pos, ref, alt, tid)] = Call(frozenset(terms), None, entry)
    return {k: Call(normalise(set(c.terms)), c.aa, c.raw) for k, c in calls.items()}


def csq_format(path: Path, tag: str = "CSQ") -> list[str]:
    """The field names from the CSQ header's `Format: a|b|c` description."""
    with path.open() as fh:
        for line in fh:
            if line.startswith(f"##INFO=<ID={tag},"):
                m = re.search(r"Format: ([^\"]+)\"", line)
                if m:
                    return m.group(1).strip().split("|")
            if line.startswith("#CHROM"):
                break
    raise ValueError(f"{path}: no ##INFO=<ID={tag}> header with a Format")


def parse_csq_aa(protein_position: str, amino_acids: str) -> tuple[int, str, str] | None:
    """VEP's Protein_position `28` / `28-29` and Amino_acids `R/W` (synonymous: `R`)."""
    if not protein_position or not amino_acids:
        return None
    first = protein_position.split("-")[0]
    if not first.isdigit():
        return None
    ref, _, alt = amino_acids.partition("/")
    return int(first), ref, alt or ref


def read_csq(path: Path, tag: str = "CSQ") -> tuple[dict[Key, Call], dict[Key, dict[str, str]]]:
    """GAS's CSQ per variant x transcript, as bcftools terms, plus every field by name (for the report)."""
    names = csq_format(path, tag)
    calls: dict[Key, Call] = {}
    rows: dict[Key, dict[str, str]] = {}
    for f, value in _info_values(path, tag):
        if "," in f[4]:
            raise ValueError(f"{f[0]}:{f[1]}: the oracle compares single-ALT records only")
        for entry in value.split(","):
            row = dict(zip(names, unquote(entry).split("|") if "%" in entry else entry.split("|"), strict=True))
            if row.get("Feature_type") != "Transcript" or not row.get("Feature"):
                continue
            tid = row["Feature"].split(".")[0]
            vep = set(row["Consequence"].split("&"))
            unknown = vep - VEP_TO_BCFTOOLS.keys()
            if unknown:
                raise ValueError(f"{f[0]}:{f[1]}: consequence terms outside the published map: {sorted(unknown)}")
            terms = normalise({term for t in vep if (term := VEP_TO_BCFTOOLS[t])})
            if vep & NON_CODING_TRANSCRIPT:  # bcftools says only `non_coding` anywhere in such a transcript
                terms = frozenset({"non_coding"})
            key = (f[0], int(f[1]), f[3], f[4], tid)
            if key in rows:
                raise ValueError(f"{f[0]}:{f[1]}: two CSQ entries for {row['Feature']}")
            rows[key] = row
            if terms:
                aa = parse_csq_aa(row.get("Protein_position", ""), row.get("Amino_acids", ""))
                calls[key] = Call(terms, aa, row["Consequence"])
    return calls, rows


@dataclass
class Comparison:
    pairs: int = 0
    agree: int = 0
    aa_compared: int = 0
    aa_agree: int = 0
    not_comparable: int = 0  # GAS intron/non_coding pairs at sites where bcftools stopped at another hit
    classes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def note(self, cls: str, example: str) -> None:
        self.classes[cls] += 1
        if len(self.examples[cls]) < 2:
            self.examples[cls].append(example)

    @property
    def rate(self) -> float:
        return self.agree / self.pairs if self.pairs else 0.0

    def table(self, limit: int = 25) -> str:
        lines = [
            f"variant x transcript pairs compared: {self.pairs}, agree: {self.agree} ({100 * self.rate:.3f}%); "
            f"amino-acid changes compared: {self.aa_compared}, agree: {self.aa_agree}; "
            f"GAS intron/non_coding pairs bcftools does not look for: {self.not_comparable}",
            f"{'count':>7}  class (GAS -> bcftools)  examples",
        ]
        for cls, n in self.classes.most_common(limit):
            lines.append(f"{n:>7}  {cls}  {'; '.join(self.examples[cls][:2])}")
        return "\n".join(lines)


def _to_stop(aa: tuple[int, str, str] | None) -> tuple[int, str, str] | None:
    """bcftools writes residues up to the first stop (`LV>*`), VEP every changed codon's (`LV/*L`)."""
    if aa is None:
        return None
    pos, ref, alt = aa
    return pos, ref[: ref.find("*") + 1] if "*" in ref else ref, alt[: alt.find("*") + 1] if "*" in alt else alt


def _is_substitution(ref: str, alt: str) -> bool:
    return len(ref) == len(alt)


def compare(
    gas: dict[Key, Call],
    bcf: dict[Key, Call],
    skip: Callable[[str], bool] = lambda _: False,
    skip_aa: Callable[[str], bool] = lambda _: False,
) -> Comparison:
    """Every pair either tool reports (after the map) counts; a pair agrees when terms and aa change agree.

    `skip(transcript)` leaves out transcripts one tool does not model; `skip_aa(transcript)` compares
    only the terms of transcripts whose codon numbering the tools define differently."""
    c = Comparison()
    bcf_sites = {k[:4] for k in bcf}
    for key in sorted(gas.keys() | bcf.keys()):
        if skip(key[4]):
            continue
        g = gas.get(key)
        if key not in bcf and g is not None and g.terms <= GROUPED and key[:4] in bcf_sites:
            # bcftools looks for intron/non_coding hits only when no transcript at the site has a CDS, UTR
            # or splice hit (its search order), so its silence here says nothing.
            c.not_comparable += 1
            continue
        c.pairs += 1
        b = bcf.get(key)
        where = f"{key[0]}:{key[1]} {key[2]}>{key[3]} {key[4]}"
        if g is None or b is None:
            side = "only bcftools" if g is None else "only GAS"
            present = b if g is None else g
            assert present is not None
            cls = f"{side}: {'&'.join(sorted(present.terms))}"
            c.note(cls, f"{where} [{present.raw}]")
            continue
        ok = equivalent(g.terms, b.terms)
        crosses_utr = bool((g.terms | b.terms) & {"5_prime_utr", "3_prime_utr"})  # VEP gives no residues then
        if (
            ok
            and _is_substitution(key[2], key[3])
            and g.terms & AA_TERMS
            and b.aa
            and not crosses_utr
            and not skip_aa(key[4])
        ):
            c.aa_compared += 1
            if _to_stop(g.aa) == _to_stop(b.aa):
                c.aa_agree += 1
            else:
                ok = False
                cls = f"amino acids differ ({'&'.join(sorted(g.terms))})"
                c.note(cls, f"{where} GAS {g.aa} bcftools {b.aa} [{b.raw}]")
        elif not ok:
            cls = f"{'&'.join(sorted(g.terms))} -> {'&'.join(sorted(b.terms))}"
            c.note(cls, f"{where} [{g.raw}] [{b.raw}]")
        c.agree += ok
    return c


# --- VEP's own rules, where bcftools csq decides differently by definition -----------------------
# For the pairs of the classes below the expected terms are computed here, from the variant's
# geometry and the transcript model alone (not from GAS's code), after Ensembl VEP's predicates;
# every other pair is compared with bcftools. docs/annotation-engine.md lists the classes.


@dataclass(frozen=True)
class TxModel:
    """A transcript as the oracle sees it (from the generator's model): 1-based inclusive exons in
    ascending order, strand, the CDS's genomic span (stop codon included) and its incomplete ends."""

    exons: tuple[tuple[int, int], ...]
    strand: int  # 1 or -1
    cds: tuple[int, int] | None = None
    start_nf: bool = False
    end_nf: bool = False
    nmd: bool = False
    cds_seq: str = ""  # the CDS's bases in transcript order (the genome's, complemented on the minus strand)
    phase: int = 0  # bases before the first whole codon (a cds_start_NF CDS's GFF3 phase)

    @cached_property
    def introns(self) -> list[tuple[int, int]]:
        return [(a[1] + 1, b[0] - 1) for a, b in zip(self.exons, self.exons[1:], strict=False)]

    @cached_property
    def zones(self) -> list[tuple[int, int]]:
        """Each junction's splice sites and region: 3 exon and 8 intron bases either side of it."""
        return [z for i0, i1 in self.introns for z in ((i0 - 3, i0 + 7), (i1 - 7, i1 + 3))]

    @cached_property
    def sites(self) -> list[tuple[int, int]]:
        return [z for i0, i1 in self.introns for z in ((i0, i0 + 1), (i1 - 1, i1))]

    @cached_property
    def _starts(self) -> list[int]:
        return [a for a, _ in self.exons]

    def exonic(self, g: int) -> bool:
        j = bisect_right(self._starts, g) - 1
        return j >= 0 and g <= self.exons[j][1]

    def coding(self, g: int) -> bool:
        return self.cds is not None and self.cds[0] <= g <= self.cds[1] and self.exonic(g)

    def codon(self, first: bool, annotated: bool = False) -> list[int]:
        """Genomic positions of the start (first=True) or stop codon; [] for an incomplete end
        (cds_start_NF / cds_end_NF) unless `annotated`: the CDS's first / last three bases."""
        if not self.cds or (not annotated and (self.start_nf if first else self.end_nf)):
            return []
        return self.cds_bases[:3] if first else self.cds_bases[-3:]

    @cached_property
    def cds_bases(self) -> list[int]:
        """The CDS's genomic positions in transcript order."""
        assert self.cds is not None
        lo, hi = self.cds
        bases = [g for a, b in self.exons for g in range(max(a, lo), min(b, hi) + 1)]
        return bases if self.strand > 0 else bases[::-1]

    def part(self, g: int) -> str:
        if not self.exons[0][0] <= g <= self.exons[-1][1]:
            return "outside"
        return "coding" if self.coding(g) else "exon" if self.exonic(g) else "intron"


# Terms about where a change lies relative to exon/intron junctions (VEP's `_intron_effects`) and the CDS.
JUNCTION_TERMS = {"splice_donor", "splice_acceptor", "splice_region", "intron"}
UTR_TERMS = {"5_prime_utr", "3_prime_utr"}


def vep_minimal(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The allele as VEP run with --minimal sees it (GAS decides at the same form): the bases REF and
    ALT share at the start, then at the end, trimmed (Utils::Sequence::trim_sequences)."""
    while ref and alt and ref[0] == alt[0]:
        pos, ref, alt = pos + 1, ref[1:], alt[1:]
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    return pos, ref, alt


def vep_feature(pos: int, ref: str, alt: str) -> tuple[int, int, list[tuple[int, int]]]:
    """VEP's VariationFeature of a VCF allele (`vep_minimal`): start, end (end = start - 1 for an
    insertion) and the regions that differ (BaseVariationFeatureOverlapAllele::_get_differing_regions:
    the bases where REF and ALT differ position by position when both are longer than one base, else
    all of REF)."""
    pos, ref, alt = vep_minimal(pos, ref, alt)
    start, end = pos, pos + len(ref) - 1
    if len(ref) > 1 and len(alt) > 1:
        regions: list[tuple[int, int]] = []
        for i in range(max(len(ref), len(alt))):
            if ref[i : i + 1] == alt[i : i + 1]:
                continue
            if regions and regions[-1][1] == start + i - 1:
                regions[-1] = (regions[-1][0], start + i)
            else:
                regions.append((start + i, start + i))
        return start, end, regions
    return start, end, [(start, end)]


def _overlap(s1: int, e1: int, s2: int, e2: int) -> bool:
    return e1 >= s2 and s1 <= e2  # VEP's overlap(): an insertion (s = e + 1) overlaps what lies on both sides


def vep_junction_terms(tx: TxModel, pos: int, ref: str, alt: str) -> set[str]:
    """VEP's `_intron_effects` and `_intron_overlap` (ensembl-variation VariationEffect.pm and
    BaseTranscriptVariationAllele.pm) as bcftools terms: the intron's first/last two bases are the
    splice sites (donor 5', acceptor 3' on the transcript's strand); splice_region is exon bases 1-3
    and intron bases 3-8 from a junction, plus an insertion between exon and intron or between the
    site and the rest of the intron, and only when no site is hit; intron is intron bases 3 onwards
    from either end (an insertion between bases 2 and 3 counts)."""
    out: set[str] = set()
    region = False
    for r0, r1 in vep_feature(pos, ref, alt)[2]:
        ins = r0 == r1 + 1
        for i0, i1 in tx.introns:
            if _overlap(r0, r1, i0 + 2, i1 - 2) or (ins and (r0 == i0 + 2 or r1 == i1 - 2)):
                out.add("intron")
            if not _overlap(min(r0, r1), max(r0, r1), i0 - 3, i1 + 3):
                continue
            if _overlap(r0, r1, i0, i0 + 1):
                out.add("splice_donor" if tx.strand > 0 else "splice_acceptor")
            if _overlap(r0, r1, i1 - 1, i1):
                out.add("splice_acceptor" if tx.strand > 0 else "splice_donor")
            region |= (
                _overlap(r0, r1, i0 + 2, i0 + 7)
                or _overlap(r0, r1, i1 - 7, i1 - 2)
                or _overlap(r0, r1, i0 - 3, i0 - 1)
                or _overlap(r0, r1, i1 + 1, i1 + 3)
                or (ins and (r0 in (i0, i0 + 2) or r1 in (i1, i1 - 2)))
            )
    if region and not out & {"splice_donor", "splice_acceptor"}:
        out.add("splice_region")
    return out


def vep_utr_terms(tx: TxModel, pos: int, ref: str, alt: str) -> set[str]:
    """VEP's within_5_prime_utr / within_3_prime_utr: the change overlaps the genomic span before
    (after) the CDS, an insertion beside the CDS's first (last) base counting on that side
    (`_before_coding`, `_after_coding`), and it touches the cDNA (an exonic base; an insertion beside
    one, as its bases join the exon)."""
    if tx.cds is None:
        return set()
    s, e, _ = vep_feature(pos, ref, alt)
    t0, t1 = tx.exons[0][0], tx.exons[-1][1]
    ins = s == e + 1
    # (a transcript without a 5' or 3' UTR has none: VEP's overlap() of an empty span is left out)
    before = t0 < tx.cds[0] and (_overlap(s, e, t0, tx.cds[0] - 1) or (ins and s == tx.cds[0]))
    after = tx.cds[1] < t1 and (_overlap(s, e, tx.cds[1] + 1, t1) or (ins and e == tx.cds[1]))
    cdna = tx.exonic(e) or tx.exonic(s) if ins else any(_overlap(s, e, a, b) for a, b in tx.exons)
    if not cdna:
        return set()
    five, three = ("5_prime_utr", "3_prime_utr") if tx.strand > 0 else ("3_prime_utr", "5_prime_utr")
    return {t for t, hit in ((five, before), (three, after)) if hit}


def vep_class(tx: TxModel, pos: int, ref: str, alt: str) -> str | None:
    """The class of a change whose terms bcftools csq decides by another rule than VEP (None: the
    pair is compared with bcftools):

    - an insertion beside a junction's splice sites or region: bcftools decides from the VCF anchor
      base, VEP from the two bases the insertion lies between (whose bases join the exon);
    - a deletion whose VCF padding base (REF's first base, not deleted) lies at a junction or in
      another part of the transcript (CDS, UTR, intron) than the deleted bases: bcftools counts it;
    - a change that takes an exon base and a splice site: bcftools drops the site;
    - a change that takes bases of the start or stop codon and bases outside the CDS: bcftools says
      coding_sequence or start_lost / stop_lost by its own rules, VEP start_lost / stop_lost exactly
      when both ends of the change are in the cDNA."""
    start, end, _ = vep_feature(pos, ref, alt)
    zones = tx.zones
    if start == end + 1:
        if any(_overlap(end, start, a, b) for a, b in zones):
            return "insertion at a junction"
        atg = tx.codon(True)
        after_atg = atg and (end == atg[2] if tx.strand > 0 else start == atg[2])
        return "insertion right after the start codon" if after_atg else None
    deletion = len(alt) == 1 and len(ref) > 1 and ref[0] == alt[0]
    if deletion and (tx.part(pos) != tx.part(pos + 1) or any(_overlap(pos, end, a, b) for a, b in zones)):
        return "deletion with its padding base at a junction or another part"
    span = (pos, pos + len(ref) - 1)  # the VCF's bases, its anchor base included (bcftools' view)
    if len(ref) != len(alt) and any(_overlap(*span, a, b) or _overlap(start, end, a, b) for a, b in zones):
        return "other length change at a junction"
    if any(_overlap(start, end, a, b) for a, b in tx.sites) and any(_overlap(start, end, a, b) for a, b in tx.exons):
        return "change taking an exon base and a splice site"
    if _takes_codon_and_more(tx, start, end):
        return "change taking the start or stop codon and bases outside the CDS"
    return None


def _takes_codon_and_more(tx: TxModel, start: int, end: int) -> bool:
    codons = tx.codon(True, annotated=True) + tx.codon(False, annotated=True)  # bcftools reads no _NF tags
    return any(start <= g <= end for g in codons) and not all(tx.coding(g) for g in range(start, end + 1))


def vep_expected(tx: TxModel, call: Call, pos: int, ref: str, alt: str, cls: str) -> frozenset[str]:
    """bcftools' terms with VEP's junction and UTR terms in place of its own, and VEP's rule for the
    protein: its terms only for a change wholly in the CDS (an insertion at a coding junction counts,
    as its bases join the exon; without a protein term from bcftools: frameshift or inframe by
    length); a change only partly in the CDS is coding_sequence_variant, or start_lost / stop_lost
    when it takes a start / stop codon base and both its ends are in the cDNA (`_overlaps_start_codon`
    / `_overlaps_stop_codon`: cdna_start and cdna_end defined)."""
    start, end, _ = vep_feature(pos, ref, alt)
    ins = start == end + 1
    terms = set(call.terms) - JUNCTION_TERMS - UTR_TERMS
    utr = vep_utr_terms(tx, pos, ref, alt)
    if cls == "insertion right after the start codon":
        terms.discard("start_lost")  # the ATG is intact: VEP's _overlaps_start_codon is false
    if ins:
        cds = whole = (tx.coding(end) or tx.coding(start)) and not utr
    else:
        coding = [tx.coding(g) for g in range(start, end + 1)]
        cds, whole = any(coding), all(coding)
    delta = len(alt) - len(ref)
    if not whole:
        terms -= PROTEIN_TERMS | {"coding_sequence"}
        for term, first in (("start_lost", True), ("stop_lost", False)):
            if tx.exonic(start) and tx.exonic(end) and any(start <= g <= end for g in tx.codon(first)):
                terms.add(term)
        if cds and not terms & {"start_lost", "stop_lost"}:
            terms.add("coding_sequence")
    elif not terms & PROTEIN_TERMS:
        terms.add("frameshift" if delta % 3 else "inframe_insertion" if delta > 0 else "inframe_deletion")
    return normalise(terms | vep_junction_terms(tx, pos, ref, alt) | utr)


def with_vep_rules(bcf: dict[Key, Call], models: dict[str, TxModel]) -> tuple[dict[Key, Call], Counter[str]]:
    """bcftools' calls with VEP's expected terms for the pairs of `vep_class` (`vep_expected`) and for
    substitutions whose residues bcftools names by other rules (`vep_peptide_terms`); the count of
    pairs of each class."""
    out: dict[Key, Call] = {}
    counts: Counter[str] = Counter()
    for key, call in bcf.items():
        tx = models.get(key[4])
        if tx is None or "non_coding" in call.terms:
            out[key] = call
            continue
        cls = vep_class(tx, *key[1:4])
        if cls is not None:
            terms = vep_expected(tx, call, *key[1:4], cls)
        elif len(key[2]) == len(key[3]) and call.aa and call.terms & AA_TERMS:
            terms = vep_peptide_terms(tx, call)
            cls = "substitution whose residues bcftools names otherwise" if terms != call.terms else None
        elif len(key[2]) != len(key[3]) and (stop := vep_stop_terms(tx, call, *key[1:4])) is not None:
            terms = stop
            cls = "indel whose changed codons hold a stop" if terms != call.terms else None
        if cls is None:
            out[key] = call
            continue
        counts[cls] += 1
        if terms:  # else VEP names nothing bcftools has a term for (a deletion beyond the transcript's end)
            out[key] = Call(terms, call.aa, f"{call.raw} [VEP rule: {cls}]")
    return out, counts


PEPTIDE_TERMS = {"missense", "synonymous", "stop_gained", "stop_lost", "stop_retained", "start_lost"}


def vep_peptide_terms(tx: TxModel, call: Call) -> frozenset[str]:
    """VEP's peptide predicates (VariationEffect.pm: start_lost, stop_gained, stop_lost, stop_retained,
    missense_variant, synonymous_variant) applied to the residues bcftools gives for a substitution
    wholly in the CDS: bcftools 1.16 calls a changed split start codon or an NMD transcript's codon 1
    missense, a stop inside changed residues missense, a stop codon kept synonymous."""
    assert call.aa is not None
    pos, ref, alt = call.aa
    start_lost = pos == 1 and bool(tx.codon(True)) and ref != alt  # translation_start 1, peptide changed
    stop_retained = ref.startswith("*") and alt.startswith("*")
    stop_gained = not stop_retained and "*" in alt and "*" not in ref
    stop_lost = "*" in ref and "*" not in alt
    named = {
        "start_lost": start_lost,
        "stop_retained": stop_retained,
        "stop_gained": stop_gained,
        "stop_lost": stop_lost,
        "missense": ref != alt and not (start_lost or stop_lost or stop_gained),
        "synonymous": ref == alt and not stop_retained,
    }
    return normalise((set(call.terms) - PEPTIDE_TERMS) | {t for t, hit in named.items() if hit})


_CODONS = dict(
    zip(
        (a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"),
        "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        strict=True,
    )
)
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _vep_peptide(codons: str) -> str:
    """TranscriptVariationAllele::peptide: the whole codons translated, `X` for a partial one after them
    unless the peptide is a lone stop."""
    whole = len(codons) - len(codons) % 3
    pep = "".join(_CODONS.get(codons[i : i + 3], "X") for i in range(0, whole, 3))
    return pep + ("X" if len(codons) % 3 and pep != "*" else "")


def vep_stop_terms(tx: TxModel, call: Call, pos: int, ref: str, alt: str) -> frozenset[str] | None:
    """For an indel wholly in the CDS (an insertion between two coding bases), VEP's stop_gained /
    stop_lost / stop_retained from the peptides of the changed codons alone (a stop codon among them,
    the annotated one or one inside the CDS); bcftools reads the new sequence on to its next stop.
    None for any other change."""
    if not tx.cds_seq:
        return None
    start, end, _ = vep_feature(pos, ref, alt)
    plus = tx.strand > 0
    ins = start == end + 1
    if ins:
        if not (tx.coding(start) and tx.coding(end)):
            return None
        i0 = i1 = tx.cds_bases.index(start if plus else end)
    else:
        if not all(tx.coding(g) for g in range(start, end + 1)):
            return None
        i0, i1 = sorted((tx.cds_bases.index(start), tx.cds_bases.index(end)))
        i1 += 1
    new = vep_minimal(pos, ref, alt)[2]
    new = new if plus else new.translate(_COMPLEMENT)[::-1]
    w0 = i0 - (i0 - tx.phase) % 3  # codons start `phase` bases into the CDS
    w1 = i1 + (tx.phase - i1) % 3 if not ins or (i0 - tx.phase) % 3 else w0
    if w0 < 0 or (w0 == 0 and tx.codon(True)):
        return None  # the partial first codon of a cds_start_NF CDS; the start codon's own rules
    ref_pep = _vep_peptide(tx.cds_seq[w0:w1])
    alt_pep = _vep_peptide(tx.cds_seq[w0:i0] + new + tx.cds_seq[i1:w1])
    retained = alt_pep.startswith("*") and ref_pep.startswith("*")
    named = {
        "stop_retained": retained,
        "stop_lost": "*" in ref_pep and "*" not in alt_pep,
        "stop_gained": not retained and "*" in alt_pep and "*" not in ref_pep,
    }
    stops = {"stop_retained", "stop_lost", "stop_gained"}
    return normalise((set(call.terms) - stops) | {t for t, hit in named.items() if hit})
