"""A Parquet file of Arrow record batches, one row group per batch (decision 135).

The pages are encoded in C (native.c's ``gas_pq_page``: levels and values straight from the
Arrow buffers) and compressed with zstd through one reused context (``gas_zstd``); the page
headers and the footer are Thrift compact structs written here. What it writes is what
Arrow's writer writes for the same options (pyarrow.parquet's defaults, format 2.6, data
pages v1, zstd level 1, no stored Arrow schema): PLAIN values, RLE levels, dictionary pages
and RLE_DICTIONARY indices for the columns given as dictionary columns, min/max statistics
for the columns given, the 3-level LIST layout (``list``/``element``); one data page per
column chunk. The columns may be int64, float64, bool, string, dictionary<int32, string> or
lists of those: the schema drives it.
"""

from __future__ import annotations

import ctypes
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pyarrow._compute import call_function

from gas.annotator.engine import textops

# Thrift compact field types, and Parquet's enums (parquet.thrift).
_BOOL, _I32, _I64, _BINARY, _LIST, _STRUCT = 1, 5, 6, 8, 9, 12
_BOOLEAN, _INT64, _DOUBLE, _BYTE_ARRAY = 0, 2, 5, 6
_REQUIRED, _OPTIONAL, _REPEATED = 0, 1, 2
_PLAIN, _RLE, _DELTA_BINARY_PACKED, _RLE_DICTIONARY, _ZSTD = 0, 3, 5, 8, 6
_DATA_PAGE, _DICTIONARY_PAGE = 0, 2
_UTF8, _LIST_CONVERTED = 0, 3
_PQ_NUMBER, _PQ_BOOL, _PQ_STRING, _PQ_INDEX, _PQ_DELTA = 0, 1, 2, 3, 4  # native.c's kinds
ZSTD_LEVEL = 1

Fields = list[tuple[int, int, Any]]  # a struct: (field id, compact type, value); None: absent


def _varint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _value(out: bytearray, kind: int, value: Any) -> None:
    if kind in (_I32, _I64):
        _varint(out, (value << 1) ^ (value >> 63))  # zigzag
    elif kind == _BINARY:
        data = value.encode() if isinstance(value, str) else value
        _varint(out, len(data))
        out += data
    elif kind == _STRUCT:
        if isinstance(value, bytes | bytearray):  # encoded already
            out += value
        else:
            thrift(out, value)
    else:  # a list: (item type, items)
        item, items = value
        out.append(len(items) << 4 | item if len(items) < 15 else 0xF0 | item)
        if len(items) >= 15:
            _varint(out, len(items))
        for v in items:
            _value(out, item, v)


def thrift(out: bytearray, fields: Fields, last: int = 0, stop: bool = True) -> bytearray:
    """A struct in the Thrift compact protocol, appended to out (fields in id order, after
    field ``last`` of a struct begun already; ``stop``: end the struct)."""
    for fid, kind, value in fields:
        if value is None:
            continue
        code = (1 if value else 2) if kind == _BOOL else kind
        if 0 < fid - last <= 15:
            out.append((fid - last) << 4 | code)
        else:
            out.append(code)
            _varint(out, fid << 1)
        last = fid
        if kind != _BOOL:
            _value(out, kind, value)
    if stop:
        out.append(0)
    return out


def _page_header(kind: int, size: int, packed: int, values: int, encoding: int) -> bytearray:
    """thrift() of a PageHeader with its DataPageHeader (RLE levels) or DictionaryPageHeader,
    written out: the one struct of every page."""
    out = bytearray()
    for v in (kind, size, packed):
        out.append(0x15)  # the next field, i32
        _varint(out, v << 1)
    out.append(0x2C if kind == _DATA_PAGE else 0x4C)  # field 5 or 7, a struct
    for v in (values, encoding, *((_RLE, _RLE) if kind == _DATA_PAGE else ())):
        out.append(0x15)
        _varint(out, v << 1)
    out += b"\0\0"
    return out


def _leaf_type(t: pa.DataType) -> tuple[int, int]:
    """(Parquet physical type, native.c kind) of a leaf's Arrow type."""
    if pa.types.is_dictionary(t) and pa.types.is_int32(t.index_type) and pa.types.is_string(t.value_type):
        return _BYTE_ARRAY, _PQ_INDEX
    kinds = {pa.int64(): (_INT64, _PQ_NUMBER), pa.float64(): (_DOUBLE, _PQ_NUMBER), pa.bool_(): (_BOOLEAN, _PQ_BOOL)}
    if pa.types.is_string(t):
        return _BYTE_ARRAY, _PQ_STRING
    if t not in kinds:
        raise TypeError(f"pqwrite: no Parquet encoding here for {t}")
    return kinds[t]


