"""A deployment's own annotation sources: bgzipped + tabix-indexed VCF and BED files.

Declared in a YAML or JSON file (``GAS_ANNOTATION_SOURCES`` or ``gas-annotate --sources``),
checked before use (``load_sources``), then applied to each annotated block
(``SourcesStage.annotate``): the chosen INFO fields of a VCF source are copied to the ALTs
they match, a BED source sets a flag or copies its name column. Matching is on the minimal
form of each allele (multi-allelic records split, shared trailing then leading bases
trimmed, on both sides: ``minimal``); without a reference FASTA an indel inside a repeat is
not shifted left, so two spellings of one such indel at different positions do not match.

Sources are read with bounded memory: each block's records are grouped into windows of
nearby positions and the region of each window is read through (pysam, one handle per
thread); only the source rows that overlap a record's own span are looked at, a VCF source's
in C (``textops.source_scan``) on the inflated text from its tabix index's offset on.
"""

from __future__ import annotations

import bisect
import gzip
import json
import os
import re
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gas.annotator.engine.textops import SourceKeys, offsets_of, source_scan
from gas.core.vocab import CSQ_INFO_IDS, INFO_IDS, INPUT_CSQ_ID

SOURCES_ENV = "GAS_ANNOTATION_SOURCES"
_ID = re.compile(r"^[A-Za-z_][0-9A-Za-z_.]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Records closer than a source's gap share one tabix query. A query costs a seek and the
# inflating of a BGZF block (~64 KiB of text, ~150 us): records further apart than the bases a
# block holds are cheaper to reach with a query of their own, records closer by reading the rows
# between them through (not parsed: ``_Overlaps``). The gap is READ_THROUGH_BYTES of the
# compressed file at its mean density over GENOME_BASES (an estimate: only its order of magnitude
# matters), between WINDOW_GAP and MAX_GAP; no query spans more than WINDOW_SPAN bases.
WINDOW_GAP = 1000
MAX_GAP = 1_000_000
WINDOW_SPAN = 10_000_000
READ_THROUGH_BYTES = 16 << 10
# A window's source text is inflated and scanned in chunks: the first one the size of a BGZF
# block (most windows need no more), each next one twice the last, up to MAX_SCAN_CHUNK.
SCAN_CHUNK = 64 << 10
MAX_SCAN_CHUNK = 4 << 20
GENOME_BASES = 3_100_000_000
_TYPES = {"Integer", "Float", "String", "Character", "Flag"}
# INFO ids the engine writes itself (bundles: CSQ and the PICK_ fields), never a source's.
RESERVED_IDS = {*INFO_IDS, *CSQ_INFO_IDS, INPUT_CSQ_ID}


class SourceError(ValueError):
    """A declared source that cannot be used: the message names the source and the reason."""


@dataclass(frozen=True)
class SourceField:
    source_id: str  # the INFO id in the source VCF
    info_id: str  # the INFO id GAS writes
    number: str  # as GAS writes it: A, R, 0 (Flag), or . (a BED's names; see _written_number)
    type: str
    description: str
    source_number: str

    @property
    def column(self) -> str:
        return self.info_id.lower()


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # vcf | bed
    path: Path
    version: str
    fields: tuple[SourceField, ...]

    def header_lines(self) -> list[str]:
        lines = [
            f'##INFO=<ID={f.info_id},Number={f.number},Type={f.type},Description="{f.description}">'
            for f in self.fields
        ]
        lines.append(f'##GAS_source=<Name={self.name},Kind={self.kind},Version="{self.version}",File={self.path.name}>')
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "file": self.path.name,
            "fields": {f.info_id: f.source_id for f in self.fields},
        }


@dataclass
class Sources:
    sources: list[Source] = field(default_factory=list)

    @property
    def fields(self) -> list[SourceField]:
        return [f for s in self.sources for f in s.fields]

    @property
    def info_ids(self) -> set[str]:
        return {f.info_id for f in self.fields}

    def header_lines(self) -> list[str]:
        return [line for s in self.sources for line in s.header_lines()]


