"""Reading a gene model (Ensembl GFF3, GENCODE GTF) and its FASTA for a bundle build.

Both layouts become the same ``Transcript`` records, so one model written both ways compiles
to the same bundle: GFF3 CDS rows include the stop codon, GTF CDS rows do not (its
``stop_codon`` rows are added to the coding span). Inputs may be plain, gzip or BGZF (BGZF
is multi-member gzip, which ``gzip`` reads). Every problem is a ``GeneModelError`` whose text
is ``FILE:LINE: reason`` (or ``FILE: reason`` for the FASTA as a whole).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import unquote

TX_TYPES = {
    "transcript", "mRNA", "lnc_RNA", "lncRNA", "ncRNA", "pseudogenic_transcript", "miRNA", "snRNA", "snoRNA",
    "rRNA", "scRNA", "tRNA", "misc_RNA", "unconfirmed_transcript", "primary_transcript", "NMD_transcript_variant",
    "processed_transcript", "V_gene_segment", "C_gene_segment", "D_gene_segment", "J_gene_segment", "scaRNA",
    "vault_RNA", "Y_RNA",
}  # fmt: skip
GENE_TYPES = {"gene", "ncRNA_gene", "pseudogene"}
PART_TYPES = {"exon", "CDS", "five_prime_UTR", "three_prime_UTR", "UTR", "start_codon", "stop_codon"}


class GeneModelError(ValueError):
    """Bad gene model or FASTA input: ``FILE:LINE: reason``."""


@dataclass
class Transcript:
    tx_id: str  # stable id with version (ENST00000000001.1)
    gene_id: str  # with version
    gene_name: str
    gene_biotype: str
    biotype: str
    contig: str
    strand: int  # 1 or -1
    tags: set[str] = field(default_factory=set)
    protein_id: str = ""  # with version
    exons: list[tuple[int, int]] = field(default_factory=list)  # 0-based half-open, ascending
    cds: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, phase) incl. the stop codon
    cds_lines: list[int] = field(default_factory=list)  # file line of each CDS row as read
    stop_codons: list[tuple[int, int]] = field(default_factory=list)  # GTF only
    start: int = 0
    end: int = 0
    line: int = 0  # where it was defined, for messages
    mane: str = ""

    @property
    def canonical(self) -> bool:
        return "Ensembl_canonical" in self.tags

    @property
    def mane_select(self) -> bool:
        return "MANE_Select" in self.tags


def open_text(path: Path) -> IO[str]:
    """Plain, gzip or BGZF text."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open_text(path) as f:
            for n, line in enumerate(f, start=1):
                yield n, line.rstrip("\r\n")
    except (EOFError, gzip.BadGzipFile, OSError, UnicodeDecodeError) as exc:
        raise GeneModelError(f"{path.name}: unreadable ({type(exc).__name__}: {exc})") from None


def _versioned(stable: str, version: str) -> str:
    return f"{stable}.{version}" if version and not re.search(r"\.\d+$", stable) else stable


def _unversioned(protein_id: str) -> str:
    """Ensembl's GFF3 writes protein_id without a version (and the protein's version is not the
    transcript's), GENCODE's GTF with one: HGVSp names the protein by its stable id alone, so
    one model gives the same output from either file."""
    return re.sub(r"\.\d+$", "", protein_id)


_GTF_ATTR = re.compile(r'\s*([A-Za-z_][\w.]*)\s+(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))\s*;?')


