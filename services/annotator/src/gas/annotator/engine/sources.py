"""A deployment's own annotation sources: bgzipped + tabix-indexed VCF and BED files.

Declared in a YAML or JSON file (``GAS_ANNOTATION_SOURCES`` or ``gas-annotate --sources``),
checked before use (``load_sources``), then applied to each annotated block
(``SourcesStage.annotate``): the chosen INFO fields of a VCF source are copied to the ALTs
they match, a BED source sets a flag or copies its name column. Matching is on the minimal
form of each allele (multi-allelic records split, shared trailing then leading bases
trimmed, on both sides: ``minimal``); without a reference FASTA an indel inside a repeat is
not shifted left, so two spellings of one such indel at different positions do not match.

Each source is looked up in its compiled form (``compile_source``, decision 126: built once by
the provisioning step or gas-annotate, memory-mapped), with no source text read per job: a VCF
source's alleles sorted by position, each ALT's minimal form searched among them in C
(``textops.source_lookup``); a BED source's regions sorted by start with the largest end so
far, searched with ``searchsorted``. The block's own records are arrays over its text
(``_Block``): their ALTs' minimal forms, the matched values and the INFO items are found and
written per block, not per record.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from isal import igzip, isal_zlib  # zlib's inflate, ~3.5x faster (ISA-L): a source is inflated once, to compile it

from gas.annotator.engine.textops import (
    UPPER,
    bed_scan,
    bounds_of,
    first_occurrences,
    gather,
    gather_columns,
    info_values,
    offsets_of,
    ranges,
    source_alleles,
    source_lookup,
    split_lines,
)  # fmt: skip
from gas.core.databases import COMPILED_FORMAT, compiled_files
from gas.core.vocab import CSQ_INFO_IDS, INFO_IDS, INPUT_CSQ_ID

SOURCES_ENV = "GAS_ANNOTATION_SOURCES"
_ID = re.compile(r"^[A-Za-z_][0-9A-Za-z_.]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
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


def load_sources(path: str | Path | None = None, compile_missing: bool = False) -> Sources:
    """Read and check the declaration (``path``, else $GAS_ANNOTATION_SOURCES; none: no sources).
    A source needs its compiled form (``compile_source``) beside it, built from the file as it
    is: ``compile_missing`` (gas-annotate, the provisioning step) builds a missing or stale one,
    otherwise (an annotator's start) it is an error."""
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
    for s in sources:
        problem = compiled_problem(s)
        if problem and not compile_missing:
            raise SourceError(
                f"source {s.name}: {problem}: build it with gas-build-references (or gas-annotate --sources)"
            )
        if problem:
            try:
                compile_source(s)
            except OSError as exc:  # e.g. a read-only folder: the provisioning step builds it
                raise SourceError(f"source {s.name}: {problem}, and it cannot be written: {exc}") from None
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


class _Block:
    """A block's records as arrays over its text (``split_lines``) and its ALTs, one row each
    (``source_alleles``: records in order, ALTs in order: the table's rows), with what the
    sources add: per record the INFO items (text pieces, in declaration order) and per ALT row
    the table's values."""

    def __init__(self, text: Any):  # a buffer: bytes or a numpy byte array
        self.b = np.frombuffer(text, dtype=np.uint8)
        lines = split_lines(self.b)
        if lines.nul_at >= 0:  # nothing was split: never a block without rows
            raise ValueError(f"sources: a NUL byte at offset {lines.nul_at} of the block")
        if lines.short_line >= 0:
            raise ValueError(f"sources: line {lines.short_line + 1} of the block has fewer than 8 columns")
        self.lines, bound = lines, lines.bound
        self.n = n = lines.start.size
        self.pos = lines.pos
        ref, ref_len = bound[3] + 1, bound[4] - bound[3] - 1
        self.ref_len = ref_len
        self.alleles = source_alleles(self.b, lines.pos, ref, ref_len, bound[4] + 1, bound[5] - bound[4] - 1)
        self.alt_count = np.bincount(self.alleles.rec, minlength=n)
        self.alt_first = offsets_of(self.alt_count)
        self.chrom, self.names = self._contigs()
        self.items: list[tuple[Any, np.ndarray, np.ndarray]] = []  # per record: (buffer, start, length)
        self.columns: list[Any] = []  # per source field: a pyarrow array over the ALT rows

    def _contigs(self) -> tuple[np.ndarray, list[str]]:
        """Per record its contig's number, and the names by number (first appearance)."""
        lines = self.lines
        if lines.chrom_key.size and not (lines.chrom_key == 0).any():  # every name fits a key
            reps, group = first_occurrences(lines.chrom_key.view(np.int64))
            names = [bytes(self.b[lines.start[r] : lines.bound[1][r]]).decode("utf-8", "surrogateescape") for r in reps]
            return group, names
        codes: dict[bytes, int] = {}
        chrom = [codes.setdefault(bytes(self.b[s:e]), len(codes)) for s, e in zip(
            lines.start.tolist(), lines.bound[1].tolist(), strict=True)]  # fmt: skip
        return np.array(chrom, dtype=np.int64), [c.decode("utf-8", "surrogateescape") for c in codes]

    def alt_keys(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each ALT row's key "REF>ALT" of its minimal form, upper case: (text, start, length)."""
        al = self.alleles
        one = np.ones(al.mpos.size, np.int64)
        key_len = al.mref_len + 1 + al.malt_len
        text = UPPER[
            gather_columns([(self.b, al.mref, al.mref_len), (b">", 0 * one, one), (self.b, al.malt, al.malt_len)])
        ]
        return text, offsets_of(key_len), key_len

    def info_items(self, ids: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per record its INFO items named ``ids`` (the last of each, as info_values reads
        them) as "ID=VALUE" joined by ';': (text, start, length)."""
        n, bound = self.n, self.lines.bound
        info0, zeros, whole = bound[7] + 1, np.zeros(self.n, np.int64), np.full(self.n, -1, np.int64)
        columns: list[tuple[Any, np.ndarray, np.ndarray] | None] = []
        before = np.zeros(n, dtype=bool)
        for sid in ids:
            vs, vl = info_values(self.b, info0, bound[8] - info0, sid, whole)
            has = vs >= 0
            head = sid + b"="
            columns.append(_const(SEMI, n, has & before))
            columns.append((head, zeros, np.where(has, len(head), 0)))
            columns.append((self.b, np.where(has, vs, 0), np.where(has, vl, 0)))
            before |= has
        return _pieces(n, np.arange(n), columns)


# A source's compiled form (decision 126): one file of arrays beside the data file, laid out by
# its manifest (which names the file it was built from), memory-mapped by the engine.
COMPILE_CHUNK = 8 << 20  # inflated text compiled at a time (larger: more system time on fresh pages)
_ALIGN = 64


def _bounds(lengths: np.ndarray) -> np.ndarray:
    """Offsets of consecutive pieces of these lengths, and the end of the last."""
    return np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))


def _narrow(values: np.ndarray) -> np.ndarray:
    """``values`` in the narrowest signed integer type that holds them all."""
    for kind in (np.int8, np.int16, np.int32):
        info = np.iinfo(kind)
        if not values.size or (values.min() >= info.min and values.max() <= info.max):
            return values.astype(kind)
    return values.astype(np.int64)


def _source_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _data_lines(path: Path) -> Any:
    """The data lines of a bgzipped VCF, inflated, in chunks of whole lines."""
    tail = b""
    header = True
    with igzip.open(path, "rb") as fh:
        while True:
            data = fh.read(COMPILE_CHUNK)
            text = tail + data
            cut = text.rfind(b"\n") + 1 if data else len(text)
            text, tail = text[:cut], text[cut:]
            while header and text.startswith(b"#"):
                nl = text.find(b"\n")
                text = text[nl + 1 :] if nl >= 0 else b""
            header = header and not text
            if text:
                yield text if text.endswith(b"\n") else text + b"\n"
            if not data:
                return


def compile_source(source: Source) -> dict[str, Any]:
    """Builds ``source``'s compiled form beside its file and returns its manifest: the arrays a
    job looks its ALTs (a VCF source: ``_compile_vcf``) or REF spans (a BED: ``_compile_bed``)
    up in (``CompiledSource``) instead of reading the source's text."""
    t0 = time.perf_counter()
    try:
        arrays, contigs, rows = (_compile_vcf if source.kind == "vcf" else _compile_bed)(source)
    except (OSError, EOFError, isal_zlib.error) as exc:  # type: ignore[misc]  # a truncated or corrupt file
        raise SourceError(f"source {source.name}: {source.path.name} cannot be read: {exc}") from None
    data_file, manifest_file = (source.path.with_name(n) for n in compiled_files(source.path.name))
    layout, at, digest = {}, 0, hashlib.sha256()
    tmp = data_file.with_name(f".{data_file.name}.tmp")
    with open(tmp, "wb") as out:
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            layout[name] = [array.dtype.str, at, int(array.size)]
            at += array.nbytes
            for piece in (array.tobytes(), b"\0" * (-at % _ALIGN)):
                out.write(piece)
                digest.update(piece)
            at += -at % _ALIGN
    os.replace(tmp, data_file)
    stat = source.path.stat()
    manifest = {
        "format": COMPILED_FORMAT,
        "source": {"file": source.path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                   "sha256": _source_sha256(source.path)},
        "fields": _compiled_fields(source),
        "contigs": contigs,
        "arrays": layout,
        "size": at,
        "sha256": digest.hexdigest(),  # checked by gas-fetch-references, as a bundle's
        "rows": rows,
        "entries": int(arrays["pos"].size),
        "build_seconds": round(time.perf_counter() - t0, 2),
    }  # fmt: skip
    tmp = manifest_file.with_name(f".{manifest_file.name}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, manifest_file)
    return manifest


def _compiled_fields(source: Source) -> list[str]:
    """The INFO ids a VCF source's compiled form keeps: the declared ones and those its current
    form kept (two declarations of one file share it); a BED's keeps every name."""
    if source.kind != "vcf":
        return []
    before = (_manifest(source) or {}).get("fields") or []
    return sorted({f.source_id for f in source.fields} | set(before))


def _compile_vcf(source: Source) -> tuple[dict[str, np.ndarray], dict[str, list[int]], int]:
    """(arrays, entries per contig, rows): each sequence ALT's minimal position ("pos") and
    key "REF>ALT" ("key_off", "key"), sorted by contig and position, the source's row order
    kept among equal positions (the first row with an allele wins), its ALT index and row;
    per row its chosen INFO items ("info_off", "info")."""
    ids = _compiled_fields(source)
    names: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("contig", "pos", "alt", "row", "key", "key_len", "info", "info_len")
    }
    rows = 0
    for text in _data_lines(source.path):
        try:
            block = _Block(text)
        except ValueError as exc:
            raise SourceError(f"source {source.name}: {exc} (after {rows:,} rows)") from None
        al = block.alleles
        ok = (al.mpos >= 0) & (block.pos[al.rec] >= 1)  # sequence REF and ALT, a POS
        contig = np.array([names.setdefault(n, len(names)) for n in block.names], dtype=np.int64)
        key_text, key_at, key_len = block.alt_keys()
        info_text, info_at, info_len = block.info_items([i.encode() for i in ids])
        parts["contig"].append(contig[block.chrom[al.rec[ok]]] if contig.size else al.rec[ok])
        parts["pos"].append(al.mpos[ok])
        parts["alt"].append(al.alt[ok])
        parts["row"].append(rows + al.rec[ok])
        parts["key"].append(gather(key_text, key_at[ok], key_len[ok]))
        parts["key_len"].append(key_len[ok])
        parts["info"].append(gather(info_text, info_at, info_len))
        parts["info_len"].append(info_len)
        rows += block.n
    joined = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in parts.items()}
    order = np.lexsort((joined["pos"], joined["contig"]))  # stable: row order among equals
    key_len = joined["key_len"][order]
    contig = joined["contig"][order]
    arrays = {
        "pos": joined["pos"][order],
        "key_off": _bounds(key_len),
        "key": gather(joined["key"].astype(np.uint8), offsets_of(joined["key_len"])[order], key_len),
        # read by numpy only (pos and key_off go to C as int64): as narrow as their values allow
        "alt": _narrow(joined["alt"][order]),
        "row": _narrow(joined["row"][order]),
        "info_off": _narrow(_bounds(joined["info_len"])),
        "info": joined["info"].astype(np.uint8),
    }
    bounds = np.searchsorted(contig, np.arange(len(names) + 1))
    return arrays, {n: [int(bounds[i]), int(bounds[i + 1])] for n, i in names.items()}, rows


def _compile_bed(source: Source) -> tuple[dict[str, np.ndarray], dict[str, list[int]], int]:
    """(arrays, regions per contig, rows): each region's start ("pos") and end, sorted by
    contig and start (file order among equal starts: a record's names are written in it), the
    largest end up to it ("reach": the regions before the first reach past a point all end
    before it) and its name ("name_off", "name")."""

    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("pos", "end", "reach", "name", "name_len")}
    contigs, at, done = {}, 0, 0
    with igzip.open(source.path, "rb") as fh:
        data = np.frombuffer(fh.read(), dtype=np.uint8)
    for contig in _index_contigs(source.path):
        text = data[done:]  # from inside the previous contig's last row: its rest is no row of this one
        start, end, name, name_len = bed_scan(text, contig.encode(), 1 << 62, np.zeros(2, dtype=np.int64))
        if start.size:
            done += int(name[-1] + name_len[-1])
        order = np.argsort(start, kind="stable")
        start, end, name, name_len = start[order], end[order], name[order], name_len[order]
        parts["pos"].append(start)
        parts["end"].append(end)
        parts["reach"].append(np.maximum.accumulate(end) if end.size else end)
        parts["name"].append(gather(text, name, name_len))
        parts["name_len"].append(name_len)
        contigs[contig] = [at, at + start.size]
        at += start.size
    joined = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in parts.items()}
    arrays = {
        "pos": joined["pos"],
        "end": joined["end"],
        "reach": joined["reach"],
        "name_off": _bounds(joined["name_len"]),
        "name": joined["name"].astype(np.uint8),
    }
    return arrays, contigs, at