class _Column:
    """One leaf column of the schema: its schema elements, path, levels and the first fields
    of its ColumnMetaData."""

    def __init__(self, field: pa.Field, dictionary: bool, statistics: bool, delta: bool):
        self.name, t = field.name, field.type
        self.list = pa.types.is_list(t)
        leaf = t.value_field if self.list else field
        if self.list and not leaf.nullable:
            raise TypeError(f"pqwrite: {field.name}: list items must be nullable (Arrow's default)")
        self.physical, self.kind = _leaf_type(leaf.type)
        self.coded = self.kind == _PQ_INDEX  # dictionary-typed: the batch's dictionary is written
        self.dictionary = dictionary or self.coded
        if dictionary and not self.coded and (self.list or self.kind != _PQ_STRING):
            raise TypeError(f"pqwrite: {field.name}: dictionaries are made here for flat string columns only")
        if delta and not pa.types.is_int64(leaf.type):
            raise TypeError(f"pqwrite: {field.name}: DELTA_BINARY_PACKED is written here for int64 columns only")
        if delta:
            self.kind = _PQ_DELTA
        self.statistics = statistics
        self.max_def = int(field.nullable) + (2 if self.list else 0)
        path = [field.name, "list", "element"] if self.list else [field.name]
        string = self.physical == _BYTE_ARRAY
        element: Fields = [
            (1, _I32, self.physical),
            (3, _I32, _OPTIONAL if leaf.nullable else _REQUIRED),
            (4, _BINARY, path[-1]),
            (6, _I32, _UTF8 if string else None),
            (10, _STRUCT, [(1, _STRUCT, [])] if string else None),  # LogicalType STRING
        ]
        self.schema = [element]
        if self.list:
            group: Fields = [(3, _I32, _OPTIONAL if field.nullable else _REQUIRED), (4, _BINARY, field.name)]
            group += [(5, _I32, 1), (6, _I32, _LIST_CONVERTED), (10, _STRUCT, [(3, _STRUCT, [])])]  # LIST
            self.schema = [group, [(3, _I32, _REPEATED), (4, _BINARY, "list"), (5, _I32, 1)], element]
        self.encoding = _RLE_DICTIONARY if self.dictionary else _DELTA_BINARY_PACKED if delta else _PLAIN
        encodings = [*([_PLAIN] if self.dictionary else []), _RLE, self.encoding]  # in Arrow's order
        meta = [(1, _I32, self.physical), (2, _LIST, (_I32, encodings)), (3, _LIST, (_BINARY, path))]
        self.meta = thrift(bytearray(), [*meta, (4, _I32, _ZSTD)], stop=False)
        pages = [[(1, _I32, _DATA_PAGE), (2, _I32, self.encoding), (3, _I32, 1)]]
        if self.dictionary:
            pages.insert(0, [(1, _I32, _DICTIONARY_PAGE), (2, _I32, _PLAIN), (3, _I32, 1)])
        self.page_stats = [bytes(thrift(bytearray(), page)) for page in pages]  # encoding_stats


def _buffer(b: pa.Buffer | None) -> tuple[int | None, int]:
    return (None, 0) if b is None else (b.address, b.size)


def _view(array: pa.Array, kind: int, max_def: int = 0, items: bool = False) -> textops.PqColumn:
    """gas_pq_page's view of an array (of lists when ``items``); bitmaps left out when there
    are no nulls."""
    view = textops.PqColumn(kind=kind, max_def=max_def)
    if items:
        buffers = array.buffers()
        view.list_valid, view.list_valid_size = _buffer(buffers[0] if array.null_count else None)
        view.list_offsets, view.list_offsets_size = _buffer(buffers[1])
        view.list_offset = array.offset
        array = array.values
    if kind == _PQ_INDEX:
        view.dict_size = len(array.dictionary)
        array = array.indices
    buffers = array.buffers()
    view.valid, view.valid_size = _buffer(buffers[0] if array.null_count else None)
    if kind == _PQ_STRING:
        view.offsets, view.offsets_size = _buffer(buffers[1])
    view.data, view.data_size = _buffer(buffers[-1])
    view.offset = array.offset
    return view


