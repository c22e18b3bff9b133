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

import bisect
import functools
import gzip
import re
import sys
import zlib
from array import array
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

PLACEHOLDER_LENGTH = (1 << 31) - 1  # INT32_MAX (and above): a writer's "unknown length"
TOY_LENGTH = 1_000_000  # shorter than any human chromosome: a test file's made-up length
_MAX_HUMAN_NUMBER = 26  # PLINK numbers X, Y, XY and MT 23 to 26
_NOT_HUMAN_CONTIGS = 3  # this many ##contig lengths far from every human build: not human
MAX_RECORDS = 10_000
# Known rsIDs' positions on GRCh37 and GRCh38 (built from the annotation databases by
# gas.annotator.engine.rsid_table): rsIDs in column 3 at one assembly's positions are evidence.
RSID_TABLE = Path(__file__).parent / "data" / "rsid_positions.bin"
_RSID_MAGIC = b"GASRS1\n"
_RSID_CHROMS = {**{str(i): i for i in range(1, 23)}, "X": 23, "Y": 24, "MT": 25}
RSID_MIN = 3  # rsIDs at one assembly's positions (and almost none at the other's) to count
MAX_RSID_LOOKUPS = 5_000
MAX_LINE_BYTES = 1 << 20
MAX_BYTES = 64 << 20


def encode_rsid_table(numbers: list[int], chroms: list[int], pos37: list[int], pos38: list[int]) -> bytes:
    """The bytes of RSID_TABLE: sorted rsID numbers, chromosome codes and 1-based positions on
    GRCh37 and GRCh38 (0: not on that assembly), column after column, zlib'd."""
    columns = [array("I", numbers), array("B", chroms), array("I", pos37), array("I", pos38)]
    if sys.byteorder == "big":
        for column in columns:
            column.byteswap()
    body = len(numbers).to_bytes(4, "little") + b"".join(c.tobytes() for c in columns)
    return _RSID_MAGIC + zlib.compress(body, 9)


@functools.cache
def _rsid_table() -> tuple[array[int], array[int], array[int], array[int]] | None:
    """(rsID numbers, chromosome codes, GRCh37 positions, GRCh38 positions), or None without the file."""
    try:
        raw = RSID_TABLE.read_bytes()
    except OSError:
        return None
    if not raw.startswith(_RSID_MAGIC):
        return None
    body = zlib.decompress(raw[len(_RSID_MAGIC) :])
    n = int.from_bytes(body[:4], "little")
    columns: list[array[int]] = []
    at = 4
    for code, width in (("I", 4), ("B", 1), ("I", 4), ("I", 4)):
        column = array(code)
        column.frombytes(body[at : at + n * width])
        if sys.byteorder == "big" and width > 1:
            column.byteswap()
        columns.append(column)
        at += n * width
    return columns[0], columns[1], columns[2], columns[3]