def _manifest(source: Source) -> dict[str, Any] | None:
    path = source.path.with_name(compiled_files(source.path.name)[1])
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def compiled_problem(source: Source) -> str | None:
    """Why ``source``'s compiled form cannot be used (None: it can): missing, of another
    format, built from another file (size and mtime, as bundles are checked) or without a
    chosen field."""
    data_file, manifest_file = compiled_files(source.path.name)
    manifest = _manifest(source)
    if manifest is None:
        return f"no compiled form ({manifest_file} beside {source.path.name})"
    if manifest.get("format") != COMPILED_FORMAT:
        return f"the compiled form {manifest_file} is of format {manifest.get('format')}, not {COMPILED_FORMAT}"
    stat, built = source.path.stat(), manifest.get("source") or {}
    if (built.get("size"), built.get("mtime_ns")) != (stat.st_size, stat.st_mtime_ns):
        return (
            f"the compiled form {manifest_file} is stale: built from {built.get('size')} bytes modified at "
            f"{built.get('mtime_ns')} ns, {source.path.name} is {stat.st_size} bytes modified at {stat.st_mtime_ns} ns"
        )
    missing = sorted({f.source_id for f in source.fields if source.kind == "vcf"} - set(manifest.get("fields") or []))
    if missing:
        return f"the compiled form {manifest_file} lacks INFO/{', INFO/'.join(missing)}"
    path = source.path.with_name(data_file)
    if not path.is_file() or path.stat().st_size != manifest.get("size"):
        return f"the compiled form {data_file} is missing or not {manifest.get('size')} bytes"
    return None