def _statistics(values: pa.Array, nulls: int, physical: int) -> Fields:
    """min/max of the values (with their legacy fields for signed orders, as Arrow writes
    them) and the nulls."""
    bounds = call_function("min_max", [values]).as_py()
    fields: Fields = [(3, _I64, nulls)]
    if bounds["min"] is not None:
        if physical == _BYTE_ARRAY:
            low, high = bounds["min"].encode(), bounds["max"].encode()
        else:
            fmt = {_INT64: "<q", _DOUBLE: "<d", _BOOLEAN: "<?"}[physical]
            low, high = struct.pack(fmt, bounds["min"]), struct.pack(fmt, bounds["max"])
            fields = [(1, _BINARY, high), (2, _BINARY, low), *fields]
        fields += [(5, _BINARY, high), (6, _BINARY, low), (7, _BOOL, True), (8, _BOOL, True)]
    return fields


class ParquetFile:
    """Writes record batches of ``schema`` to ``path`` as row groups; ``close`` writes the
    footer with ``key_value`` metadata. ``dictionary``: the columns whose values are written
    as a dictionary page and indices (dictionary-typed columns always are, with the batch's
    dictionary); ``statistics``: the columns with min/max statistics."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        dictionary: tuple[str, ...],
        statistics: tuple[str, ...],
        delta: tuple[str, ...] = (),
        created_by: str = "GAS",
    ):
        self.schema = schema
        self.columns = [_Column(f, f.name in dictionary, f.name in statistics, f.name in delta) for f in schema]
        self._lib = textops._native()
        self._zstd = self._lib.gas_zstd_new()
        if not self._zstd:
            raise RuntimeError("pqwrite: libzstd.so.1 cannot be loaded (Debian: apt-get install libzstd1)")
        self._raw = self._packed = np.empty(0, np.uint8)
        self._table = np.empty(0, np.int32)  # gas_pq_dict's hash table
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close() or abort()
        self._file.write(b"PAR1")
        self._at = 4
        self._row_groups: list[Fields] = []
        self.rows = 0
        self.created_by = created_by

    def _grown(self, buffer: np.ndarray, need: int) -> np.ndarray:
        return buffer if buffer.size >= need else np.empty(max(need, 2 * buffer.size, 1 << 20), np.uint8)

    def _compress(self, size: int) -> int:
        """self._raw[:size] zstd-compressed into self._packed: gas_zstd's result."""
        packed = self._packed
        return int(
            self._lib.gas_zstd(self._zstd, self._raw.ctypes.data, size, ZSTD_LEVEL, packed.ctypes.data, packed.size)
        )

    def _page(self, view: textops.PqColumn, rows: int, kind: int, encoding: int) -> tuple[int, int, int]:
        """Writes one page of the rows: (its levels, its bytes with the header, uncompressed
        and as written)."""
        levels = ctypes.c_int64()
        while (size := self._lib.gas_pq_page(view, rows, self._raw.ctypes.data, self._raw.size, levels)) < -1:
            self._raw = self._grown(self._raw, -size)
        if size < 0 or size > 0x7FFFFFFF:
            raise ValueError("pqwrite: an Arrow array's buffers do not hold its offsets, indices or levels")
        while (packed := self._compress(size)) < -1:
            self._packed = self._grown(self._packed, -packed)
        if packed < 0:
            raise ValueError(f"pqwrite: zstd failed on a page of {size} bytes")
        head = _page_header(kind, size, packed, levels.value, encoding)
        self._file.write(head)
        self._file.write(self._packed[:packed].data)
        self._at += len(head) + packed
        return levels.value, len(head) + size, len(head) + packed

    def _codes(self, array: pa.Array, max_def: int) -> tuple[textops.PqColumn, pa.Array, np.ndarray]:
        """A string array as dictionary codes (gas_pq_dict, in C: Arrow's writer hashes these
        too): their view, the dictionary, and the codes (which the view points into)."""
        n, at = len(array), array.offset
        buffers = array.buffers()
        if self._table.size <= n:
            self._table = np.full(1 << n.bit_length() + 1, -1, np.int32)  # all empty
        codes, firsts = np.empty(at + n, np.int32), np.empty(n, np.int32)
        valid, valid_size = _buffer(buffers[0] if array.null_count else None)
        used = self._lib.gas_pq_dict(
            *_buffer(buffers[1]), *_buffer(buffers[2]), valid, valid_size, at, n, codes, codes.nbytes, firsts,
            self._table, self._table.size,
        )  # fmt: skip
        if used < 0:
            raise ValueError("pqwrite: a string array's offsets lie outside its buffers")
        view = textops.PqColumn(kind=_PQ_INDEX, max_def=max_def, dict_size=used, offset=at)
        view.valid, view.valid_size, view.data, view.data_size = valid, valid_size, codes.ctypes.data, codes.nbytes
        return view, call_function("take", [array, pa.array(firsts[:used])]), codes

    def _chunk(self, column: _Column, array: pa.Array, rows: int) -> tuple[bytearray, int, int]:
        """Writes one column chunk: (its ColumnChunk, its bytes uncompressed, as written)."""
        codes = None  # kept until the page is written
        if column.dictionary and not column.coded:
            view, words, codes = self._codes(array, column.max_def)
        else:
            view = _view(array, column.kind, column.max_def, column.list)
            words = (array.values if column.list else array).dictionary if column.coded else None
        stats = None
        if column.statistics:
            values = array.dictionary_decode() if column.coded else words if words is not None else array
            stats = _statistics(values, array.null_count, column.physical)
        first = self._at
        size = packed = 0
        if words is not None:
            if words.null_count:
                raise ValueError(f"pqwrite: {column.name}: a null in the dictionary")
            _, size, packed = self._page(_view(words, _PQ_STRING), len(words), _DICTIONARY_PAGE, _PLAIN)
        data = self._at
        levels, u, p = self._page(view, rows, _DATA_PAGE, column.encoding)
        del codes
        size, packed = size + u, packed + p
        meta: Fields = [(5, _I64, levels), (6, _I64, size), (7, _I64, packed), (9, _I64, data)]
        meta += [(11, _I64, first if column.dictionary else None), (12, _STRUCT, stats)]
        meta_bytes = thrift(bytearray(column.meta), [*meta, (13, _LIST, (_STRUCT, column.page_stats))], last=4)
        return thrift(bytearray(), [(2, _I64, 0), (3, _STRUCT, meta_bytes)]), size, packed

    def write(self, batch: pa.RecordBatch) -> None:
        """One row group of the batch's rows."""
        if batch.schema.types != self.schema.types:
            raise TypeError(f"pqwrite: a batch of {batch.schema} for a file of {self.schema}")
        start, chunks, size, packed = self._at, [], 0, 0
        for column, array in zip(self.columns, batch.columns, strict=True):
            chunk, u, p = self._chunk(column, array, batch.num_rows)
            chunks.append(chunk)
            size, packed = size + u, packed + p
        group = [(1, _LIST, (_STRUCT, chunks)), (2, _I64, size), (3, _I64, batch.num_rows), (5, _I64, start)]
        self._row_groups.append([*group, (6, _I64, packed), (7, _I32, len(self._row_groups))])
        self.rows += batch.num_rows

    def close(self, key_value: dict[str, str]) -> None:
        """Writes the footer and closes the file."""
        if self._file.closed:
            return
        try:
            schema: list[Fields] = [[(4, _BINARY, "schema"), (5, _I32, len(self.columns))]]
            for column in self.columns:
                schema += column.schema
            footer = thrift(
                bytearray(),
                [
                    (1, _I32, 2),  # format 2.x
                    (2, _LIST, (_STRUCT, schema)),
                    (3, _I64, self.rows),
                    (4, _LIST, (_STRUCT, self._row_groups)),
                    (5, _LIST, (_STRUCT, [[(1, _BINARY, k), (2, _BINARY, v)] for k, v in key_value.items()])),
                    (6, _BINARY, self.created_by),
                    (7, _LIST, (_STRUCT, [[(1, _STRUCT, [])] for _ in self.columns])),  # TypeDefinedOrder
                ],
            )
            self._file.write(footer + struct.pack("<I", len(footer)) + b"PAR1")
        finally:
            self.abort()

    def abort(self) -> None:
        """Closes the file without a footer (a failed job's: not a Parquet file)."""
        self._file.close()
        if self._zstd:
            self._lib.gas_zstd_free(self._zstd)
            self._zstd = None
