"""Exports of a variant table: TSV and CSV built column-wise from Arrow batches, the
VCF's matching records streamed, and how many exports run at once."""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gas.web.variants.table import LIST_COLUMNS

FORMATS = ("tsv", "csv", "vcf")
ExportFormat = Literal["tsv", "csv", "vcf"]


# -- formatting ----------------------------------------------------------------------
# A text cell a spreadsheet would run as a formula (OWASP, CSV injection): it starts with
# = + - @, a tab or a carriage return. Such cells get a leading ' (shown as text, the
# value after it intact); numeric columns are numbers and stay as they are, negatives too.
_FORMULA_START = r"^([=+\-@\t\r])"


def _text_columns(batch: pa.RecordBatch) -> list[pa.Array]:
    """Each column (COLUMNS, then any a deployment's sources added) as text (lists joined
    with ',', numbers and flags as text, formula-like text cells neutralised); nulls stay
    null and are written empty."""
    out = []
    for name in batch.schema.names:
        column = batch.column(name)
        if name in LIST_COLUMNS or pa.types.is_list(column.type):
            column = pc.binary_join(column, ",")
        if pa.types.is_string(column.type):
            column = pc.replace_substring_regex(column, _FORMULA_START, "'\\1", max_replacements=1)
        else:
            column = pc.cast(column, pa.string())
        out.append(column)
    return out


_NULL_IS_EMPTY = pc.JoinOptions(null_handling="replace", null_replacement="")

# What the rows were annotated with, after the table's columns in TSV and CSV: the same value
# on every row (columns, not comment lines: spreadsheets and pandas read the file as it is).
PROVENANCE = ("annotation_database", "annotation_sources")


def provenance(metadata: Mapping[str, str], database_version: str | None) -> tuple[str, str]:
    """The PROVENANCE values of a table, from the engine's metadata (what the annotated VCF's
    ##GAS_annotation and ##GAS_source lines say): the database's version, and its source
    (a genes-only database's package, a bundle's gene model and FASTA) with each added
    source's name and version. `database_version` (the job's) when the table has none."""
    sources = [metadata["gas.source"]] if metadata.get("gas.source") else []
    try:
        added = json.loads(metadata.get("gas.sources") or "[]")
    except ValueError:
        added = []
    sources += [f"{s['name']} {s.get('version', '')}".strip() for s in added if isinstance(s, dict) and s.get("name")]
    return _cell(metadata.get("gas.database") or database_version or ""), _cell("; ".join(sources))


def _cell(text: str) -> str:
    """One text cell: no tab or line break, and never a formula (as _text_columns)."""
    return re.sub(_FORMULA_START, "'\\1", re.sub(r"[\t\r\n]+", " ", text), count=1)


def tsv_bytes(batch: pa.RecordBatch, extra: tuple[str, ...] = ()) -> bytes:
    """The batch as TSV lines, built column-wise (no per-row Python): each line is one
    string of the joined array, so the array's data buffer is the text. `extra`: cells
    that end every line (PROVENANCE's)."""
    columns = _text_columns(batch)
    end = "".join(f"\t{cell}" for cell in extra) + "\n"
    columns[-1] = pc.binary_join_element_wise(columns[-1], pa.scalar(end), "", options=_NULL_IS_EMPTY)
    lines = pc.binary_join_element_wise(*columns, "\t", options=_NULL_IS_EMPTY)
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    data = lines.buffers()[2]
    if data is None:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()


def csv_bytes(batch: pa.RecordBatch, extra: tuple[str, ...] = ()) -> bytes:
    """The batch as CSV rows (RFC 4180 quoting where needed; null as empty), each ending
    with the `extra` cells."""
    columns = _text_columns(batch) + [pa.repeat(cell, batch.num_rows) for cell in extra]
    table = pa.RecordBatch.from_arrays(columns, names=[*batch.schema.names, *PROVENANCE[: len(extra)]])
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return out.getvalue()


CONTENT_TYPES = {
    "tsv": "text/tab-separated-values; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "vcf": "text/plain; charset=utf-8",
}