class CompiledSource:
    """A source's compiled form, memory-mapped read-only: its arrays and each contig's entries."""

    def __init__(self, source: Source):
        manifest = _manifest(source)
        if manifest is None or compiled_problem(source):
            raise SourceError(f"source {source.name}: {compiled_problem(source)}")
        raw = np.memmap(source.path.with_name(compiled_files(source.path.name)[0]), dtype=np.uint8, mode="r")
        self.arrays = {
            name: raw[at : at + count * np.dtype(dtype).itemsize].view(np.dtype(dtype))
            for name, (dtype, at, count) in manifest["arrays"].items()
        }
        self.contigs: dict[str, tuple[int, int]] = {n: (a, z) for n, (a, z) in manifest["contigs"].items()}

    def lookup(self, contig: str, pos: np.ndarray, text: np.ndarray, off: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Per key (minimal position, "REF>ALT" in ``text``) its first entry on ``contig``, -1: none."""
        a, z = self.contigs[contig]
        x = self.arrays
        found = source_lookup(x["pos"][a:z], x["key"], x["key_off"][a : z + 1], pos, text, off, length)
        return np.where(found >= 0, found + a, -1)


def _pieces(n: int, rec: np.ndarray, columns: list[tuple[Any, np.ndarray, np.ndarray] | None]) -> tuple[Any, ...]:
    """Per record, the concatenation of its rows' pieces (rows ordered by record): (buffer,
    start, length)."""
    text = gather_columns(columns)
    row_len = np.zeros(rec.size, dtype=np.int64)
    for c in columns:
        if c is not None:
            row_len += np.maximum(c[2], 0)
    length = np.bincount(rec, weights=row_len, minlength=n).astype(np.int64)
    return text, offsets_of(length), length


_CONST = np.frombuffer(b".,;=", dtype=np.uint8)  # constant pieces: DOT, COMMA, SEMI
DOT, COMMA, SEMI = 0, 1, 2


def _const(which: int, rows: int, where: np.ndarray | None = None) -> tuple[Any, np.ndarray, np.ndarray]:
    length = np.ones(rows, dtype=np.int64) if where is None else where.astype(np.int64)
    return _CONST, np.full(rows, which, dtype=np.int64), length


def _typed(f: SourceField, buf: np.ndarray, start: np.ndarray, length: np.ndarray, valid: np.ndarray) -> Any:
    """A table column from the values buf[start : start + length] where valid (else null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = arrow_type(f)
    start, length = np.where(valid, start, 0), np.where(valid, length, 0)
    data = gather(buf, start, length)
    offsets = bounds_of(length)
    mask = pa.py_buffer(np.packbits(valid, bitorder="little"))
    strings = pa.LargeStringArray.from_buffers(valid.size, pa.py_buffer(offsets), pa.py_buffer(data), mask)
    if typ == pa.string():
        return strings.cast(pa.string())
    try:
        return pc.cast(strings, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a malformed number: null, as before
        kind = int if typ == pa.int64() else float
        return pa.array([None if v is None else _coerce(v, kind) for v in strings.to_pylist()], typ)


class SourcesStage:
    """Adds the sources' fields to a block of annotated VCF lines and its Parquet rows."""

    def __init__(self, sources: Sources, table: bool = True):
        self.sources = sources
        self.table = table  # build the table's columns (not for a job without the Parquet table)
        self.ids = sources.info_ids
        # an INFO item whose id is one of ours (the input's own values are replaced)
        ids = "|".join(map(re.escape, sorted(self.ids)))
        self._ours = re.compile(rf"(?:^|;)(?:{ids})(?:[=;]|$)")
        self._id_bytes = [i.encode() for i in sorted(self.ids)]
        self._compiled = {s.name: CompiledSource(s) for s in sources.sources}

    def annotate(self, text: Any) -> tuple[Any, list[Any]]:
        """(the lines with the fields added, per source field a pyarrow array over the ALTs:
        none when the stage builds no table)."""
        block = _Block(text)
        for source in self.sources.sources:
            (self._vcf if source.kind == "vcf" else self._bed)(source, block)
        return self._lines(block), block.columns

    def _lines(self, block: _Block) -> bytes:
        """The block's lines with each record's items appended to its INFO, in one gather."""
        b, lines, n = block.b, block.lines, block.n
        if not n:
            return b""
        info0, info1 = lines.bound[7] + 1, lines.bound[8]
        stop = lines.end + (b[np.minimum(lines.end, b.size - 1)] == 13)  # a CR kept, as written
        # INFO "." or empty, or holding one of our ids: those records are rewritten one by one.
        odd = (info1 - info0 == 0) | ((info1 - info0 == 1) & (b[np.minimum(info0, b.size - 1)] == 46))
        whole = np.full(n, -1, dtype=np.int64)
        for info_id in self._id_bytes:  # an item "ID" or "ID=..." in the INFO column
            odd |= info_values(b, info0, info1 - info0, info_id, whole)[0] >= 0
        keep = ~odd
        columns: list[tuple[Any, np.ndarray, np.ndarray] | None] = [
            (b, lines.start, np.where(keep, info1 - lines.start, 0))
        ]
        for buf, start, length in block.items:
            columns.append(_const(SEMI, n, (length > 0) & keep))
            columns.append((buf, start, np.where(keep, length, 0)))
        columns.append((b, info1, np.where(keep, stop - info1, 0)))
        if odd.any():
            side, side_at, side_len = bytearray(), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
            for r in np.flatnonzero(odd).tolist():
                extra = [
                    bytes(buf[start[r] : start[r] + length[r]]) for buf, start, length in block.items if length[r] > 0
                ]
                line = self._rewrite(
                    bytes(b[lines.start[r] : stop[r]]), [x.decode("utf-8", "surrogateescape") for x in extra]
                )
                side_at[r], side_len[r] = len(side), len(line)
                side += line
            columns.append((bytes(side), side_at, side_len))
        columns.append((b"\n", np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)))
        return gather_columns(columns).tobytes()

    def _rewrite(self, line: bytes, extra: list[str]) -> bytes:
        cols = line.decode("utf-8", "surrogateescape").split("\t", 8)
        info = cols[7]
        if info == ".":
            info = ";".join(extra)
        elif self._ours.search(info):  # the input's own values of these ids are replaced
            info = ";".join([kv for kv in info.split(";") if kv.split("=", 1)[0] not in self.ids] + extra)
        elif extra:
            info = f"{info};{';'.join(extra)}"
        cols[7] = info or "."
        return "\t".join(cols).encode("utf-8", "surrogateescape")

    def _vcf(self, source: Source, block: _Block) -> None:
        """Each ALT's key looked up in the source's compiled form: the first source row with
        its minimal form, that row's chosen INFO items and the index of its ALT."""
        al, compiled = block.alleles, self._compiled[source.name]
        rows = al.mpos.size
        key_text, key_off, key_len = block.alt_keys()
        entry = np.full(rows, -1, np.int64)
        alt_contig = block.chrom[al.rec]
        for c, chrom in enumerate(block.names):
            contig = self._contig(compiled.contigs, chrom)
            if contig is None:
                continue
            mine = np.flatnonzero((alt_contig == c) & (al.mpos >= 0))
            if mine.size:
                entry[mine] = compiled.lookup(contig, al.mpos[mine], key_text, key_off[mine], key_len[mine])
        x, hit = compiled.arrays, np.flatnonzero(entry >= 0)
        row = x["row"][entry[hit]].astype(np.int64)
        at = x["info_off"][row].astype(np.int64)
        length = x["info_off"][row + 1] - at
        store = gather(x["info"], at, length)
        found_at, found_len, found_alt = np.full(rows, -1, np.int64), np.zeros(rows, np.int64), np.zeros(rows, np.int64)
        found_at[hit], found_len[hit], found_alt[hit] = offsets_of(length), length, x["alt"][entry[hit]]
        for f in source.fields:
            self._field(block, f, store, found_at, found_len, found_alt)

    def _field(
        self, block: _Block, f: SourceField, store: np.ndarray, at: np.ndarray, length: np.ndarray, alt: np.ndarray
    ) -> None:
        """One VCF source field: its INFO item per record and its table column."""
        al, n = block.alleles, block.n
        rec = al.rec
        sid = f.source_id.encode()
        whole = np.full(rec.size, -1, dtype=np.int64)
        present = info_values(store, at, length, sid, whole)[0] >= 0  # the row has the id
        part = alt + (1 if f.source_number == "R" else 0) if f.source_number in ("A", "R") else whole
        vs, vl = info_values(store, at, length, sid, part)
        valid = vs >= 0
        if store.size:  # "." is no value
            valid &= ~((vl == 1) & (store[np.clip(vs, 0, store.size - 1)] == 46))
        if f.number == "0":
            has = np.bincount(rec[present], minlength=n) > 0
            name = f.info_id.encode()
            block.items.append((name, np.zeros(n, np.int64), np.where(has, len(name), 0)))
            if self.table:
                block.columns.append(_flag_column(has[rec]))
            return
        any_rec = np.bincount(rec[valid], minlength=n) > 0
        on = any_rec[rec]  # the rows of records that get the item
        head = f"{f.info_id}=".encode()
        first = al.alt == 0
        # the slot of each ALT: its value, "." for none; Number=. and the like: commas as %2C
        slot_buf, slot_at, slot_len = store, vs, vl
        if f.source_number not in ("A", "R", "0", "1") and store.size:
            commas = np.concatenate(([0], np.cumsum(store == 44)))
            odd = np.flatnonzero(valid & on & (commas[np.where(valid, vs + vl, 0)] > commas[np.where(valid, vs, 0)]))
            if odd.size:
                encoded = [bytes(store[vs[r] : vs[r] + vl[r]]).replace(b",", b"%2C") for r in odd.tolist()]
                slot_buf = np.concatenate([store, np.frombuffer(b"".join(encoded), dtype=np.uint8)])
                slot_at, slot_len = vs.copy(), vl.copy()
                slot_at[odd] = store.size + offsets_of(np.array([len(e) for e in encoded], dtype=np.int64))
                slot_len[odd] = [len(e) for e in encoded]
        cols: list[tuple[Any, np.ndarray, np.ndarray] | None] = [
            (head, np.zeros(rec.size, np.int64), np.where(on & first, len(head), 0)),
        ]
        if f.number == "R":  # the REF's value from the first row with the id, in ALT order
            first_row = np.full(n, rec.size, dtype=np.int64)
            np.minimum.at(first_row, rec[present], np.flatnonzero(present))
            ref_at, ref_len = np.full(rec.size, -1, np.int64), np.zeros(rec.size, np.int64)
            has_ref = on & first & (first_row[rec] < rec.size)
            src = first_row[rec[has_ref]]
            ref_at[has_ref], ref_len[has_ref] = info_values(
                store, at[src], length[src], sid, np.zeros(src.size, np.int64)
            )
            ref_ok = ref_at >= 0
            cols.append((store, np.where(ref_ok, ref_at, 0), np.where(ref_ok, ref_len, 0)))
            cols.append(_const(DOT, rec.size, on & first & ~ref_ok))
            cols.append(_const(COMMA, rec.size, on & first))
        cols.append(_const(COMMA, rec.size, on & ~first))
        cols.append((slot_buf, np.where(valid & on, slot_at, 0), np.where(valid & on, slot_len, 0)))
        cols.append(_const(DOT, rec.size, on & ~valid))
        block.items.append(_pieces(n, rec, cols))
        if self.table:
            block.columns.append(_typed(f, store, vs, vl, valid))

    def _bed(self, source: Source, block: _Block) -> None:
        """The regions of the source's compiled form that overlap each record's REF span."""
        f, n, rec = source.fields[0], block.n, block.alleles.rec
        compiled = self._compiled[source.name]
        x = compiled.arrays
        # The REF span, 0-based half-open (POS .. POS+len(REF)-1, as bcftools overlaps it).
        lo = block.pos - 1
        hi = lo + np.maximum(1, block.ref_len)
        hit = np.zeros(n, dtype=bool)
        pair_rec, pair_name, pair_len, kept, size = [], [], [], [], 0  # the named regions of each record
        for c, chrom in enumerate(block.names):
            contig = self._contig(compiled.contigs, chrom)
            if contig is None:
                continue
            first, last = compiled.contigs[contig]
            members = np.flatnonzero(block.chrom == c)
            s, e = x["pos"][first:last], x["end"][first:last]
            # From the first region reaching past lo to the last starting before hi, in file order.
            z = np.searchsorted(s, hi[members], side="left")
            a = np.minimum(np.searchsorted(x["reach"][first:last], lo[members], side="right"), z)
            pairs = ranges(a, z - a)
            records = np.repeat(members, z - a)
            over = (s[pairs] < hi[records]) & (e[pairs] > lo[records])
            records, pairs = records[over], pairs[over] + first
            hit[records] = True
            name_at = x["name_off"][pairs]
            name_len = x["name_off"][pairs + 1] - name_at
            named = name_len > 0
            records, name_at, name_len = records[named], name_at[named], name_len[named]
            kept.append(gather(x["name"], name_at, name_len))
            pair_rec.append(records)
            pair_name.append(size + offsets_of(name_len))
            pair_len.append(name_len)
            size += kept[-1].size
        if f.number == "0":
            name_id = f.info_id.encode()
            block.items.append((name_id, np.zeros(n, np.int64), np.where(hit, len(name_id), 0)))
            if self.table:
                block.columns.append(_flag_column(hit[rec]))
            return
        block.items.append(self._names(f, n, kept, pair_rec, pair_name, pair_len))
        buf, at, length = block.items[-1]
        head = len(f.info_id) + 1
        if self.table:
            block.columns.append(_typed(f, buf, (at + head)[rec], (length - head)[rec], (length > 0)[rec]))

    @staticmethod
    def _names(
        f: SourceField, n: int, kept: list[np.ndarray], pair_rec: list[np.ndarray], pair_name: list[np.ndarray],
        pair_len: list[np.ndarray],
    ) -> tuple[Any, np.ndarray, np.ndarray]:  # fmt: skip
        """Per record the item "ID=names": the names of its regions, unique, in file order."""
        store = np.concatenate(kept) if kept else np.zeros(0, dtype=np.uint8)
        records = np.concatenate(pair_rec) if pair_rec else np.zeros(0, dtype=np.int64)
        order = np.argsort(records, kind="stable")  # windows hold disjoint records
        records = records[order]
        name_at = np.concatenate(pair_name)[order] if pair_name else records
        name_len = np.concatenate(pair_len)[order] if pair_len else records
        count = np.bincount(records, minlength=n)
        head = f"{f.info_id}=".encode()
        # one name: its piece; more: joined one by one, repeated names once
        side, value_at, value_len = bytearray(), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        first = offsets_of(count)
        single = np.flatnonzero(count == 1)
        value_at[single], value_len[single] = name_at[first[single]], name_len[first[single]]
        for r in np.flatnonzero(count > 1).tolist():
            mine = slice(first[r], first[r] + count[r])
            names = [
                bytes(store[a : a + k]) for a, k in zip(name_at[mine].tolist(), name_len[mine].tolist(), strict=True)
            ]
            joined = b",".join(dict.fromkeys(names))
            value_at[r], value_len[r] = store.size + len(side), len(joined)
            side += joined
        buf = np.concatenate([store, np.frombuffer(bytes(side), dtype=np.uint8)]) if side else store
        has = value_len > 0
        zeros = np.zeros(n, dtype=np.int64)
        return _pieces(n, np.arange(n), [(head, zeros, np.where(has, len(head), 0)), (buf, value_at, value_len)])

    @staticmethod
    def _contig(contigs: Any, chrom: str) -> str | None:
        if chrom in contigs:
            return chrom
        alt = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
        return alt if alt in contigs else None


def _flag_column(values: np.ndarray) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.bool_(), mask=~values)