def load_sources(path: str | Path | None = None) -> Sources:
    """Read and check the declaration (``path``, else $GAS_ANNOTATION_SOURCES; none: no sources)."""
    path = path or os.environ.get(SOURCES_ENV)
    if not path:
        return Sources()
    path = Path(path)
    import yaml

    try:
        text = path.read_text()
    except OSError as exc:
        raise SourceError(f"sources file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SourceError(f"sources file {path}: not UTF-8 text") from None
    try:
        spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise SourceError(
            f"sources file {path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from None
    items = spec.get("sources") if isinstance(spec, dict) else spec
    if not isinstance(items, list):
        raise SourceError(f"sources file {path}: expected a list of sources (or a mapping with 'sources')")
    sources = [_check(item, path.parent, i + 1) for i, item in enumerate(items)]
    seen: dict[str, str] = {}
    names: set[str] = set()
    from gas.annotator.engine.parquet import SCHEMA  # the table's own columns (imports pyarrow)

    columns = set(SCHEMA.names)
    for s in sources:
        if s.name in names:
            raise SourceError(f"source {s.name}: declared twice")
        names.add(s.name)
        for f in s.fields:
            if f.info_id in RESERVED_IDS or f.column in columns or f.column.startswith("_"):  # _: the viewer's
                raise SourceError(
                    f"source {s.name}: {f.info_id} is written by GAS itself (INFO id or table column): "
                    "choose another id"
                )
            if f.column in {x.lower() for x in seen}:
                other = next(v for k, v in seen.items() if k.lower() == f.column)
                raise SourceError(f"source {s.name}: INFO id {f.info_id} is also written by source {other}")
            seen[f.info_id] = s.name
    return Sources(sources)


def _check(item: Any, base: Path, n: int) -> Source:
    if not isinstance(item, dict):
        raise SourceError(f"source #{n}: expected a mapping with name, kind, path, fields, version")
    name = str(item.get("name", ""))
    if not _NAME.match(name):
        raise SourceError(f"source #{n}: name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    kind = item.get("kind")
    if kind not in ("vcf", "bed"):
        raise SourceError(f"source {name}: kind must be vcf or bed, not {kind!r}")
    version = str(item.get("version") or "")
    if not version or '"' in version or "\n" in version:
        raise SourceError(f"source {name}: a version is required (it is recorded with every job)")
    if not item.get("path"):
        raise SourceError(f"source {name}: path is required")
    path = Path(str(item["path"]))
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise SourceError(f"source {name}: {path} does not exist")
    wanted = item.get("fields") or {}
    if isinstance(wanted, list):  # [X, Y]: copied under their own ids
        wanted = {str(x): str(x) for x in wanted}
    if not isinstance(wanted, dict):
        raise SourceError(f"source {name}: fields must map source INFO ids to new INFO ids")
    for new in wanted.values():
        if not _ID.match(str(new)):
            raise SourceError(f"source {name}: {new!r} is not a valid INFO id")
    _check_index(name, path, kind)
    if kind == "vcf":
        return Source(name, kind, path, version, tuple(_vcf_fields(name, path, wanted)))
    return Source(name, kind, path, version, (_bed_field(name, path, wanted),))


def _check_index(name: str, path: Path, kind: str) -> None:
    with open(path, "rb") as fh:
        head = fh.read(18)
    # BGZF: a gzip member with the extra subfield BC (RFC 1952 + SAM spec 4.1).
    if not (head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"):
        raise SourceError(f"source {name}: {path.name} is not bgzip-compressed (compress it with bgzip)")
    index = _index_path(path)
    if index is None:
        raise SourceError(
            f"source {name}: {path.name} has no tabix index ({path.name}.tbi or .csi): run tabix -p {kind}"
        )
    if index.stat().st_mtime < path.stat().st_mtime:
        raise SourceError(
            f"source {name}: the index {index.name} is older than {path.name} (stale): re-run tabix -f -p {kind}"
        )


def _index_path(path: Path) -> Path | None:
    return next((p for p in (Path(f"{path}.tbi"), Path(f"{path}.csi")) if p.is_file()), None)


_INFO_LINE = re.compile(r'^##INFO=<ID=([^,>]+),Number=([^,>]+),Type=([^,>]+),Description="((?:[^"\\]|\\.)*)"')


def _written_number(number: str) -> str:
    # One value per ALT for everything but R (kept as R) and Flags: A and 1 are the matching
    # source record's value for that ALT; anything else (., G, 2..) its whole value, in that
    # ALT's slot (decision 112: _slot).
    return number if number in ("R", "0") else "A"


def _slot(value: str) -> str:
    """A value in one ALT's slot of a Number=A field: its own commas percent-encoded as VCF
    4.3 writes a comma inside a value (%2C), so the slots stay one per ALT."""
    return value.replace(",", "%2C")


def _vcf_fields(name: str, path: Path, wanted: dict[str, str]) -> list[SourceField]:
    declared: dict[str, tuple[str, str, str]] = {}
    with gzip.open(path, "rt", errors="replace") as fh:
        for line in fh:
            if not line.startswith("##"):
                break
            m = _INFO_LINE.match(line)
            if m:
                declared[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    if not wanted:
        raise SourceError(f"source {name}: no fields chosen")
    out = []
    for src, new in wanted.items():
        if src not in declared:
            raise SourceError(f"source {name}: INFO/{src} is not declared in {path.name}'s header")
        number, typ, desc = declared[src]
        if typ not in _TYPES:
            raise SourceError(f"source {name}: INFO/{src} has unknown Type {typ}")
        written, note = _written_number(number), ""
        if number not in ("A", "R", "0", "1"):  # a whole value per ALT: text, its commas %2C
            typ, note = "String", f", Number={number} value per ALT with its commas as %2C"
        out.append(SourceField(src, str(new), written, typ, f"{desc} (from {name}, INFO/{src}{note})", number))
    return out


def _bed_field(name: str, path: Path, wanted: dict[str, str]) -> SourceField:
    # A BED source writes one field: {"name": ID} copies column 4, {"overlap": ID} sets a flag.
    if len(wanted) != 1 or next(iter(wanted)) not in ("name", "overlap"):
        raise SourceError(f"source {name}: a BED source takes one field, name: ID or overlap: ID")
    what, new = next(iter(wanted.items()))
    if what == "name":
        return SourceField("name", new, ".", "String", f"Names of the {name} regions overlapping the REF span", ".")
    return SourceField("overlap", new, "0", "Flag", f"REF span overlaps a {name} region", "0")


def minimal(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The allele with shared trailing, then leading bases removed (case-insensitive), as
    ``bcftools norm`` trims without a FASTA and VEP's --minimal: (pos of the first kept
    REF base, REF, ALT); an insertion keeps an empty REF at the base after the anchor."""
    r, a = ref.upper(), alt.upper()
    while r and a and r[-1] == a[-1]:
        r, a = r[:-1], a[:-1]
    k = 0
    while k < len(r) and k < len(a) and r[k] == a[k]:
        k += 1
    return pos + k, r[k:], a[k:]


def _sequence(allele: str) -> bool:
    return bool(allele) and not allele.strip("ACGTNacgtn")  # strip: nothing left when all are bases


def _info_pattern(source: Source) -> re.Pattern[str]:
    """Finds the source's chosen INFO items in a row's INFO (id, value; a flag's value ''):
    a gnomAD row holds hundreds of others, never split apart."""
    ids = "|".join(re.escape(f.source_id) for f in source.fields)
    return re.compile(rf"(?:^|;)({ids})(?:=([^;]*))?(?=;|$)")


def _info(text: str, pattern: re.Pattern[str]) -> dict[str, str]:
    """The chosen INFO items of a source row as {id: value} (the last one of an id repeated)."""
    return dict(pattern.findall(text))


@dataclass
class _Match:
    values: dict[str, str]  # source INFO id -> raw value
    alt_index: int


@dataclass
class _Block:
    """A block's records (columns) and what the sources found for them: per record, a
    {column: value} per ALT (the table) and the INFO items to add."""

    records: list[list[str]]
    per_record: list[list[dict[str, Any]]] = field(init=False)
    per_info: list[list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.per_record = [[{} for _ in c[4].split(",")] for c in self.records]
        self.per_info = [[] for _ in self.records]


class SourcesStage:
    """Adds the sources' fields to a block of annotated VCF lines and its Parquet rows."""

    def __init__(self, sources: Sources):
        self.sources = sources
        self.ids = sources.info_ids
        # an INFO item whose id is one of ours (searched first: most records have none)
        self._ours = re.compile(rf"(?:^|;)(?:{'|'.join(map(re.escape, sorted(self.ids)))})(?:[=;]|$)")
        self._local = threading.local()
        self._gaps = {s.name: _window_gap(s.path.stat().st_size) for s in sources.sources}
        self._indexes = {s.name: _TabixIndex(s.path) for s in sources.sources if s.kind == "vcf"}
        self._patterns = {s.name: _info_pattern(s) for s in sources.sources if s.kind == "vcf"}

    def _handle(self, source: Source) -> Any:
        """This thread's pysam handle of a source: a TabixFile (BED), a BGZFile (VCF: read
        from the offsets of its index, _TabixIndex)."""
        handles = getattr(self._local, "handles", None)
        if handles is None:
            handles = self._local.handles = {}
        if source.name not in handles:
            import pysam
            from pysam.libcbgzf import BGZFile

            path = str(source.path)
            handles[source.name] = pysam.TabixFile(path) if source.kind == "bed" else BGZFile(path, "rb", None)
        return handles[source.name]

    def annotate(self, text: bytes) -> tuple[bytes, list[list[dict[str, Any]]]]:
        """(the lines with the fields added, per record a list per ALT of {column: value})."""
        # The engine admits UTF-8 text only (reader.py); surrogateescape keeps any byte regardless.
        records = [raw.decode("utf-8", "surrogateescape").split("\t", 8) for raw in text.split(b"\n") if raw]
        block = _Block(records)
        for source in self.sources.sources:
            (self._vcf if source.kind == "vcf" else self._bed)(source, block)
        out, ours = [], self._ours
        for cols, extra in zip(records, block.per_info, strict=True):
            info = cols[7]
            if info == ".":
                info = ";".join(extra)
            elif ours.search(info):  # the input's own values of these ids are replaced
                info = ";".join([kv for kv in info.split(";") if kv.split("=", 1)[0] not in self.ids] + extra)
            elif extra:
                info = f"{info};{';'.join(extra)}"
            cols[7] = info or "."
            out.append("\t".join(cols))
        return ("\n".join(out) + "\n").encode("utf-8", "surrogateescape") if out else b"", block.per_record

    def _windows(
        self, records: list[list[str]], spans: list[tuple[int, int]], gap: int = WINDOW_GAP
    ) -> list[tuple[str, int, int, list[int]]]:
        """Groups of record indexes per contig whose spans lie within ``gap`` of one another."""
        order = sorted(range(len(records)), key=[(c[0], s[0]) for c, s in zip(records, spans, strict=True)].__getitem__)
        windows: list[tuple[str, int, int, list[int]]] = []
        for i in order:
            chrom, (start, end) = records[i][0], spans[i]
            if (
                windows
                and windows[-1][0] == chrom
                and start <= windows[-1][2] + gap
                and end - windows[-1][1] <= WINDOW_SPAN
            ):
                c, s, e, members = windows[-1]
                members.append(i)
                windows[-1] = (c, s, max(e, end), members)
            else:
                windows.append((chrom, start, end, [i]))
        return windows

    @staticmethod
    def _contig(contigs: Any, chrom: str) -> str | None:
        if chrom in contigs:
            return chrom
        alt = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
        return alt if alt in contigs else None

    def _vcf(self, source: Source, block: _Block) -> None:
        records, per_record, per_info = block.records, block.per_record, block.per_info
        index, pattern = self._indexes[source.name], self._patterns[source.name]
        # The span a matching source record can start in: an allele's leading shared bases
        # may be written differently on the two sides, so the whole REF span is read. A
        # record's query is [POS-2, POS+len(REF)) (0-based): every source row whose minimal
        # form can start where one of the record's can.
        spans = [(int(c[1]) - 1, int(c[1]) + len(c[3])) for c in records]
        for chrom, start, end, members in self._windows(records, spans, self._gaps[source.name]):
            contig = self._contig(index.names, chrom)
            if contig is None:
                continue
            keys: dict[tuple[int, str, str], int] = {}  # each ALT's minimal form -> its key number
            alleles: list[list[int | None] | None] = []
            for i in members:
                pos, ref = int(records[i][1]), records[i][3]
                if not _sequence(ref):
                    alleles.append(None)
                    continue
                alleles.append(
                    [keys.setdefault(minimal(pos, ref, a), len(keys)) if _sequence(a) else None
                     for a in records[i][4].split(",")]
                )  # fmt: skip
            near = _Overlaps([(max(0, spans[i][0] - 1), spans[i][1]) for i in members])
            found = self._scan(source, index, contig, (max(0, start - 1), end), near, list(keys))
            for i, alts in zip(members, alleles, strict=True):
                if alts is None:
                    continue
                hits = [None if k is None else found[k] for k in alts]
                if any(h is not None for h in hits):
                    matches = [None if h is None else _Match(_info(h[0], pattern), h[1]) for h in hits]
                    self._write_vcf_fields(source, matches, per_record[i], per_info[i])

    def _scan(
        self, source: Source, index: _TabixIndex, contig: str, region: tuple[int, int], near: _Overlaps,
        keys: list[tuple[int, str, str]],
    ) -> list[tuple[str, int] | None]:  # fmt: skip
        """Per key, the (INFO text, ALT index) of the first source row in ``region`` (0-based)
        with that allele, of the rows meeting ``near``: the region's rows are inflated from the
        index's offset on and matched in C (textops.source_scan), in chunks of growing size;
        the rows between the runs of ``near`` are read through, not parsed."""
        found: list[tuple[str, int] | None] = [None] * len(keys)
        offset = index.start(contig, region[0])
        if offset is None or not keys:
            return found
        order = sorted(range(len(keys)), key=keys.__getitem__)  # by position first
        texts = [f"{keys[q][1]}>{keys[q][2]}" for q in order]
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        table = SourceKeys(
            np.fromiter((keys[q][0] for q in order), np.int64, len(order)),
            np.frombuffer("".join(texts).encode(), dtype=np.uint8),
            offsets_of(lengths),
            lengths,
        )
        runs = (np.array(near.starts, dtype=np.int64), np.array(near.ends, dtype=np.int64))
        taken = np.zeros(len(keys), dtype=bool)
        state = np.zeros(1, dtype=np.int64)
        handle = self._handle(source)
        handle.seek(offset)
        tail, size, name = b"", SCAN_CHUNK, contig.encode()
        while True:
            data = handle.read(size)
            text = tail + data
            cut = text.rfind(b"\n") + 1 if data else len(text)  # whole lines; the last one at the end
            done = source_scan(np.frombuffer(text, dtype=np.uint8, count=cut), name, region[1], *runs, table, state)
            new = np.flatnonzero((table.found_info >= 0) & ~taken)
            taken[new] = True
            for q, at, n, k in zip(
                new.tolist(), *(a[new].tolist() for a in (table.found_info, table.found_len, table.found_alt)),
                strict=True,
            ):  # fmt: skip
                found[order[q]] = (text[at : at + n].decode("utf-8", "surrogateescape"), k)
            if done or not data:
                return found
            tail, size = text[cut:], min(2 * size, MAX_SCAN_CHUNK)

    @staticmethod
    def _write_vcf_fields(
        source: Source, matches: list[_Match | None], rows: list[dict[str, Any]], info: list[str]
    ) -> None:
        for f in source.fields:
            values: list[str | None] = []
            for m in matches:
                v = None
                if m is not None and f.source_id in m.values:
                    raw = m.values[f.source_id]
                    if f.source_number in ("A", "R"):
                        parts = raw.split(",")
                        k = m.alt_index + (1 if f.source_number == "R" else 0)
                        v = parts[k] if k < len(parts) else None
                    else:
                        v = raw
                values.append(None if v in (None, ".") else v)
            if f.number == "0":
                if any(m is not None and f.source_id in m.values for m in matches):
                    info.append(f.info_id)
                    for r in rows:
                        r[f.column] = True
                continue
            if f.number == "A":
                if any(v is not None for v in values):
                    info.append(f"{f.info_id}={','.join(_slot(v) if v is not None else '.' for v in values)}")
            elif f.number == "R":
                first = next((m for m in matches if m is not None and f.source_id in m.values), None)
                ref_v = first.values[f.source_id].split(",")[0] if first is not None else "."
                if any(v is not None for v in values):
                    info.append(f"{f.info_id}={','.join([ref_v, *(v if v is not None else '.' for v in values)])}")
            for r, v in zip(rows, values, strict=True):
                if v is not None:
                    r[f.column] = v

    def _bed(self, source: Source, block: _Block) -> None:
        records, per_record, per_info = block.records, block.per_record, block.per_info
        f = source.fields[0]
        handle = self._handle(source)
        # The REF span, 0-based half-open (POS .. POS+len(REF)-1, as bcftools overlaps it).
        spans = [(int(c[1]) - 1, int(c[1]) - 1 + max(1, len(c[3]))) for c in records]
        for chrom, start, end, members in self._windows(records, spans, self._gaps[source.name]):
            contig = self._contig(handle.contigs, chrom)
            if contig is None:
                continue
            near = _Overlaps([spans[i] for i in members])
            starts: list[int] = []  # the regions overlapping a record, in file (start) order
            regions = []
            longest = 0
            for row in handle.fetch(contig, start, end, multiple_iterators=False):
                cols = row.split("\t", 4)
                s, e = int(cols[1]), int(cols[2])
                if near.hit(s, e):
                    starts.append(s)
                    regions.append((s, e, cols[3] if len(cols) > 3 else ""))
                    longest = max(longest, e - s)
            for i in members:
                lo, hi = spans[i]
                # Only a region starting less than the longest length before lo can reach it.
                first, last = bisect.bisect_left(starts, lo - longest), bisect.bisect_left(starts, hi)
                hits = [name for s, e, name in regions[first:last] if s < hi and e > lo]
                if not hits:
                    continue
                if f.number == "0":
                    per_info[i].append(f.info_id)
                    value: Any = True
                else:
                    unique = list(dict.fromkeys(h for h in hits if h))
                    if not unique:
                        continue
                    value = ",".join(unique)
                    per_info[i].append(f"{f.info_id}={value}")
                for r in per_record[i]:
                    r[f.column] = value


def _window_gap(compressed_bytes: int) -> int:
    """The gap (bases) below which records share a tabix query of a source of this size."""
    per_base = max(compressed_bytes, 1) / GENOME_BASES
    return int(min(MAX_GAP, max(WINDOW_GAP, READ_THROUGH_BYTES / per_base)))


class _TabixIndex:
    """A tabix index's contig names and, per contig, where a region's rows start: the virtual
    offset (BGZF block << 16 | offset in the inflated block) from which a sorted file holds
    every row overlapping the region's start and all later ones. .tbi: its linear index (16 kb
    windows); .csi: the lowest existing bin holding the start (its loffset), as htslib."""

    def __init__(self, source: Path):
        path = _index_path(source)
        if path is None:
            raise SourceError(f"{source.name} has no tabix index")
        data = gzip.decompress(path.read_bytes())  # both kinds are BGZF-compressed
        self.csi = data[:4] == b"CSI\x01"
        if self.csi:
            self.min_shift, self.depth, l_aux = struct.unpack_from("<3i", data, 4)
            l_nm = struct.unpack_from("<i", data, 16 + 24)[0]
            names, at = data[16 + 28 : 16 + 28 + l_nm], 16 + l_aux
        elif data[:4] == b"TBI\x01":
            l_nm = struct.unpack_from("<i", data, 32)[0]
            names, at = data[36 : 36 + l_nm], 36 + l_nm
        else:
            raise SourceError(f"{path.name} is not a tabix index (.tbi or .csi)")
        n_ref = struct.unpack_from("<i", data, at)[0] if self.csi else struct.unpack_from("<i", data, 4)[0]
        at += 4 if self.csi else 0
        self.names = [n.decode() for n in names.split(b"\0")[:n_ref]]
        self.linear: dict[str, np.ndarray] = {}
        self.bins: dict[str, dict[int, int]] = {}
        for name in self.names:
            (n_bin,) = struct.unpack_from("<i", data, at)
            at += 4
            bins = {}
            for _ in range(n_bin):
                if self.csi:
                    number, loffset, n_chunk = struct.unpack_from("<IQi", data, at)
                    bins[number] = loffset
                    at += 16
                else:
                    number, n_chunk = struct.unpack_from("<Ii", data, at)
                    at += 8
                at += 16 * n_chunk
            self.bins[name] = bins
            if not self.csi:
                (n_intv,) = struct.unpack_from("<i", data, at)
                self.linear[name] = np.frombuffer(data, dtype="<u8", count=n_intv, offset=at + 4)
                at += 4 + 8 * n_intv

    def start(self, contig: str, pos: int) -> int | None:
        """The virtual offset to read from for rows overlapping 0-based ``pos`` and after
        (None: the contig has none)."""
        if not self.csi:
            linear = self.linear[contig]
            return int(linear[pos >> 14]) if (pos >> 14) < linear.size else None
        bins = self.bins[contig]
        if not bins:
            return None
        number = ((1 << 3 * self.depth) - 1) // 7 + (pos >> self.min_shift)  # the leaf holding pos
        while number not in bins and number > 0:
            number = (number - 1) >> 3  # its parent
        return bins.get(number, 0)  # no bin above it: from the file's start (other contigs skipped)


class _Overlaps:
    """Half-open intervals merged into disjoint sorted runs: does [lo, hi) meet any of them?"""

    def __init__(self, intervals: list[tuple[int, int]]):
        self.starts: list[int] = []
        self.ends: list[int] = []
        for lo, hi in sorted(intervals):
            if self.ends and lo <= self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], hi)
            else:
                self.starts.append(lo)
                self.ends.append(hi)

    def hit(self, lo: int, hi: int) -> bool:
        k = bisect.bisect_left(self.starts, hi) - 1  # the last run starting before hi
        return k >= 0 and self.ends[k] > lo


def arrow_type(f: SourceField) -> Any:
    import pyarrow as pa

    if f.number == "0":
        return pa.bool_()
    if f.number == "A" and f.type == "Integer":
        return pa.int64()
    if f.number == "A" and f.type == "Float":
        return pa.float64()
    return pa.string()


def table_fields(sources: Sources) -> list[Any]:
    """The Parquet columns the sources add (nullable; named after the lower-cased INFO id)."""
    import pyarrow as pa

    return [pa.field(f.column, arrow_type(f)) for f in sources.fields]


def _coerce(value: Any, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None  # a malformed number in the source: null, as the VCF keeps its text


def with_sources(table: Any, per_record: list[list[dict[str, Any]]], sources: Sources) -> Any:
    """The block's Parquet rows (one per record and ALT) with one column per source field."""
    import pyarrow as pa

    if table is None or not sources.fields:
        return table
    rows = [r for alts in per_record for r in alts]
    if len(rows) != table.num_rows:
        raise RuntimeError(f"sources: {len(rows)} ALTs but {table.num_rows} table rows")
    arrays, names = list(table.columns), list(table.schema.names)
    for f in sources.fields:
        typ = arrow_type(f)
        kind = {pa.int64(): int, pa.float64(): float}.get(typ)
        values = [r.get(f.column) for r in rows]
        if kind is not None:
            values = [None if v is None else _coerce(v, kind) for v in values]
        arrays.append(pa.array(values, typ))
        names.append(f.column)
    return pa.RecordBatch.from_arrays(arrays, names=names)