def _gff3_attrs(text: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.strip().rstrip(";").split(";"):
        if not part.strip():
            continue
        key, eq, value = part.strip().partition("=")
        if not eq:
            raise GeneModelError(f"{where}: attribute {part.strip()[:40]!r} is not key=value")
        out[key] = value
    return out


def _gtf_attrs(text: str, where: str) -> tuple[dict[str, str], list[str]]:
    out: dict[str, str] = {}
    tags: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _GTF_ATTR.match(text, pos)
        if not m or m.end() == pos:
            raise GeneModelError(f"{where}: malformed attribute near {text[pos : pos + 40]!r}")
        key, value = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
        if key == "tag":
            tags.append(value)
        else:
            out.setdefault(key, value)
        pos = m.end()
    return out, tags


def _columns(path: Path, n: int, line: str) -> tuple[str, str, int, int, int, str, str] | None:
    """(seqid, type, start0, end, strand, phase, attributes); None for comments."""
    if not line or line.startswith("#"):
        return None
    cols = line.split("\t")
    where = f"{path.name}:{n}"
    if len(cols) != 9:
        raise GeneModelError(f"{where}: expected 9 tab-separated columns, found {len(cols)}")
    try:
        start, end = int(cols[3]), int(cols[4])
    except ValueError:
        raise GeneModelError(f"{where}: start/end {cols[3]!r}/{cols[4]!r} are not integers") from None
    if start < 1 or end < start:
        raise GeneModelError(f"{where}: bad interval {start}-{end} (1-based, start <= end)")
    if cols[6] not in ("+", "-"):
        if cols[2] in PART_TYPES or cols[2] in TX_TYPES:
            raise GeneModelError(f"{where}: strand {cols[6]!r} is not + or -")
        return None
    phase = cols[7]
    if cols[2] == "CDS" and phase not in ("0", "1", "2"):
        raise GeneModelError(f"{where}: CDS phase {phase!r} is not 0, 1 or 2")
    return unquote(cols[0]), cols[2], start - 1, end, 1 if cols[6] == "+" else -1, phase, cols[8]


def _add_part(tx: Transcript, kind: str, start: int, end: int, phase: str, line: int) -> None:
    if kind == "exon":
        tx.exons.append((start, end))
    elif kind == "CDS":
        tx.cds.append((start, end, int(phase)))
        tx.cds_lines.append(line)
    elif kind == "stop_codon":
        tx.stop_codons.append((start, end))


def read_gff3(path: Path) -> list[Transcript]:
    """Ensembl GFF3: gene -> transcript (any RNA type with a gene Parent) -> parts."""
    genes: dict[str, tuple[str, str, str]] = {}  # ID -> (gene id with version, name, biotype)
    txs: dict[str, Transcript] = {}
    parts: list[tuple[str, str, int, int, str, str, str, int]] = []
    for n, line in _lines(path):
        if line.startswith("##FASTA"):
            break
        cols = _columns(path, n, line)
        if cols is None:
            continue
        seqid, kind, start, end, strand, phase, attr_text = cols
        where = f"{path.name}:{n}"
        attrs = _gff3_attrs(attr_text, where)
        ident = attrs.get("ID", "")
        if kind in GENE_TYPES or (ident.startswith("gene:") and "Parent" not in attrs):
            stable = attrs.get("gene_id") or ident.removeprefix("gene:")
            genes[ident] = (
                _versioned(stable, attrs.get("version", "")),
                unquote(attrs.get("Name", "")),
                attrs.get("biotype", ""),
            )
        elif kind in PART_TYPES:
            parent = attrs.get("Parent")
            if not parent:
                raise GeneModelError(f"{where}: {kind} without Parent")
            parts.append((parent, kind, start, end, phase, seqid, attrs.get("protein_id", ""), n))
        elif "Parent" in attrs and (kind in TX_TYPES or ident.startswith("transcript:")):
            parent = attrs["Parent"].split(",")[0]
            stable = attrs.get("transcript_id") or ident.removeprefix("transcript:")
            if not stable:
                raise GeneModelError(f"{where}: {kind} without ID")
            tags = {t for t in unquote(attrs.get("tag", "")).split(",") if t}
            txs[ident] = Transcript(
                tx_id=_versioned(stable, attrs.get("version", "")),
                gene_id=parent,  # resolved below: genes may follow their transcripts
                gene_name="",
                gene_biotype="",
                biotype=attrs.get("biotype", kind),
                contig=seqid,
                strand=strand,
                tags=tags,
                start=start,
                end=end,
                line=n,
                mane=unquote(attrs.get("MANE_Select", "")),
            )
    for tx in txs.values():
        if tx.gene_id not in genes:
            raise GeneModelError(f"{path.name}:{tx.line}: Parent {tx.gene_id!r} is not a gene in the file")
        tx.gene_id, tx.gene_name, tx.gene_biotype = genes[tx.gene_id]
    for parent, kind, start, end, phase, seqid, protein, n in parts:
        for p in parent.split(","):
            owner = txs.get(p)
            if owner is None:
                raise GeneModelError(f"{path.name}:{n}: Parent {p!r} is not a transcript in the file")
            tx = owner
            if seqid != tx.contig:
                raise GeneModelError(f"{path.name}:{n}: {kind} on {seqid}, its transcript on {tx.contig}")
            _add_part(tx, kind, start, end, phase, n)
            if kind == "CDS" and protein and not tx.protein_id:
                tx.protein_id = _unversioned(protein)
    return list(txs.values())


def read_gtf(path: Path) -> list[Transcript]:
    """GENCODE GTF: rows carry gene_id/transcript_id (with versions), types, names and tags."""
    txs: dict[str, Transcript] = {}
    for n, line in _lines(path):
        cols = _columns(path, n, line)
        if cols is None:
            continue
        seqid, kind, start, end, strand, phase, attr_text = cols
        where = f"{path.name}:{n}"
        if kind == "gene":
            continue
        attrs, tags = _gtf_attrs(attr_text, where)
        tid = attrs.get("transcript_id")
        if not tid:
            raise GeneModelError(f"{where}: {kind} without transcript_id")
        tx = txs.get(tid)
        if tx is None:
            gid = attrs.get("gene_id")
            if not gid:
                raise GeneModelError(f"{where}: {kind} without gene_id")
            tx = txs[tid] = Transcript(
                tx_id=_versioned(tid, attrs.get("transcript_version", "")),
                gene_id=_versioned(gid, attrs.get("gene_version", "")),
                gene_name=attrs.get("gene_name", ""),
                gene_biotype=attrs.get("gene_type") or attrs.get("gene_biotype", ""),
                biotype=attrs.get("transcript_type") or attrs.get("transcript_biotype", ""),
                contig=seqid,
                strand=strand,
                tags=set(tags),
                start=start,
                end=end,
                line=n,
            )
        elif seqid != tx.contig or strand != tx.strand:
            raise GeneModelError(f"{where}: {kind} on {seqid}/{strand}, its transcript on {tx.contig}/{tx.strand}")
        if kind == "transcript":
            tx.start, tx.end = start, end
            tx.tags |= set(tags)
        elif kind in PART_TYPES:
            _add_part(tx, kind, start, end, phase, n)
            if kind == "CDS" and not tx.protein_id and attrs.get("protein_id"):
                tx.protein_id = _unversioned(attrs["protein_id"])
        tx.start, tx.end = min(tx.start, start), max(tx.end, end)
    return list(txs.values())


def finish(transcripts: list[Transcript], source: Path) -> list[Transcript]:
    """Sort parts, fold GTF stop codons into the coding span, check the structure."""
    for tx in transcripts:
        where = f"{source.name}:{tx.line}"
        if not tx.exons:
            tx.exons = [(tx.start, tx.end)]  # Ensembl writes exons for every transcript; be lenient
        tx.exons.sort()
        for (_, e0), (s1, _) in zip(tx.exons, tx.exons[1:], strict=False):
            if s1 < e0:
                raise GeneModelError(f"{where}: transcript {tx.tx_id} has overlapping exons at {s1 + 1}")
        _check_phases(tx, source)
        tx.start = min(tx.start, tx.exons[0][0])
        tx.end = max(tx.end, tx.exons[-1][1])
        if tx.stop_codons and tx.cds:
            tx.cds = _with_stop(tx)
        tx.cds.sort()
        for s, e, _ in tx.cds:
            if not any(xs <= s and e <= xe for xs, xe in tx.exons):
                raise GeneModelError(f"{where}: transcript {tx.tx_id}: CDS {s + 1}-{e} is not inside an exon")
    return transcripts


def _check_phases(tx: Transcript, source: Path) -> None:
    """Each CDS row's phase must follow from the rows before it (transcription order): a
    wrong phase would shift every codon after it."""
    rows = sorted(zip(tx.cds, tx.cds_lines, strict=True), reverse=tx.strand < 0)
    for ((s0, e0, p0), _), ((_, _, p1), line) in zip(rows, rows[1:], strict=False):
        expected = (p0 - (e0 - s0)) % 3
        if p1 != expected:
            raise GeneModelError(
                f"{source.name}:{line}: CDS phase {p1} of {tx.tx_id} does not follow from the CDS before it "
                f"(expected {expected})"
            )


def _with_stop(tx: Transcript) -> list[tuple[int, int, int]]:
    """GTF: the CDS rows plus the stop codon rows (merged where they touch)."""
    cds = sorted(tx.cds)
    for s, e in tx.stop_codons:
        if any(cs <= s and e <= ce for cs, ce, _ in cds):
            continue  # already inside (a GFF3-style CDS)
        merged = False
        for i, (cs, ce, ph) in enumerate(cds):
            if ce == s:
                cds[i] = (cs, e, ph)
                merged = True
                break
            if cs == e:
                cds[i] = (s, ce, ph)  # the phase is of the 5' end, which does not move
                merged = True
                break
        if not merged:  # a stop codon split by an intron: its part in another exon
            cds.append((s, e, 0))
    return cds


def read_fasta(path: Path) -> dict[str, bytes]:
    """Sequences by name (the first word of the header), upper case."""
    seqs: dict[str, bytes] = {}
    name: str | None = None
    chunks: list[bytes] = []
    valid = re.compile(rb"^[A-Za-z*-]*$")
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if compressed else open(path, "rb") as f:
            for n, line in enumerate(f, start=1):
                line = line.rstrip(b"\r\n")
                if line.startswith(b">"):
                    if name is not None:
                        seqs[name] = b"".join(chunks).upper()
                    words = line[1:].split()
                    if not words:
                        raise GeneModelError(f"{path.name}:{n}: FASTA header without a name")
                    name = words[0].decode()
                    if name in seqs:
                        raise GeneModelError(f"{path.name}:{n}: sequence {name} appears twice")
                    chunks = []
                elif line:
                    if name is None:
                        raise GeneModelError(f"{path.name}:{n}: sequence before the first '>' header: not a FASTA")
                    if not valid.match(line):
                        raise GeneModelError(f"{path.name}:{n}: not sequence letters")
                    chunks.append(line)
    except (EOFError, gzip.BadGzipFile) as exc:
        raise GeneModelError(f"{path.name}: truncated or corrupt compressed FASTA ({exc})") from None
    if name is not None:
        seqs[name] = b"".join(chunks).upper()
    if not seqs:
        raise GeneModelError(f"{path.name}: no sequences: not a FASTA")
    for seq_name, seq in seqs.items():
        if not seq:
            raise GeneModelError(f"{path.name}: sequence {seq_name} is empty (truncated FASTA?)")
    return seqs


def check_against_fasta(transcripts: list[Transcript], seqs: dict[str, bytes], model: Path, fasta: Path) -> None:
    """Refuse names the FASTA lacks and features past a sequence's end (a truncated FASTA)."""
    for tx in transcripts:
        seq = seqs.get(tx.contig)
        if seq is None:
            raise GeneModelError(
                f"{model.name}:{tx.line}: sequence {tx.contig!r} is not in {fasta.name} "
                f"(it has {', '.join(sorted(seqs)[:5])}{', ...' if len(seqs) > 5 else ''})"
            )
        if tx.end > len(seq):
            raise GeneModelError(
                f"{model.name}:{tx.line}: transcript {tx.tx_id} ends at {tx.end}, past the end of {tx.contig} "
                f"in {fasta.name} ({len(seq)} bases: truncated FASTA?)"
            )