# -- how many exports at once ---------------------------------------------------------
class ExportSlots:
    """At most `limit` exports streaming at once in this process: each holds a server
    thread and a few batches of memory for as long as its client takes to read."""

    def __init__(self, limit: int):
        self._free = threading.BoundedSemaphore(limit)

    def take(self, chunks: Iterator[bytes]) -> Iterator[bytes] | None:
        """`chunks` holding a slot until they end or are closed; None when every slot is taken."""
        if not self._free.acquire(blocking=False):
            return None
        return _Held(chunks, self._free.release)


class _Held:
    """An export's chunks and its slot: freed at the end, on an error or when the server
    closes the response (a client gone mid-way)."""

    def __init__(self, chunks: Iterator[bytes], release: Any):
        self._chunks = chunks
        self._release = release

    def __iter__(self) -> _Held:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            try:
                getattr(self._chunks, "close", lambda: None)()
            finally:
                release()


MAX_CARRY = 1 << 20  # longest part of a line kept between chunks; a longer line streams through


class _Wanted:
    """The data lines to keep, pulled from ascending arrays of record indices as needed."""

    def __init__(self, records: Iterator[np.ndarray]):
        self._records = records
        self._pending = np.zeros(0, dtype=np.int64)
        self._highest = -1
        self._exhausted = False

    def below(self, end: int) -> np.ndarray:
        """The wanted line numbers before `end` not taken yet (taken now)."""
        while not self._exhausted and (self._pending.size == 0 or self._pending[-1] < end):
            nxt = next(self._records, None)
            if nxt is None:
                self._exhausted = True
                break
            # A record's ALTs may straddle two batches: each record once.
            nxt = nxt.astype(np.int64)
            nxt = nxt[nxt > self._highest]
            if nxt.size:
                self._highest = int(nxt[-1])
                self._pending = np.concatenate([self._pending, nxt])
        here = self._pending[self._pending < end]
        self._pending = self._pending[self._pending >= end]
        return here

    @property
    def done(self) -> bool:
        return self._exhausted and self._pending.size == 0


def select_vcf_records(chunks: Iterable[bytes], records: Iterator[np.ndarray]) -> Iterator[bytes]:
    """The header of a VCF streamed in `chunks`, then only its data lines whose 0-based
    index is in `records` (ascending arrays, as the table's batches give them).

    Memory stays bounded whatever the file's size: one chunk and at most MAX_CARRY of a
    line are held; a longer line is passed through or skipped piece by piece; reading
    stops once the last wanted line is out."""
    wanted = _Wanted(records)
    line_no = 0  # data lines seen
    in_header = True
    rest = b""  # the start of a line continued in the next chunk
    through: bool | None = None  # a line longer than MAX_CARRY under way: written or skipped

    def keep(line_start: bytes) -> bool:
        """Whether the line starting with these bytes is written (and count it)."""
        nonlocal in_header, line_no
        if in_header and line_start.startswith(b"#"):
            return True
        in_header = False
        line_no += 1
        return bool(wanted.below(line_no).size)

    for chunk in itertools.chain(_chunked(chunks), [None]):
        if chunk is None:  # the end: a last line without a newline
            if through:
                yield b"\n"
            if not rest:
                break
            chunk = b"\n"
        if through is not None:
            cut = chunk.find(b"\n")
            if through:
                yield chunk if cut < 0 else chunk[: cut + 1]
            if cut < 0:
                continue
            through, chunk = None, chunk[cut + 1 :]
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest += chunk
        else:
            text, rest = rest + chunk[: cut + 1], chunk[cut + 1 :]
            lines = text.split(b"\n")
            lines.pop()  # after the last newline
            if in_header:
                k = 0
                while k < len(lines) and lines[k].startswith(b"#"):
                    k += 1
                if k:
                    yield b"\n".join(lines[:k]) + b"\n"
                if k < len(lines):
                    in_header = False
                lines = lines[k:]
            if lines:
                here = wanted.below(line_no + len(lines)) - line_no
                line_no += len(lines)
                if here.size:
                    yield b"\n".join(lines[int(i)] for i in here) + b"\n"
        if len(rest) > MAX_CARRY:
            through = keep(rest)
            if through:
                yield rest
            rest = b""
        if not through and not in_header and wanted.done:
            break


def _chunked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:
            yield chunk