def rsid_position(rsid: str) -> tuple[str, int, int] | None:
    """(chromosome, GRCh37 POS, GRCh38 POS; 0 when absent) of a known rsID, or None."""
    table = _rsid_table() if rsid[:2] in ("rs", "RS", "Rs") and rsid[2:].isdigit() else None
    if table is None:
        return None
    numbers, chroms, pos37, pos38 = table
    number = int(rsid[2:])
    i = bisect.bisect_left(numbers, number)
    if i == len(numbers) or numbers[i] != number:
        return None
    names = {v: k for k, v in _RSID_CHROMS.items()}
    return names[chroms[i]], pos37[i], pos38[i]


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
    # the decisive evidence against each assembly, one line naming line, contig and length
    against: dict[str, str] = field(default_factory=dict)
    claim_support: str = ""  # how far the ##contig lengths back the header's claim
    implied_reason: str = ""
    implied_contig: str | None = None  # the chromosome implied_reason names (its length is the implied one's)
    not_human: str | None = None  # why the file cannot be on a human assembly
    not_human_line: int | None = None

    @property
    def likely(self) -> str | None:
        return None if self.not_human else self.claimed or self.implied

    @property
    def confidence(self) -> str:
        """high: header and data agree; medium: one kind of evidence; low: only ruled-out
        assemblies; none: nothing in the file speaks to it."""
        if self.not_human:
            return "high"
        if self.claimed and self.implied and self.claimed == self.implied:
            return "high"
        if self.claimed or self.implied:
            return "medium"
        if len(self.consistent) < len(ASSEMBLIES):
            return "low"
        return "none"

    def conflict(self, assembly: str) -> str | None:
        """Why the file is not on ``assembly`` (its decisive evidence), or None when nothing says so."""
        if self.not_human:
            return self.not_human
        if self.claimed and self.claimed != assembly:
            return f"the header says {self.claimed} (line {self.claimed_line}){self.claim_support}"
        if self.implied and self.implied != assembly:
            if self.implied_contig:
                theirs = LENGTHS[assembly][self.implied_contig] if assembly in LENGTHS else None
                return self.implied_reason + (f"; {assembly}'s is {theirs:,})" if theirs else ")")
            if self.implied_reason:
                return self.implied_reason
            decisive = self.against.get(assembly) or next(iter(self.against.values()), "")
            return f"{decisive}; only {self.implied} fits the positions and contig lengths"
        if assembly not in self.consistent:
            return self.against.get(assembly, f"it does not fit {assembly}")
        return None

    def conflict_line(self, assembly: str) -> int:
        if self.not_human and self.not_human_line:
            return self.not_human_line
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
            "not_human": self.not_human,
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


def _fits(assemblies: Iterable[str]) -> str:
    found = list(assemblies)
    return " and ".join(found) if found else "no human assembly"


@dataclass
class _ContigLength:
    line: int
    chrom: str
    length: int
    fits: tuple[str, ...]  # the assemblies with exactly this length
    near: bool  # within 10% of one: a human chromosome of another build

    def against(self, assembly: str) -> str:
        return (
            f"line {self.line}: ##contig {self.chrom} has length {self.length:,}, which fits {_fits(self.fits)} "
            f"({assembly}'s is {LENGTHS[assembly][self.chrom]:,})"
        )


