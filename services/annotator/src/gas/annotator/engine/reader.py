"""Reading a VCF: plain, gzip or BGZF, v3.3 to v4.5, in bounded blocks of whole lines.

Memory is bounded by ``EngineLimits``: no line may be longer than ``max_line_bytes`` and the
decompressed input may not exceed ``max_decompressed_bytes``; the reader never holds more
than one block plus one partial line. Errors name the line number and the field, never the
data (messages reach logs, the job record and email).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO

BLOCK_BYTES = 1 << 20
FIRST_BLOCK_BYTES = 64 << 10  # a small first block gets the first records out early
# A bundle's CSQ text is ~100x its input (~2.4 KB per record at human scale): its blocks are
# smaller, so that each block in flight holds ~12 MB of text rather than ~100 MB (a 1 MiB
# block peaked at ~460 MiB of Python objects, the whole job past 1 GiB), and its first block
# is ~150 records' work, not ~2,500.
BUNDLE_BLOCK_BYTES = (4 << 10, 128 << 10)  # (first, largest)
SUPPORTED_VERSIONS = ("3.3", "4.0", "4.1", "4.2", "4.3", "4.4", "4.5")
FIXED_COLUMNS = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]


class VcfFormatError(ValueError):
    """Bad input; str() is one line 'line N: what is wrong' (no content of the file)."""

    def __init__(self, message: str, line_number: int):
        self.message = message
        self.line_number = line_number
        super().__init__(f"line {line_number}: {message}")


@dataclass(frozen=True)
class EngineLimits:
    """Caps on one input; the worker passes larger ones to premium jobs."""

    max_line_bytes: int = 16 << 20
    max_decompressed_bytes: int = 64 << 30

    def __post_init__(self) -> None:
        if self.max_line_bytes < 1024 or self.max_decompressed_bytes < 1024:
            raise ValueError("engine limits must be at least 1 KiB")


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


@dataclass
class Header:
    version: str  # as declared: "3.3", "4.2", ...
    meta: list[str]  # ## lines, v3.3 ones rewritten in their v4 form
    chrom_line: str
    line_count: int  # lines up to and including #CHROM
    samples: int


def detect_compression(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(18)
    if not head:
        raise VcfFormatError("the file is empty", 1)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    # BGZF is gzip with a 'BC' extra field; gzip reads its concatenated members.
    return "bgzip" if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC" else "gzip"


# v3.3 meta lines: ##INFO=ID,Number,Type,"Description" (Number -1 = any), ##FILTER=ID,"Description",
# ##FORMAT likewise (some writers swap Number and Type).
_V33_META = re.compile(r'^##(INFO|FORMAT)=([^,<>]+),([^,]+),([^,]+),"?(.*?)"?\s*$')
_V33_FILTER = re.compile(r'^##FILTER=([^,<>]+),"?(.*?)"?\s*$')
_TYPES = {"integer": "Integer", "float": "Float", "flag": "Flag", "character": "Character", "string": "String"}


def _convert_v33_meta(line: str) -> str | None:
    """The v4 form of a v3.3 structured meta line, or None when it is not one."""
    m = _V33_META.match(line)
    if m:
        key, ident, number, kind, description = m.groups()
        if number.strip().lower() in _TYPES:  # Type and Number swapped
            number, kind = kind, number
        number = number.strip()
        number = "." if number in ("-1", ".") else number
        kind = _TYPES.get(kind.strip().lower(), "String")
        description = description.replace('"', "'")
        return f'##{key}=<ID={ident.strip()},Number={number},Type={kind},Description="{description}">'
    m = _V33_FILTER.match(line)
    if m:
        ident, description = m.groups()
        return f'##FILTER=<ID={ident.strip()},Description="{description.replace(chr(34), chr(39))}">'
    return None


def convert_v33_record(line: str) -> str:
    """A v3.3 data line in v4 form: QUAL -1 is missing, FILTER 0 is PASS, and the indel
    alleles Dn (delete n bases from POS) and I<seq> (insert after POS) are written with the
    v4 padding base before POS; bases the file does not give are N."""
    cols = line.split("\t")
    if len(cols) < 8:
        return line  # the column check reports it with its line number
    if cols[5].strip() == "-1":
        cols[5] = "."
    if cols[6] == "0":
        cols[6] = "PASS"
    if len(cols) > 9 and cols[8].split(":", 1)[0] == "GT":
        # v3.3 wrote unphased genotypes as 0\1 too; VCF 4.x has only / and |.
        for i in range(9, len(cols)):
            if "\\" in cols[i]:
                gt, sep, rest = cols[i].partition(":")
                cols[i] = gt.replace("\\", "/") + sep + rest
    alts = cols[4].split(",")
    if any(a[:1] in ("D", "I") and len(a) > 1 for a in alts) and re.fullmatch(r"[ACGTNacgtn]", cols[3]):
        ref = cols[3]
        deleted = [int(a[1:]) for a in alts if a[:1] == "D" and a[1:].isdigit()]
        if deleted:
            # Dn removes POS..POS+n-1: pad with the (unknown) base before POS.
            span = max(deleted)
            new_ref = "N" + ref + "N" * (span - 1)
            new_alts = []
            for a in alts:
                if a[:1] == "D" and a[1:].isdigit():
                    new_alts.append("N" + new_ref[1 + int(a[1:]) :])
                elif a[:1] == "I":
                    new_alts.append("N" + ref + a[1:] + new_ref[2:])
                else:
                    new_alts.append("N" + a + new_ref[2:])
            pos = int(cols[1]) if cols[1].isdigit() else 0
            cols[1], cols[3], cols[4] = str(max(pos - 1, 0)), new_ref, ",".join(new_alts)
        else:
            cols[4] = ",".join(ref + a[1:] if a[:1] == "I" else a for a in alts)
    return "\t".join(cols)


class VcfReader:
    """Header first (``header``), then ``blocks()``: (first line number, bytes of whole data lines)."""

    def __init__(self, path: Path, limits: EngineLimits | None = None, block_bytes: tuple[int, int] | None = None):
        self.path = Path(path)
        self.limits = limits or EngineLimits()
        self.block_bytes = block_bytes  # (first, largest); default (FIRST_BLOCK_BYTES, BLOCK_BYTES)
        self.compression = detect_compression(self.path)
        self.decompressed_bytes = 0
        self.input_bytes_read = 0  # of the file as stored (compressed or not)
        self.lines_seen = 0  # complete lines handed out (header included)
        self._chunks = self._read_chunks()
        self._pending = bytearray()  # bytes read but not yet handed out (starts at a line start)
        self.header = self._read_header()

    # -- raw bytes, with the decompressed-size cap

    def _read_chunks(self) -> Iterator[bytes]:
        size, largest = self.block_bytes or (FIRST_BLOCK_BYTES, BLOCK_BYTES)
        with open(self.path, "rb") as raw, self._decompressed(raw) as fh:
            while True:
                try:
                    chunk = fh.read(size)
                except EOFError:
                    raise VcfFormatError(
                        "compressed input ends early (truncated gzip file)", self._line_of_pending()
                    ) from None
                except (gzip.BadGzipFile, zlib.error, OSError):
                    raise VcfFormatError(
                        "cannot decompress the input (corrupt gzip data)", self._line_of_pending()
                    ) from None
                if not chunk:
                    return
                self.decompressed_bytes += len(chunk)
                if self.decompressed_bytes > self.limits.max_decompressed_bytes:
                    raise VcfFormatError(
                        f"the input is larger than {human_bytes(self.limits.max_decompressed_bytes)} "
                        "once decompressed (the limit for this account)",
                        self._line_of_pending(),
                    )
                self.input_bytes_read = raw.tell()
                yield chunk
                size = min(size * 4, largest)

    def _decompressed(self, raw: IO[bytes]) -> AbstractContextManager[IO[bytes] | gzip.GzipFile]:
        # The stored file is read through `raw`, so its position says how much of it
        # (compressed or not) has been read: the job's progress.
        if self.compression == "plain":
            return nullcontext(raw)
        return gzip.GzipFile(fileobj=raw, mode="rb")

    def _line_of_pending(self) -> int:
        return self.lines_seen + self._pending.count(b"\n") + 1

    def _fill(self) -> bool:
        """Read one more chunk into the pending bytes; False at end of input."""
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        had = len(self._pending)
        self._pending += chunk
        if (
            chunk.find(b"\n") < 0
            and self._pending.rfind(b"\n", 0, had) < 0
            and len(self._pending) > self.limits.max_line_bytes
        ):
            self._too_long()
        return True

    def _too_long(self) -> None:
        raise VcfFormatError(
            f"line is longer than {human_bytes(self.limits.max_line_bytes)} (the limit for this account)",
            self.lines_seen + 1,
        )

    # -- header

    def _next_line(self) -> str | None:
        """One header line (decoded, no line end), or None at end of input."""
        while True:
            cut = self._pending.find(b"\n")
            if cut >= 0:
                raw = bytes(self._pending[:cut])
                del self._pending[: cut + 1]
                break
            if not self._fill():
                if not self._pending:
                    return None
                raw = bytes(self._pending)
                self._pending.clear()
                break
        if len(raw) > self.limits.max_line_bytes:
            self._too_long()
        self.lines_seen += 1
        if b"\x00" in raw:
            raise VcfFormatError("binary data (NUL byte), not a text VCF", self.lines_seen)
        try:
            return raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise VcfFormatError("binary data (not UTF-8 text), not a text VCF", self.lines_seen) from None

    def _read_header(self) -> Header:
        first = self._next_line()
        if first is None:
            raise VcfFormatError("the file is empty", 1)
        m = re.match(r"^##fileformat=VCFv?(\d+\.\d+)\s*$", first)  # 'VCF4.1': bcftools reads it
        unsupported = "unsupported ##fileformat (VCFv3.3 or VCFv4.0 to VCFv4.5 expected)"
        if not m:
            if first.startswith("##fileformat="):
                raise VcfFormatError(unsupported, 1)
            raise VcfFormatError("no VCF header: the first line must be ##fileformat=VCFvX.Y", 1)
        version = m.group(1)
        if version not in SUPPORTED_VERSIONS:
            raise VcfFormatError(unsupported, 1)
        meta = [first]
        while True:
            line = self._next_line()
            n = self.lines_seen
            if line is None:
                raise VcfFormatError("no #CHROM header line", n)
            if line.startswith("##"):
                if version == "3.3":
                    v4 = _convert_v33_meta(line)
                    if v4 is not None:
                        line = v4
                if "=" not in line:  # '##free text': VCF 4.x meta lines are ##key=value
                    line = f"##comment={line[2:]}"
                meta.append(line)
            elif line.startswith("#"):
                # Some writers end the line with a tab: an empty sample name bcftools refuses.
                line = line.rstrip("\t")
                cols = line.split("\t")
                if cols[:8] != FIXED_COLUMNS:
                    raise VcfFormatError(
                        "header line must start #CHROM POS ID REF ALT QUAL FILTER INFO, tab-separated", n
                    )
                samples = max(0, len(cols) - 9)
                if len(cols) == 9 and cols[8] == "FORMAT":
                    line = "\t".join(FIXED_COLUMNS)  # FORMAT with no sample: bcftools refuses the header
                return Header(version, meta, line, n, samples)
            elif line.strip():
                raise VcfFormatError("data line before the #CHROM header line", n)
            # blank lines inside the header are dropped

    # -- data

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """Blocks of whole data lines: (line number of the first line, bytes ending in '\\n')."""
        while True:
            cut = self._pending.rfind(b"\n")
            if cut < 0:
                if not self._fill():
                    break
                continue
            block = bytes(self._pending[: cut + 1])
            del self._pending[: cut + 1]
            first = self.lines_seen + 1
            lines = block.count(b"\n")
            self._check_line_lengths(block, first)
            self.lines_seen += lines
            if self.header.version == "3.3":
                block = self._convert_v33_block(block, first)
            yield first, block
            if not self._fill():
                break
        if self._pending:
            block = bytes(self._pending) + b"\n"
            self._pending.clear()
            first = self.lines_seen + 1
            self._check_line_lengths(block, first)
            self.lines_seen += 1
            if self.header.version == "3.3":
                block = self._convert_v33_block(block, first)
            yield first, block

    def _check_line_lengths(self, block: bytes, first: int) -> None:
        if len(block) <= self.limits.max_line_bytes:
            return
        for k, line in enumerate(block.split(b"\n")):
            if len(line) > self.limits.max_line_bytes:
                raise VcfFormatError(
                    f"line is longer than {human_bytes(self.limits.max_line_bytes)} (the limit for this account)",
                    first + k,
                )

    def _convert_v33_block(self, block: bytes, first: int) -> bytes:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise VcfFormatError(
                "binary data (not UTF-8 text), not a text VCF", first + block[: exc.start].count(b"\n")
            ) from None
        lines = text.split("\n")
        return "\n".join(convert_v33_record(line.rstrip("\r")) if line else line for line in lines).encode()