def _index_contigs(source: Path) -> list[str]:
    """The contig names of a source's tabix index (.tbi or .csi), in the file's order."""
    path = _index_path(source)
    if path is None:
        raise SourceError(f"{source.name} has no tabix index")
    data = gzip.decompress(path.read_bytes())  # both kinds are BGZF-compressed
    if data[:4] == b"CSI\x01":
        l_aux = struct.unpack_from("<i", data, 12)[0]
        l_nm = struct.unpack_from("<i", data, 16 + 24)[0]
        names, n_ref = data[16 + 28 : 16 + 28 + l_nm], struct.unpack_from("<i", data, 16 + l_aux)[0]
    elif data[:4] == b"TBI\x01":
        l_nm = struct.unpack_from("<i", data, 32)[0]
        names, n_ref = data[36 : 36 + l_nm], struct.unpack_from("<i", data, 4)[0]
    else:
        raise SourceError(f"{path.name} is not a tabix index (.tbi or .csi)")
    return [n.decode() for n in names.split(b"\0")[:n_ref]]


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


def with_sources(table: Any, columns: list[Any], sources: Sources) -> Any:
    """The block's Parquet rows (one per record and ALT) with one column per source field
    (``SourcesStage.annotate``'s arrays)."""
    import pyarrow as pa

    if table is None or not sources.fields:
        return table
    if any(len(c) != table.num_rows for c in columns):
        raise RuntimeError(f"sources: {len(columns[0])} ALTs but {table.num_rows} table rows")
    names = [*table.schema.names, *(f.column for f in sources.fields)]
    return pa.RecordBatch.from_arrays([*table.columns, *columns], names=names)