def detect(source: str | Path | Iterable[str] | Iterable[bytes], max_records: int = MAX_RECORDS) -> AssemblyEvidence:
    """Read the header and up to ``max_records`` records and weigh the evidence.

    Contig lengths are weighed, not vetoed: an assembly is ruled out by them only when the
    contigs that contradict it are at least as many as those with its lengths, so one stray
    contig does not overturn a header naming GRCh37 and twenty matching lengths.
    Placeholder lengths (2147483647, ...) and toy lengths (under 1 Mb) are not evidence."""
    ev = AssemblyEvidence()
    claims: list[tuple[str, int, str]] = []
    lengths: list[_ContigLength] = []
    numbered_above: tuple[int, str] | None = None  # (line, name) of a contig numbered above 26
    max_pos: dict[str, tuple[int, int]] = {}  # CHROM as written -> (max POS, line)
    rsid_lookups = 0
    rsid_evidence: dict[str, list[int]] = {"found": [], "GRCh37": [], "GRCh38": []}  # lines
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
                if numbered_above is None and chrom.isdigit() and int(chrom) > _MAX_HUMAN_NUMBER:
                    numbered_above = (n, chrom)
                if attrs.get("length", "").isdigit() and chrom in LENGTHS["GRCh37"]:
                    length = int(attrs["length"])
                    longest = max(LENGTHS[a][chrom] for a in ASSEMBLIES)
                    if length >= PLACEHOLDER_LENGTH or length > 2 * longest or length < TOY_LENGTH:
                        ev.reasons.append(
                            f"line {n}: ##contig {chrom} length {length:,} is a placeholder or toy length: ignored"
                        )
                        continue
                    fits = tuple(a for a in ASSEMBLIES if LENGTHS[a][chrom] == length)
                    near = any(abs(length - LENGTHS[a][chrom]) <= LENGTHS[a][chrom] // 10 for a in ASSEMBLIES)
                    lengths.append(_ContigLength(n, chrom, length, fits, near))
            continue
        if line.startswith("#") or not line.strip():
            continue
        if ev.records_checked >= max_records:
            break
        ev.records_checked += 1
        cols = line.split("\t", 3)
        if len(cols) < 2:
            continue
        if len(cols) > 2 and cols[2].startswith(("rs", "RS")) and rsid_lookups < MAX_RSID_LOOKUPS:
            rsid_lookups += 1
            _weigh_rsid(cols, n, rsid_evidence)
        if cols[0] not in max_pos:
            chrom = _chrom(cols[0])
            if numbered_above is None and chrom.isdigit() and int(chrom) > _MAX_HUMAN_NUMBER:
                numbered_above = (n, chrom)
            max_pos[cols[0]] = (0, n)
        if not cols[1].isdigit():
            continue
        pos = int(cols[1])
        if pos > max_pos[cols[0]][0]:
            max_pos[cols[0]] = (pos, n)

    # Not human: a chromosome numbered past any human one (PLINK numbers X, Y, XY, MT 23-26),
    # or mostly chromosome lengths no human build has (Arabidopsis Chr1..Chr5, ...). Fewer
    # such lengths are a test file's made-up ones: not evidence either way.
    far = [c for c in lengths if not c.near]
    if numbered_above:
        ev.not_human_line = numbered_above[0]
        ev.not_human = (
            f"line {numbered_above[0]}: chromosome {numbered_above[1]} is numbered past every human chromosome: "
            "the file is not from a human genome"
        )
    elif len(far) >= _NOT_HUMAN_CONTIGS and len(far) > len(lengths) - len(far):
        c = far[0]
        ev.not_human_line = c.line
        ev.not_human = (
            f"line {c.line}: ##contig {c.chrom} has length {c.length:,} and {len(far)} of {len(lengths)} "
            "##contig lengths are far from every human assembly's: the file is not from a human genome"
        )
    if ev.not_human:
        ev.reasons.insert(0, ev.not_human)
    else:
        for c in far:
            ev.reasons.append(
                f"line {c.line}: ##contig {c.chrom} length {c.length:,} is far from every human assembly's: ignored"
            )
        lengths = [c for c in lengths if c.near]

    consistent = set(ASSEMBLIES)
    matches = {a: [c for c in lengths if a in c.fits] for a in ASSEMBLIES}
    for asm in ASSEMBLIES:
        against = [c for c in lengths if asm not in c.fits]
        if against and len(against) >= len(matches[asm]):
            consistent.discard(asm)
            ev.ruled_out_line[asm] = against[0].line
            ev.against[asm] = against[0].against(asm) + f"; {len(matches[asm])} of {len(lengths)} ##contig lengths fit"
            ev.reasons.append(ev.against[asm])
        elif against:
            ev.reasons.append(
                f"{against[0].against(asm)}: outweighed by {len(matches[asm])} ##contig lengths that are {asm}'s"
            )
    for name, (pos, n) in sorted(max_pos.items(), key=lambda kv: kv[1][1]):
        chrom = _chrom(name)
        if chrom not in LENGTHS["GRCh37"] or not pos:
            continue
        if all(pos > LENGTHS[asm][chrom] + 1 for asm in ASSEMBLIES):
            ev.reasons.append(f"line {n}: a position on chromosome {chrom} is past its end in every assembly")
            continue  # bad data, not evidence for one assembly
        for asm in ASSEMBLIES:
            if pos > LENGTHS[asm][chrom] + 1 and asm in consistent:
                consistent.discard(asm)
                ev.ruled_out_line.setdefault(asm, n)
                ev.against[asm] = (
                    f"line {n}: a position on chromosome {chrom} is past the end of {asm}'s chromosome {chrom} "
                    f"({LENGTHS[asm][chrom]:,} bp)"
                )
                ev.reasons.append(ev.against[asm])
    rsid_implied = _rsid_verdict(ev, rsid_evidence, consistent)
    named_claims = {c[0] for c in claims}
    if len(named_claims) == 1:
        ev.claimed, ev.claimed_line, what = claims[0][0], claims[0][1], claims[0][2]
        ev.reasons.insert(0, f"line {ev.claimed_line}: {what} names {ev.claimed}")
        if matches[ev.claimed]:
            ev.claim_support = f", and {len(matches[ev.claimed])} of {len(lengths)} ##contig lengths are {ev.claimed}'s"
    elif len(named_claims) > 1:
        ev.reasons.insert(0, "the header names several assemblies: " + ", ".join(sorted(named_claims)))
    ev.consistent = tuple(a for a in ASSEMBLIES if a in consistent)
    by_length = [a for a in ev.consistent if matches[a]]
    if len(by_length) == 1:
        asm = by_length[0]
        first = matches[asm][0]
        ev.implied, ev.implied_line = asm, first.line
        ev.implied_reason = (
            f"the file's contig lengths are those of {asm}: {len(matches[asm])} of {len(lengths)} ##contig lengths "
            f"fit {asm} (line {first.line}: ##contig {first.chrom} has length {first.length:,}"
        )
        ev.implied_contig = first.chrom
        ev.reasons.append(f"line {ev.implied_line}: ##contig lengths match {ev.implied}")
    elif rsid_implied and rsid_implied in ev.consistent:
        ev.implied, ev.implied_line = rsid_implied, rsid_evidence[rsid_implied][0]
        ev.implied_reason = ev.against[_OTHER[rsid_implied]].replace("rsIDs", "the file's rsIDs", 1)
    elif len(ev.consistent) == 1 and len(consistent) < len(ASSEMBLIES):
        ev.implied = ev.consistent[0]
        ev.implied_line = min(ev.ruled_out_line.values())
        ev.reasons.append(f"only {ev.implied} fits the positions and contig lengths")
    return ev


_OTHER = {"GRCh37": "GRCh38", "GRCh38": "GRCh37"}


def _weigh_rsid(cols: list[str], n: int, evidence: dict[str, list[int]]) -> None:
    """Note the line of a record whose rsID (column 3) the table knows on its chromosome, and
    whether POS is where GRCh37 / GRCh38 has it."""
    if not cols[1].isdigit():
        return
    for rsid in cols[2].split(";"):
        known = rsid_position(rsid)
        if known is None or known[0] != _chrom(cols[0]) or known[1] == known[2]:
            continue  # unknown, on another chromosome, or where both assemblies have it
        evidence["found"].append(n)
        pos = int(cols[1])
        for asm, at in (("GRCh37", known[1]), ("GRCh38", known[2])):
            if at and pos == at:
                evidence[asm].append(n)
        return


def _rsid_verdict(ev: AssemblyEvidence, evidence: dict[str, list[int]], consistent: set[str]) -> str | None:
    """The assembly whose positions the file's rsIDs sit at, ruling the other out: at least
    RSID_MIN of them at its positions and at most a quarter as many at the other's (only rsIDs
    whose positions differ between the assemblies count)."""
    found = len(evidence["found"])
    if found < RSID_MIN:
        return None
    for asm, other in _OTHER.items():
        fit, misfit = evidence[asm], evidence[other]
        if len(fit) >= RSID_MIN and len(misfit) * 4 <= len(fit):
            reason = (
                f"rsIDs in column 3 are at their {asm} positions, not {other}'s: {len(fit)} of {found} known rsIDs "
                f"sit where {asm} has them, {len(misfit)} where {other} has them (first at line {fit[0]})"
            )
            ev.reasons.append(reason)
            ev.against[other] = reason
            ev.ruled_out_line.setdefault(other, fit[0])
            consistent.discard(other)
            return asm
    ev.reasons.append(f"{found} known rsIDs in column 3: their positions single out no assembly")
    return None
