"""Which human assembly a VCF is on: evidence from its header and first records.

Standard library only (no numpy), so the web service and command-line tools can import it
without the engine's dependencies::

    from gas.core.assembly import detect
    evidence = detect("sample.vcf.gz")          # a path (plain, gzip, BGZF) or an iterable of lines
    evidence.likely                             # "GRCh37", "GRCh38", "NCBI36" or None
    evidence.conflict("GRCh37")                 # None, or why the file is not on GRCh37

Evidence read: ``##reference`` / ``##assembly`` values and ``##contig`` ``assembly=``
attributes (what the file *claims*), ``##contig`` lengths compared with each assembly's
chromosome lengths, and positions past a chromosome's end (what the file *implies*).
Recognised: NCBI36 (hg18, b36), GRCh37 (hg19, b37, hs37d5), GRCh38 (hg38). Messages name
lines, chromosomes and the assemblies' lengths, never a record's data.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ASSEMBLIES = ("NCBI36", "GRCh37", "GRCh38")

# Chromosome lengths (UCSC hg18 / hg19 / hg38 chrom.sizes; identical to NCBI36 / GRCh37 /
# GRCh38 for 1-22, X, Y). MT is left out: hg18/hg19 chrM (16,571) and the rCRS (16,569) cut
# across assemblies.
_LENGTH_ROWS = {  # chromosome: its length on each of ASSEMBLIES, in that order
    "1": (247249719, 249250621, 248956422),
    "2": (242951149, 243199373, 242193529),
    "3": (199501827, 198022430, 198295559),
    "4": (191273063, 191154276, 190214555),
    "5": (180857866, 180915260, 181538259),
    "6": (170899992, 171115067, 170805979),
    "7": (158821424, 159138663, 159345973),
    "8": (146274826, 146364022, 145138636),
    "9": (140273252, 141213431, 138394717),
    "10": (135374737, 135534747, 133797422),
    "11": (134452384, 135006516, 135086622),
    "12": (132349534, 133851895, 133275309),
    "13": (114142980, 115169878, 114364328),
    "14": (106368585, 107349540, 107043718),
    "15": (100338915, 102531392, 101991189),
    "16": (88827254, 90354753, 90338345),
    "17": (78774742, 81195210, 83257441),
    "18": (76117153, 78077248, 80373285),
    "19": (63811651, 59128983, 58617616),
    "20": (62435964, 63025520, 64444167),
    "21": (46944323, 48129895, 46709983),
    "22": (49691432, 51304566, 50818468),
    "X": (154913754, 155270560, 156040895),
    "Y": (57772954, 59373566, 57227415),
}
LENGTHS: dict[str, dict[str, int]] = {
    assembly: {chrom: lengths[i] for chrom, lengths in _LENGTH_ROWS.items()} for i, assembly in enumerate(ASSEMBLIES)
}

# Names of each assembly seen in ##reference, ##assembly and ##contig assembly= values.
_NAMES = (
    ("NCBI36", re.compile(r"ncbi[-_ ]?(build[-_ ]?)?36|(^|[^a-z0-9])b36([^0-9]|$)|hg18|build[-_ ]?36|grch36", re.I)),
    (
        "GRCh37",
        re.compile(
            r"grch37|hg19|(^|[^a-z0-9])b37([^0-9]|$)|human_g1k_v37|hs37d5|build[-_ ]?37|ncbi[-_ ]?37|"
            r"gca_000001405\.1([^0-9]|$)",
            re.I,
        ),
    ),
    (
        "GRCh38",
        re.compile(r"grch38|hg38|(^|[^a-z0-9])b38([^0-9]|$)|hs38|build[-_ ]?38|gca_000001405\.15|assembly38", re.I),
    ),
)
_CONTIG = re.compile(r"^##contig=<(.*)>\s*$")
_ATTR = re.compile(r'([A-Za-z_]+)=("[^"]*"|[^,]*)')

MAX_RECORDS = 10_000
MAX_LINE_BYTES = 1 << 20
MAX_BYTES = 64 << 20


def assembly_named(text: str) -> str | None:
    """The assembly a name such as 'hg19', 'b36' or a reference file path stands for."""
    found = [name for name, pattern in _NAMES if pattern.search(text)]
    return found[0] if len(found) == 1 else None


def _chrom(name: str) -> str:
    bare = name[3:] if name.lower().startswith("chr") else name
    return "MT" if bare.upper() in ("M", "MT") else bare.upper() if bare.lower() in ("x", "y") else bare


@dataclass
class AssemblyEvidence:
    claimed: str | None = None  # what the header says
    claimed_line: int | None = None
    implied: str | None = None  # what contig lengths / positions single out
    implied_line: int | None = None
    consistent: tuple[str, ...] = ASSEMBLIES  # assemblies nothing rules out
    reasons: list[str] = field(default_factory=list)
    records_checked: int = 0
    ruled_out_line: dict[str, int] = field(default_factory=dict)

    @property
    def likely(self) -> str | None:
        return self.claimed or self.implied

    @property
    def confidence(self) -> str:
        """high: header and data agree; medium: one kind of evidence; low: only ruled-out
        assemblies; none: nothing in the file speaks to it."""
        if self.claimed and self.implied and self.claimed == self.implied:
            return "high"
        if self.claimed or self.implied:
            return "medium"
        if len(self.consistent) < len(ASSEMBLIES):
            return "low"
        return "none"

    def conflict(self, assembly: str) -> str | None:
        """Why the file is not on ``assembly``, or None when nothing says so."""
        if self.claimed and self.claimed != assembly:
            return f"the header says {self.claimed} (line {self.claimed_line})"
        if self.implied and self.implied != assembly:
            return f"the file's contig lengths or positions are those of {self.implied} (line {self.implied_line})"
        if assembly not in self.consistent:
            return next(
                (r for r in self.reasons if assembly in r and "past the end" in r), f"it does not fit {assembly}"
            )
        return None

    def conflict_line(self, assembly: str) -> int:
        if self.claimed and self.claimed != assembly and self.claimed_line:
            return self.claimed_line
        if self.implied and self.implied != assembly and self.implied_line:
            return self.implied_line
        return self.ruled_out_line.get(assembly, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "implied": self.implied,
            "likely": self.likely,
            "consistent": list(self.consistent),
            "confidence": self.confidence,
            "reasons": list(self.reasons),
            "records_checked": self.records_checked,
        }


def _lines(source: str | Path | Iterable[str] | Iterable[bytes]) -> Iterable[str]:
    """Text lines of a path (plain or gzip, bounded) or of an iterable of str/bytes lines."""
    if isinstance(source, str | Path):
        path = Path(source)
        with open(path, "rb") as probe:
            gz = probe.read(2) == b"\x1f\x8b"
        opener = gzip.open if gz else open
        total = 0
        try:
            with opener(path, "rb") as fh:
                while total < MAX_BYTES:
                    raw = fh.readline(MAX_LINE_BYTES)
                    if not raw:
                        return
                    total += len(raw)
                    if not raw.endswith(b"\n") and len(raw) >= MAX_LINE_BYTES:
                        return  # an over-long line: stop here, the engine reports it
                    yield raw.decode("utf-8", "replace").rstrip("\r\n")
        except (OSError, EOFError, gzip.BadGzipFile):
            return  # corrupt or truncated input: the evidence read so far stands
        return
    for item in source:
        line = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
        yield line.rstrip("\r\n")


def detect(source: str | Path | Iterable[str] | Iterable[bytes], max_records: int = MAX_RECORDS) -> AssemblyEvidence:
    """Read the header and up to ``max_records`` records and weigh the evidence."""
    ev = AssemblyEvidence()
    consistent = set(ASSEMBLIES)
    length_votes: dict[str, int] = {a: 0 for a in ASSEMBLIES}
    first_length_line: dict[str, int] = {}
    claims: list[tuple[str, int, str]] = []
    max_pos: dict[str, tuple[int, int]] = {}  # CHROM as written -> (max POS, line)
    for n, line in enumerate(_lines(source), start=1):
        if line.startswith("##"):
            key, _, value = line[2:].partition("=")
            if key.lower() in ("reference", "assembly"):
                named = assembly_named(value)
                if named:
                    claims.append((named, n, f"##{key.lower()}"))
            m = _CONTIG.match(line)
            if m:
                attrs = {k.lower(): v.strip('"') for k, v in _ATTR.findall(m.group(1))}
                if "assembly" in attrs:
                    named = assembly_named(attrs["assembly"])
                    if named:
                        claims.append((named, n, "##contig assembly"))
                chrom = _chrom(attrs.get("id", ""))
                if attrs.get("length", "").isdigit() and chrom in LENGTHS["GRCh37"]:
                    length = int(attrs["length"])
                    for asm in ASSEMBLIES:
                        if LENGTHS[asm][chrom] == length:
                            length_votes[asm] += 1
                            first_length_line.setdefault(asm, n)
                        elif asm in consistent:
                            consistent.discard(asm)
                            ev.ruled_out_line.setdefault(asm, n)
                            length_there = f"{LENGTHS[asm][chrom]:,} bp"
                            ev.reasons.append(
                                f"line {n}: ##contig {chrom} has a length other than {asm}'s ({length_there})"
                            )
            continue
        if line.startswith("#") or not line.strip():
            continue
        if ev.records_checked >= max_records:
            break
        ev.records_checked += 1
        cols = line.split("\t", 2)
        if len(cols) < 2 or not cols[1].isdigit():
            continue
        pos = int(cols[1])
        if pos > max_pos.get(cols[0], (0, 0))[0]:
            max_pos[cols[0]] = (pos, n)
    for name, (pos, n) in sorted(max_pos.items(), key=lambda kv: kv[1][1]):
        chrom = _chrom(name)
        if chrom not in LENGTHS["GRCh37"]:
            continue
        if all(pos > LENGTHS[asm][chrom] + 1 for asm in ASSEMBLIES):
            ev.reasons.append(f"line {n}: a position on chromosome {chrom} is past its end in every assembly")
            continue  # bad data, not evidence for one assembly
        for asm in ASSEMBLIES:
            if pos > LENGTHS[asm][chrom] + 1 and asm in consistent:
                consistent.discard(asm)
                ev.ruled_out_line.setdefault(asm, n)
                ev.reasons.append(
                    f"line {n}: a position on chromosome {chrom} is past the end of {asm}'s chromosome {chrom} "
                    f"({LENGTHS[asm][chrom]:,} bp)"
                )
    named_claims = {c[0] for c in claims}
    if len(named_claims) == 1:
        ev.claimed, ev.claimed_line, what = claims[0][0], claims[0][1], claims[0][2]
        ev.reasons.insert(0, f"line {ev.claimed_line}: {what} names {ev.claimed}")
    elif len(named_claims) > 1:
        ev.reasons.insert(0, "the header names several assemblies: " + ", ".join(sorted(named_claims)))
    ev.consistent = tuple(a for a in ASSEMBLIES if a in consistent)
    by_length = [a for a in ev.consistent if length_votes[a] > 0]
    if len(by_length) == 1:
        ev.implied, ev.implied_line = by_length[0], first_length_line[by_length[0]]
        ev.reasons.append(f"line {ev.implied_line}: ##contig lengths match {ev.implied}")
    elif len(ev.consistent) == 1 and len(consistent) < len(ASSEMBLIES):
        ev.implied = ev.consistent[0]
        ev.implied_line = min(ev.ruled_out_line.values())
        ev.reasons.append(f"only {ev.implied} fits the positions and contig lengths")
    return ev
