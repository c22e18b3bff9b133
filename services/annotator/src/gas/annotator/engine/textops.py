"""Vectorised operations on text held as numpy byte arrays.

A block of VCF lines stays one ``uint8`` array; fields are (start, length) pairs into it, and
output text is assembled by ``gather`` from pieces of source arrays. This keeps the
per-record work in numpy and in the compiled kernels of ``native.c`` (``split_lines``,
``gather_columns``, ``lookup``, ``first_occurrences``, ``format_uint``, called through
ctypes) instead of Python objects.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

IUPAC = b"ACGTNRYSWKMBDHVacgtnryswkmbdhv"  # bases a REF or a sequence ALT may hold


def byte_table(members: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(members, dtype=np.uint8)] = True
    return table


IS_BASE = byte_table(IUPAC)
IS_ALT_FAST = byte_table(IUPAC + b",")
UPPER = np.arange(256, dtype=np.uint8)
UPPER[ord("a") : ord("z") + 1] -= 32


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (``np.unique`` without options), by sorting: numpy 2's
    ``np.unique`` asks ``np.ma.is_masked`` first, which imports numpy.ma (~10 ms of a start)."""
    s = np.sort(np.asarray(values).ravel())
    keep = np.ones(s.size, dtype=bool)
    keep[1:] = s[1:] != s[:-1]
    return s[keep]


def gather(src: Any, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``src[starts[i] : starts[i] + lengths[i]]`` over i (arrays flattened, C order)."""
    return gather_columns([(src, starts, lengths)])


Column = tuple[Any, np.ndarray, np.ndarray]  # (source, starts, lengths): one piece per row


class Indexed(NamedTuple):
    """A column of strings of a table by index: row i's piece is string ``at[i]`` of the
    table (none where it is < 0); the table is an Arrow string array's data and offsets."""

    data: Any
    offsets: np.ndarray  # int32, one more than the table's strings
    at: np.ndarray  # the string of each row


def gather_columns(columns: Sequence[Column | Indexed | None], row_ends: np.ndarray | None = None) -> np.ndarray:
    """Concatenation over rows i, then columns p, of ``source_p[starts_p[i] : + lengths_p[i]]``
    (an ``Indexed`` column: of its table's string ``at_p[i]``).

    Each column has its own source (a numpy byte array, a ``pyarrow.Buffer`` or ``bytes``) and
    one piece per row (a piece of length <= 0 is empty; a None column is absent): an output
    line is its pieces from the block, from tables of built text and from constants, copied
    once by ``native.c`` without the GIL. Every piece is checked against its source (and every
    index against its table) first, so no array content makes the C code read outside one.
    ``row_ends``, when given (int64, one per row), receives where each row ends in the output.
    """
    present = [c for c in columns if c is not None]
    views = [_bytes_view(c[0]) for c in present]
    tables = [np.ascontiguousarray(c.offsets, dtype=np.int32) if isinstance(c, Indexed) else None for c in present]
    starts = [np.ascontiguousarray(c[2] if isinstance(c, Indexed) else c[1], dtype=np.int64).ravel() for c in present]
    lengths = [
        s if isinstance(c, Indexed) else np.ascontiguousarray(c[2], dtype=np.int64).ravel()
        for c, s in zip(present, starts, strict=True)
    ]
    rows = {a.size for a in starts + lengths}
    if len(rows) > 1:
        raise ValueError("gather: every column needs one piece per row")
    n, k = (rows.pop() if rows else 0), len(present)
    lib = _native()
    sizes = np.array([v.size for v in views], dtype=np.int64)
    strings = np.array([0 if t is None else t.size - 1 for t in tables], dtype=np.int64)
    start_ptrs, length_ptrs, table_ptrs = _Int64Arrays(starts, n), _Int64Arrays(lengths, n), _Int32Arrays(tables)
    total = lib.gas_gather_size(n, k, sizes, strings, start_ptrs, length_ptrs, table_ptrs)
    if total < 0:
        raise IndexError(f"gather: a piece of column {-total - 1} lies outside its source or table")
    out = np.empty(total, dtype=np.uint8)
    if row_ends is not None and row_ends.size != n:
        raise ValueError(f"gather: {row_ends.size} row ends for {n} rows")
    if total or row_ends is not None:
        lib.gas_gather(n, k, _ByteArrays(views), start_ptrs, length_ptrs, table_ptrs, out, row_ends)
    return out


def count_byte(b: np.ndarray, value: int) -> int:
    """How many bytes of ``b`` (a uint8 array) are ``value`` (compiled: no array of the block's size)."""
    return int(_native().gas_count_byte(_bytes_view(b), b.size, value))


@dataclass
class SplitLines:
    """The data lines of a block (``native.c``: gas_split_lines)."""

    start: np.ndarray
    end: np.ndarray  # exclusive, a final CR dropped
    index: np.ndarray  # line number in the block (blank lines counted)
    bound: np.ndarray  # (9, n): see block.Lines.bound
    chrom_key: np.ndarray  # CHROM as key_of() has it (0: longer than 8 bytes)
    pos: np.ndarray  # POS; -1 when not 1 to 10 digits
    blank: int
    nul_at: int  # offset of the first NUL byte, -1: none (then nothing else was split)
    high: bool  # a byte >= 0x80: check the block is UTF-8
    short_line: int  # line number in the block of the first line with < 8 columns, -1: none
    short_tabs: int


def split_lines(b: np.ndarray) -> SplitLines:
    """Lines, columns, CHROM keys and POS of a block of whole lines, in one compiled pass."""
    lib = _native()
    b = _bytes_view(b)
    nul_at, high = ctypes.c_int64(), ctypes.c_int64()
    lib.gas_scan_bytes(b, b.size, ctypes.byref(nul_at), ctypes.byref(high))
    cap = count_byte(b, 10) if nul_at.value < 0 else 0
    start, end, index, pos = (np.empty(cap, dtype=np.int64) for _ in range(4))
    bound = np.empty((9, cap), dtype=np.int64)
    chrom_key = np.empty(cap, dtype=np.uint64)
    status = np.zeros(3, dtype=np.int64)
    n = 0
    if cap:
        n = lib.gas_split_lines(b, b.size, cap, start, end, index, bound, chrom_key, pos, status)
    return SplitLines(
        start[:n], end[:n], index[:n], bound[:, :n], chrom_key[:n], pos[:n],
        int(status[0]), int(nul_at.value), bool(high.value), int(status[1]) if cap else -1, int(status[2]),
    )  # fmt: skip


def _bytes_view(src: Any) -> np.ndarray:
    """A uint8 view of a numpy array, a pyarrow Buffer or bytes (no copy)."""
    if isinstance(src, np.ndarray):
        if src.dtype != np.uint8 or not src.flags.c_contiguous:
            raise ValueError("gather sources must be contiguous uint8 arrays")
        return src
    return np.frombuffer(src, dtype=np.uint8) if len(src) else _EMPTY


_EMPTY = np.zeros(1, dtype=np.uint8)[:0]


class _PointerArray:
    """A ``const T *const *`` argument: a C array of pointers to 1-D arrays of ``ctype``.

    Each array is checked as an ndpointer argument is (dtype, one dimension, C order) and,
    when ``rows`` is given, for the ``rows`` entries the C code reads; the arrays are kept
    alive with it; a None is a NULL pointer. As an argtype, the class refuses anything but an
    instance of itself."""

    ctype: Any = None

    def __init__(self, arrays: Sequence[np.ndarray | None], rows: int | None = None):
        check = np.ctypeslib.ndpointer(np.dtype(self.ctype), ndim=1, flags="C_CONTIGUOUS")
        for a in arrays:
            if a is None:
                continue
            check.from_param(a)  # TypeError on another dtype, shape or layout
            if rows is not None and a.size != rows:
                raise ValueError(f"{type(self).__name__}: an array of {a.size} entries where {rows} are read")
        self._arrays = list(arrays)
        pointer = ctypes.POINTER(self.ctype)
        self._as_parameter_ = (pointer * len(arrays))(
            *(pointer() if a is None else a.ctypes.data_as(pointer) for a in arrays)
        )

    @classmethod
    def from_param(cls, value: Any) -> Any:
        if not isinstance(value, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(value).__name__}")
        return value._as_parameter_


class _Int64Arrays(_PointerArray):
    ctype = ctypes.c_int64


class _ByteArrays(_PointerArray):
    ctype = ctypes.c_uint8


class _Int32Arrays(_PointerArray):
    ctype = ctypes.c_int32


def _array(dtype: Any, ndim: int = 1, out: bool = False) -> Any:
    """An array argument: its dtype, dimensions and C order checked on each call (and that
    it is writable, for an output), its data pointer passed."""
    return np.ctypeslib.ndpointer(dtype, ndim=ndim, flags=("C_CONTIGUOUS", "WRITEABLE") if out else "C_CONTIGUOUS")


_NATIVE: ctypes.CDLL | None = None
_I64 = ctypes.c_int64
_BYTES, _INT64S = _array(np.uint8), _array(np.int64)
_BYTES_OUT, _INT64S_OUT = _array(np.uint8, out=True), _array(np.int64, out=True)


class _OptionalInt64sOut:
    """An int64 output array argument (checked as ``_INT64S_OUT``) or None, a NULL pointer."""

    @staticmethod
    def from_param(value: Any) -> Any:
        return None if value is None else _INT64S_OUT.from_param(value)


# native.c's functions: (argument types, result type)
_SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "gas_gather_size": ([_I64, _I64, _INT64S, _INT64S, _Int64Arrays, _Int64Arrays, _Int32Arrays], _I64),
    "gas_gather": (
        [_I64, _I64, _ByteArrays, _Int64Arrays, _Int64Arrays, _Int32Arrays, _BYTES_OUT, _OptionalInt64sOut],
        None,
    ),
    "gas_scan_bytes": ([_BYTES, _I64, ctypes.POINTER(_I64), ctypes.POINTER(_I64)], None),
    "gas_count_byte": ([_BYTES, _I64, ctypes.c_int], _I64),
    "gas_split_lines": (
        [_BYTES, _I64, _I64, _INT64S_OUT, _INT64S_OUT, _INT64S_OUT, _array(np.int64, 2, out=True)]
        + [_array(np.uint64, out=True), _INT64S_OUT, _INT64S_OUT],
        _I64,
    ),
    "gas_lookup": ([_INT64S, _I64, _INT64S, _I64, ctypes.c_int, _INT64S_OUT], None),
    "gas_first_occurrences": ([_INT64S, _I64, _INT64S_OUT, _I64, _INT64S_OUT, _INT64S_OUT], _I64),
    "gas_format_uint": ([_INT64S, _I64, _BYTES_OUT, _INT64S_OUT, _INT64S_OUT], None),
}


# effects.py's kernel (native.c's last section), declared apart so that new kernels of other
# areas do not meet it in the table above.
_SIGNATURES["gas_tx_classify"] = (
    [_I64, _INT64S, _INT64S, _array(np.int8), _INT64S, _I64, _INT64S, _INT64S, _I64, _I64, _I64, _INT64S, _INT64S]
    + [_I64, *[_INT64S_OUT] * 6],
    _I64,
)


class SnvTables(ctypes.Structure):
    """gas_change_effect's view of a bundle (native.c's gas_snv_tables): its arrays' pointers and
    sizes, each array checked once here (dtype, order, size, the offsets within their tables),
    and kept alive with it."""

    _fields_ = [
        ("n_tx", _I64),
        *((name, ctypes.POINTER(ctypes.c_int64)) for name in ("tx_start", "tx_end")),
        ("tx_strand", ctypes.POINTER(ctypes.c_int8)),
        ("tx_flags", ctypes.POINTER(ctypes.c_uint8)),
        ("tx_phase", ctypes.POINTER(ctypes.c_int8)),
        ("exon_off", ctypes.POINTER(ctypes.c_int64)),
        ("n_exons", _I64),
        *((name, ctypes.POINTER(ctypes.c_int64)) for name in ("exon_start", "exon_end", "cds_off")),
        ("n_cds", _I64),
        *((name, ctypes.POINTER(ctypes.c_int64)) for name in ("cds_start", "cds_end")),
        ("seq", ctypes.POINTER(ctypes.c_uint8)),
        ("n_contigs", _I64),
        ("seq_off", ctypes.POINTER(ctypes.c_int64)),
        *((name, ctypes.POINTER(ctypes.c_uint8)) for name in ("id_data", "pid_data")),
        *((name, ctypes.POINTER(ctypes.c_int32)) for name in ("id_off", "pid_off")),
    ]

    def __init__(
        self, a: dict[str, np.ndarray], ids: tuple[np.ndarray, np.ndarray], pids: tuple[np.ndarray, np.ndarray]
    ):
        n_tx, n_exons, n_cds, n_contigs = (
            a["tx_start"].size,
            a["exon_start"].size,
            a["cds_start"].size,
            a["seq_offsets"].size - 1,
        )
        sizes = {
            "tx_start": (np.int64, n_tx), "tx_end": (np.int64, n_tx), "tx_strand": (np.int8, n_tx),
            "tx_flags": (np.uint8, n_tx), "tx_phase": (np.int8, n_tx), "tx_exon_offsets": (np.int64, n_tx + 1),
            "exon_start": (np.int64, n_exons), "exon_end": (np.int64, n_exons), "tx_cds_offsets": (np.int64, n_tx + 1),
            "cds_start": (np.int64, n_cds), "cds_end": (np.int64, n_cds), "seq_offsets": (np.int64, n_contigs + 1),
        }  # fmt: skip
        arrays = {name: a[name] for name in sizes}
        for name, (dtype, size) in sizes.items():
            _array(dtype).from_param(arrays[name])  # TypeError on another dtype or layout
            if arrays[name].size != size:
                raise ValueError(f"snv tables: {name} has {arrays[name].size} entries, not {size}")
        seq = _bytes_view(a["seq"])
        offsets = arrays["seq_offsets"]
        if n_contigs < 0 or offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != seq.size:
            raise ValueError("snv tables: the contigs' offsets do not cover the sequence")
        for data, off in (ids, pids):
            _array(np.uint8).from_param(data)
            _array(np.int32).from_param(off)
            if off.size != n_tx + 1 or off[0] < 0 or (np.diff(off) < 0).any() or off[-1] > data.size:
                raise ValueError("snv tables: a transcript's id lies outside its table")
        self._keep = (arrays, seq, ids, pids)

        def ptr(x: np.ndarray, ctype: Any) -> Any:
            return x.ctypes.data_as(ctypes.POINTER(ctype))

        super().__init__(
            n_tx, ptr(arrays["tx_start"], ctypes.c_int64), ptr(arrays["tx_end"], ctypes.c_int64),
            ptr(arrays["tx_strand"], ctypes.c_int8), ptr(arrays["tx_flags"], ctypes.c_uint8),
            ptr(arrays["tx_phase"], ctypes.c_int8), ptr(arrays["tx_exon_offsets"], ctypes.c_int64), n_exons,
            ptr(arrays["exon_start"], ctypes.c_int64), ptr(arrays["exon_end"], ctypes.c_int64),
            ptr(arrays["tx_cds_offsets"], ctypes.c_int64), n_cds, ptr(arrays["cds_start"], ctypes.c_int64),
            ptr(arrays["cds_end"], ctypes.c_int64), ptr(seq, ctypes.c_uint8), n_contigs,
            ptr(offsets, ctypes.c_int64), ptr(ids[0], ctypes.c_uint8), ptr(pids[0], ctypes.c_uint8),
            ptr(ids[1], ctypes.c_int32), ptr(pids[1], ctypes.c_int32),
        )  # fmt: skip


_I8S = _array(np.int8)
_SIGNATURES["gas_tx_entries"] = (
    [_I64, _INT64S, _INT64S, _I8S, _BYTES, _I8S, _INT64S, _INT64S, _INT64S, _ByteArrays, _Int32Arrays]
    + [_BYTES, _INT64S, _INT64S, ctypes.POINTER(SnvTables), _I64]  # words, ranks, gas_change_effect's tables
    + [_I64, _BYTES, _INT64S, _INT64S, _BYTES, _BYTES, _INT64S, _INT64S, _BYTES, *[_INT64S] * 3]  # changes
    + [_I64, *[_INT64S] * 8, _I64, _BYTES, _INT64S, _INT64S, _I64, _INT64S]  # rows, pieces, pick fields
    + [_I64, _INT64S, _INT64S, _INT64S, _I64, _BYTES, _INT64S, _INT64S]  # records, INFO names
    + [_BYTES_OUT, _I64, *[_INT64S_OUT] * 6, _BYTES_OUT, _I64, *[_INT64S_OUT] * 10],
    _I64,
)
CHANGE_CAP = 4096  # the room gas_tx_entries first offers each gas_change_effect call


# sources.py's kernel (native.c's sources section), declared apart for the same reason.
_SIGNATURES["gas_source_alleles"] = ([_BYTES, _I64, *[_INT64S] * 5, _I64, ctypes.c_int, *[_INT64S_OUT] * 9], _I64)
_SIGNATURES["gas_source_lookup"] = (
    [_I64, _INT64S, _BYTES, _I64, _INT64S, _I64, _INT64S, _BYTES, _INT64S, _INT64S, _INT64S_OUT],
    None,
)
_SIGNATURES["gas_bed_scan"] = ([_BYTES, _I64, ctypes.c_char_p, _I64, _I64, _I64, *[_INT64S_OUT] * 5], _I64)
_SIGNATURES["gas_info_values"] = (
    [_BYTES, _I64, _INT64S, _INT64S, ctypes.c_char_p, _I64, _INT64S, _INT64S_OUT, _INT64S_OUT],
    None,
)

# effects.py's INFO check.
_SIGNATURES["gas_odd_info"] = ([_BYTES, _I64, _I64, _INT64S_OUT], _I64)


class PqColumn(ctypes.Structure):
    """gas_pq_page's view of an Arrow array (native.c's gas_pq_column): its buffers' addresses
    and sizes in bytes, checked in C (pqwrite.py fills it)."""

    _fields_ = [
        ("list_valid", ctypes.c_void_p),
        ("list_offsets", ctypes.c_void_p),
        *((name, _I64) for name in ("list_valid_size", "list_offsets_size", "list_offset")),
        *((name, ctypes.c_void_p) for name in ("valid", "data", "offsets")),
        *(
            (name, _I64)
            for name in ("valid_size", "data_size", "offsets_size", "offset", "kind", "dict_size", "max_def")
        ),
    ]


# pqwrite.py's kernels (native.c's last section).
# Buffers as addresses with their sizes (checked in C): ndpointer's checks on every call
# cost more than encoding a small column's page.
_SIGNATURES["gas_pq_page"] = ([ctypes.POINTER(PqColumn), _I64, ctypes.c_void_p, _I64, ctypes.POINTER(_I64)], _I64)
_SIGNATURES["gas_pq_dict"] = (
    [ctypes.c_void_p, _I64, ctypes.c_void_p, _I64, ctypes.c_void_p, _I64, _I64, _I64]
    + [_array(np.int32, out=True), _I64, _array(np.int32, out=True), _array(np.int32, out=True), _I64],
    _I64,
)
_SIGNATURES["gas_zstd_new"] = ([], ctypes.c_void_p)
_SIGNATURES["gas_zstd_free"] = ([ctypes.c_void_p], None)
_SIGNATURES["gas_zstd"] = ([ctypes.c_void_p, ctypes.c_void_p, _I64, ctypes.c_int, ctypes.c_void_p, _I64], _I64)


def load_kernels(path: Path) -> ctypes.CDLL:
    """A build of ``native.c`` with its functions' argument and result types declared."""
    lib = ctypes.CDLL(str(path))
    for name, (arguments, result) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = arguments, result
    return lib


def _native() -> ctypes.CDLL:
    """The compiled kernels (``native.c``, built with the package: hatch_build.py)."""
    global _NATIVE
    if _NATIVE is None:
        _NATIVE = load_kernels(Path(__file__).with_name("_native.so"))
    return _NATIVE


def first_occurrences(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reps, group): rows with equal keys form a group, numbered in the order groups first
    appear; reps[g] is the first row of group g (ascending), group[i] the group of row i.
    Compiled (``native.c``: a hash table, one pass)."""
    keys = np.ascontiguousarray(keys, dtype=np.int64).ravel()
    n = keys.size
    capacity = 1 << max(4, (2 * n).bit_length())
    slots = np.full(capacity, -1, dtype=np.int64)
    reps, group = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    lib = _native()
    count = lib.gas_first_occurrences(keys, n, slots, capacity, reps, group)
    return reps[:count], group


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """Start offsets of consecutive pieces with these lengths (exclusive prefix sum)."""
    out = np.zeros(lengths.size, dtype=np.int64)
    if lengths.size > 1:
        np.cumsum(lengths[:-1], out=out[1:])
    return out


def bounds_of(lengths: np.ndarray) -> np.ndarray:
    """Pieces' start offsets and the end (an inclusive prefix sum after a 0)."""
    out = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def lookup(table: np.ndarray, keys: np.ndarray, side: str = "right") -> np.ndarray:
    """``np.searchsorted(table, keys, side)`` for an ascending int64 table (compiled:
    ``native.c``, gas_lookup). Each search starts from the previous key's answer, so the
    keys of a block of a sorted VCF, near each other and in order, take a few steps each;
    keys in any order give the same answer as np.searchsorted."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    if table.dtype != np.int64 or not table.flags.c_contiguous:
        raise ValueError("lookup tables are contiguous int64 arrays")
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    out = np.empty(keys.shape, dtype=np.int64)
    if keys.size:
        right = side == "right"
        _native().gas_lookup(table, table.size, keys.reshape(-1), keys.size, right, out.reshape(-1))
    return out


def reduce_groups(ufunc: np.ufunc, values: np.ndarray, group: np.ndarray, n_groups: int, empty: int = 0) -> np.ndarray:
    """``ufunc`` over the values of each group (``group`` ascending): a reduceat, much cheaper
    than ``ufunc.at``. Groups without values get ``empty``."""
    out = np.full(n_groups, empty, dtype=values.dtype)
    if values.size:
        starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
        out[group[starts]] = ufunc.reduceat(values, starts)
    return out


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """starts[i], starts[i]+1, ..., starts[i]+counts[i]-1 for all i, concatenated (int64)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets_of(counts), counts) + np.arange(total)


def ranges_equal(
    a: np.ndarray, a_start: np.ndarray, b: np.ndarray, b_start: np.ndarray, length: np.ndarray
) -> np.ndarray:
    """For each i: a[a_start[i] : +length[i]] == b[b_start[i] : +length[i]].

    Loops over the byte offset, each step only on the rows still long enough, so the cost
    is the total length compared (alleles are short; a long one costs its own length).
    """
    equal = np.ones(length.size, dtype=bool)
    active = np.flatnonzero(length > 0)
    j = 0
    while active.size:
        same = a[a_start[active] + j] == b[b_start[active] + j]
        equal[active[~same]] = False
        active = active[same]
        j += 1
        active = active[length[active] > j]
    return equal


def common_prefix(
    a: np.ndarray, a_start: np.ndarray, b: np.ndarray, b_start: np.ndarray, limit: np.ndarray
) -> np.ndarray:
    """For each i, how many leading bytes of the two ranges agree (at most limit[i])."""
    out = np.zeros(limit.size, dtype=np.int64)
    active = np.flatnonzero(limit > 0)
    j = 0
    while active.size:
        same = a[a_start[active] + j] == b[b_start[active] + j]
        active = active[same]
        j += 1
        out[active] = j
        active = active[limit[active] > j]
    return out


def common_suffix(a: np.ndarray, a_end: np.ndarray, b: np.ndarray, b_end: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """For each i, how many trailing bytes before a_end[i] and b_end[i] agree (at most limit[i])."""
    out = np.zeros(limit.size, dtype=np.int64)
    active = np.flatnonzero(limit > 0)
    j = 1
    while active.size:
        same = a[a_end[active] - j] == b[b_end[active] - j]
        active = active[same]
        out[active] = j
        active = active[limit[active] > j]
        j += 1
    return out


def parse_uint(
    buf: np.ndarray, start: np.ndarray, length: np.ndarray, max_digits: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers in buf[start : start + length]: (values, ok). ok is False for an empty
    field, a non-digit or more than max_digits digits."""
    ok = (length > 0) & (length <= max_digits)
    value = np.zeros(start.size, dtype=np.int64)
    width = int(length.max()) if length.size else 0
    for j in range(min(width, max_digits)):
        inside = ok & (length > j)
        digit = buf[np.where(inside, start + j, 0)].astype(np.int64) - 48
        ok &= ~inside | ((digit >= 0) & (digit <= 9))
        value = np.where(inside, value * 10 + digit, value)
    return value, ok


def format_uint(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimal text of non-negative integers: (bytes, start, length) with each number
    right-aligned in a 20-byte slot of ``bytes`` (compiled: ``native.c``)."""
    values = np.ascontiguousarray(values, dtype=np.int64).ravel()
    if values.size and int(values.min()) < 0:
        raise ValueError("format_uint takes non-negative integers")
    out = np.empty(20 * values.size, dtype=np.uint8)
    start, length = np.empty(values.size, dtype=np.int64), np.empty(values.size, dtype=np.int64)
    _native().gas_format_uint(values, values.size, out, start, length)
    return out, start, length


def key_of(text: str) -> int:
    raw = text.encode()[:8].ljust(8, b"\0")
    return int(np.frombuffer(raw, dtype=np.uint64)[0])


@dataclass
class TxTables:
    """The bundle's transcript tables gas_tx_classify reads (``bundle.transcript_arrays``)."""

    start: np.ndarray  # int64, ascending
    end: np.ndarray
    strand: np.ndarray  # int8
    exon_offsets: np.ndarray  # int64, one more than the transcripts
    exon_start: np.ndarray
    exon_end: np.ndarray
    max_span: int

    def __post_init__(self) -> None:
        n = self.start.size
        if self.end.size != n or self.strand.size != n or self.exon_offsets.size != n + 1:
            raise ValueError("transcript tables: one start, end and strand per transcript, one more exon offset")
        if self.exon_start.size != self.exon_end.size:
            raise ValueError("transcript tables: one exon end per exon start")


def tx_classify(t: TxTables, flank: int, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each change (global 0-based start, REF length; 0: an insertion before the start) and
    each transcript within ``flank`` of it: (change, transcript row, kind, a, b, c), as
    ``native.c``'s gas_tx_classify documents them (compiled: one call per block)."""
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    if starts.size != lengths.size:
        raise ValueError("tx_classify: one length per start")
    lib = _native()
    cap = max(16, 16 * starts.size)
    while True:
        out = [np.empty(cap, dtype=np.int64) for _ in range(6)]
        rows = lib.gas_tx_classify(
            t.start.size, t.start, t.end, t.strand, t.exon_offsets, t.exon_start.size, t.exon_start, t.exon_end,
            t.max_span, flank, starts.size, starts, lengths, cap, *out,
        )  # fmt: skip
        if rows < 0:
            raise ValueError("tx_classify: a transcript's exon offsets lie outside the exon table")
        if rows <= cap:
            return tuple(o[:rows] for o in out)
        cap = rows


def odd_info(b: np.ndarray, lines: int) -> np.ndarray:
    """Where the first of native.c's gas_odd_info patterns (an INFO key to drop, rename or
    leave out: CSQ, PICK_, an empty key or ".") starts in each of a block's ``lines`` lines
    that has one."""
    b = _bytes_view(b)
    hits = np.empty(lines, dtype=np.int64)
    return hits[: _native().gas_odd_info(b, b.size, lines, hits)]


@dataclass
class TxText:
    """What gas_tx_entries reads besides ``TxTables``: per transcript its flags, phase, CDS
    offsets, the cDNA positions of its first and last coding bases (``c01``, two per
    transcript: read for the transcripts of the rows only) and its packed strings (tx_id,
    gene_id, gene_name, biotype, mane); the words it writes, each entry kind's and each
    gas_change_effect term's pick rank (effects.py's _WORDS, _KIND_RANK), and gas_change_effect's
    tables (``change``)."""

    flags: np.ndarray  # uint8
    phase: np.ndarray  # int8
    cds_offsets: np.ndarray  # int64, one more than the transcripts
    c01: np.ndarray  # int64, (transcripts, 2)
    strings: list[tuple[np.ndarray, np.ndarray]]  # (uint8 data, int32 offsets) x 5
    words: list[bytes]
    kind_rank: np.ndarray  # int64
    change: SnvTables

    def __post_init__(self) -> None:
        n = self.flags.size
        if self.phase.size != n or self.cds_offsets.size != n + 1 or self.c01.shape != (n, 2):
            raise ValueError("transcript text tables: one flags, phase and coding span per transcript")
        for data, off in self.strings:
            if off.size != n + 1 or off.dtype != np.int32 or int(off[0]) < 0 or int(off[-1]) > data.size:
                raise ValueError("transcript text tables: packed offsets outside their data")
            if n and (np.diff(off) < 0).any():
                raise ValueError("transcript text tables: packed offsets must ascend")
        self.names_per_tx = sum(int(off[-1] - off[0]) for _, off in self.strings) // max(1, n)
        self.word_text = np.frombuffer(b"".join(self.words), dtype=np.uint8) if any(self.words) else _EMPTY
        self.word_off = np.concatenate([[0], np.cumsum([len(w) for w in self.words])]).astype(np.int64)


@dataclass
class EntryText:
    """gas_tx_entries' output (native.c documents each array)."""

    raw: np.ndarray  # the entries' text, unescaped
    entry_off: np.ndarray
    change_entry: np.ndarray
    change_mask: np.ndarray
    change_bits: np.ndarray
    pick_start: np.ndarray  # (changes, pick fields)
    pick_len: np.ndarray
    info: np.ndarray  # the records' INFO text, escaped
    info_off: np.ndarray


def _packed(texts: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Texts as one byte array and their start offsets (one more: the end)."""
    data = np.frombuffer(b"".join(texts), dtype=np.uint8) if texts else _EMPTY
    offsets = bounds_of(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
    return (data if data.size else _EMPTY), offsets


def tx_entries(
    t: TxTables, x: TxText, alleles: tuple[np.ndarray, np.ndarray], ref: np.ndarray, alt: np.ndarray, snv: np.ndarray,
    starts: np.ndarray, bases: tuple[np.ndarray, np.ndarray], ref_len: np.ndarray,
    rows: Sequence[np.ndarray], row_piece: np.ndarray, row_rank: np.ndarray, pieces: Sequence[bytes],
    pick_field: Sequence[int], rec_change: np.ndarray, rec_alts: np.ndarray, change_alt: np.ndarray,
    names: Sequence[bytes], name_pick: Sequence[int],
) -> EntryText | np.ndarray:  # fmt: skip
    """The CSQ entries of a batch of changes from gas_tx_classify's ``rows``, their picks and the
    records' INFO text, as ``native.c``'s gas_tx_entries documents them (compiled: one call
    per batch; ``alleles``: each change's VEP allele (text, offsets and the end), ``ref``/``alt``:
    its bases when ``snv``; ``starts``, ``bases``, ``ref_len``: its global start, REF then ALT
    bytes (text, offsets and the end), REF's length; ``pieces``: the texts effects.py wrote for
    the rows it settled). The rows the kernel declines (none written) when there are some: the
    caller settles them and calls again."""
    q_text, q_off = alleles
    n_q, n = q_off.size - 1, rows[0].size
    q_text = q_text if q_text.size else _EMPTY
    b_text, b_off = bases
    b_text = b_text if b_text.size else _EMPTY
    ref_len = np.ascontiguousarray(ref_len, dtype=np.int64)
    alt_len = np.diff(b_off) - ref_len
    if starts.size != n_q or ref_len.size != n_q or b_off.size != n_q + 1 or (alt_len < 0).any():
        raise ValueError("tx_entries: one start and REF (within its bases) per change")
    p_text, p_off = _packed(pieces)
    name_text, name_off = _packed(names)
    i64 = [np.ascontiguousarray(a, dtype=np.int64) for a in (*rows, row_piece, row_rank)]
    pick_field_a, name_pick_a = np.asarray(pick_field, dtype=np.int64), np.asarray(name_pick, dtype=np.int64)
    if name_pick_a.size and (name_pick_a.min() < 0 or name_pick_a.max() >= pick_field_a.size):
        raise ValueError("tx_entries: an INFO name's pick field is not one of the pick fields")
    if pick_field_a.size and (pick_field_a.min() < 0 or pick_field_a.max() > 23):
        raise ValueError("tx_entries: pick fields are CSQ field indexes")
    if len(x.words) != 66 or x.kind_rank.size != 27 or snv.size != n_q or ref.size != n_q or alt.size != n_q:
        raise ValueError("tx_entries: 66 words, 27 ranks, and one REF, ALT and snv flag per change")
    if rec_change.size != rec_alts.size + 1 or change_alt.size != n_q:
        raise ValueError("tx_entries: one change offset per record and one more, one ALT per change")
    strings = _ByteArrays([d for d, _ in x.strings]), _Int32Arrays([o for _, o in x.strings])
    lib = _native()
    # A first guess near the usual size (an entry's fixed text and its transcript's names;
    # escaping seldom adds): room left untouched still makes the heap hold more.
    raw_cap = (n + n_q) * (112 + x.names_per_tx) + p_text.size + 4096
    info_cap = raw_cap + 192 * rec_alts.size
    k = pick_field_a.size
    while True:
        raw, info = np.empty(raw_cap, dtype=np.uint8), np.empty(info_cap, dtype=np.uint8)
        entry_off, change_entry = np.empty(n + n_q + 1, dtype=np.int64), np.empty(n_q + 1, dtype=np.int64)
        change_mask, change_bits = np.empty(n_q, dtype=np.int64), np.zeros(n_q, dtype=np.int64)
        pick_start, pick_len = np.empty((n_q, k), dtype=np.int64), np.empty((n_q, k), dtype=np.int64)
        info_off = np.empty(rec_alts.size + 1, dtype=np.int64)
        scratch = [np.empty(n, dtype=np.int64) for _ in range(8)]  # the last: the rows declined
        sizes = np.zeros(3, dtype=np.int64)
        entries = lib.gas_tx_entries(
            t.start.size, t.start, t.end, t.strand, x.flags, x.phase, t.exon_offsets, x.cds_offsets,
            x.c01.reshape(-1), *strings, x.word_text, x.word_off, x.kind_rank, ctypes.byref(x.change), CHANGE_CAP,
            n_q, q_text, q_off[:-1], np.diff(q_off), ref, alt, snv.astype(np.int64),
            np.ascontiguousarray(starts, dtype=np.int64), b_text, b_off[:-1], ref_len, alt_len,
            n, *i64, p_off.size - 1, p_text, p_off[:-1], np.diff(p_off), k, pick_field_a,
            rec_alts.size, rec_change, rec_alts, change_alt, len(names), name_text, name_off, name_pick_a,
            raw, raw_cap, entry_off, change_entry, change_mask, change_bits, pick_start.reshape(-1),
            pick_len.reshape(-1),
            info, info_cap, info_off, *scratch, sizes,
        )  # fmt: skip
        if entries < 0:
            raise ValueError("tx_entries: a row's transcript, change or piece is out of range")
        if sizes[2]:
            return scratch[-1][: sizes[2]]
        if sizes[0] <= raw_cap and sizes[1] <= info_cap:
            # No copy of raw trimmed to its size: room never written is never faulted in, and
            # without a table picks_only drops raw at once.
            return EntryText(
                raw[: sizes[0]], entry_off[: entries + 1], change_entry, change_mask, change_bits, pick_start,
                pick_len,
                info[: sizes[1]], info_off,
            )  # fmt: skip
        raw_cap, info_cap = max(raw_cap, int(sizes[0])), max(info_cap, int(sizes[1]))


@dataclass
class SourceAlleles:
    """A block's ALTs, one row each (records in order, ALTs in order): the record, the ALT's
    index and its minimal form (``sources.minimal``, or with ``lead_first`` effects.py's) as
    pieces of the block (``mpos`` -1: REF or ALT not sequence), and the ALT's own piece."""

    rec: np.ndarray
    alt: np.ndarray
    mpos: np.ndarray
    mref: np.ndarray
    mref_len: np.ndarray
    malt: np.ndarray
    malt_len: np.ndarray
    araw: np.ndarray
    araw_len: np.ndarray


def source_alleles(
    b: np.ndarray, pos: np.ndarray, ref: np.ndarray, ref_len: np.ndarray, alts: np.ndarray, alts_len: np.ndarray,
    lead_first: bool = False,
) -> SourceAlleles:  # fmt: skip
    """Each record's ALTs split and reduced to their minimal forms (compiled: gas_source_alleles)."""
    arrays = [np.ascontiguousarray(a, dtype=np.int64) for a in (pos, ref, ref_len, alts, alts_len)]
    n = arrays[0].size
    if any(a.size != n for a in arrays) or (n and (arrays[1].min() < 0 or arrays[3].min() < 0)):
        raise ValueError("source_alleles: one REF and ALT piece per record, inside the block")
    if n and (arrays[2].min() < 0 or arrays[4].min() < 0 or (arrays[1] + arrays[2]).max() > b.size
              or (arrays[3] + arrays[4]).max() > b.size):  # fmt: skip
        raise ValueError("source_alleles: a REF or ALT lies outside the block")
    cap = n + int(arrays[4].sum())  # an ALT column of L bytes holds at most L commas
    out = [np.empty(cap, dtype=np.int64) for _ in range(9)]
    rows = _native().gas_source_alleles(b, n, *arrays, cap, int(lead_first), *out)
    return SourceAlleles(*(o[:rows] for o in out))


def info_values(
    text: np.ndarray, start: np.ndarray, length: np.ndarray, info_id: bytes, part: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) in ``text`` of the value of INFO item ``info_id`` in each INFO text
    ``text[start : start + length]`` (start -1: none), the ``part``-th comma-separated piece when
    part >= 0; start -1 where absent (compiled: gas_info_values)."""
    start, length, part = (np.ascontiguousarray(a, dtype=np.int64) for a in (start, length, part))
    n = start.size
    if length.size != n or part.size != n:
        raise ValueError("info_values: one length and part per start")
    inside = start >= 0
    if (length[inside] < 0).any() or (start[inside] + length[inside] > text.size).any():
        raise ValueError("info_values: an INFO text lies outside the text")
    out_start, out_len = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    _native().gas_info_values(text, n, start, length, info_id, len(info_id), part, out_start, out_len)
    return out_start, out_len


def source_lookup(
    pos: np.ndarray, text: np.ndarray, off: np.ndarray, qpos: np.ndarray, qtext: np.ndarray, qoff: np.ndarray,
    qlen: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Per query key (position, "REF>ALT" text) the first entry of a compiled source with the same
    position and text (entries sorted by position, texts text[off[e] : off[e + 1]]), -1 when none
    (compiled: gas_source_lookup)."""
    qpos, qoff, qlen = (np.ascontiguousarray(a, dtype=np.int64) for a in (qpos, qoff, qlen))
    n, q = pos.size, qpos.size
    if off.size != n + 1 or qoff.size != q or qlen.size != q:
        raise ValueError("source_lookup: one offset per entry (and one past the last), one per query")
    # The entries (a file) are not checked here in O(n): the kernel skips a text outside `text`.
    if q and (qoff.min() < 0 or qlen.min() < 0 or (qoff + qlen).max() > qtext.size):
        raise ValueError("source_lookup: a query's text lies outside the query text")
    out = np.empty(q, dtype=np.int64)
    _native().gas_source_lookup(n, pos, text, text.size, off, q, qpos, qtext, qoff, qlen, out)
    return out


def bed_scan(text: np.ndarray, contig: bytes, end: int, state: np.ndarray) -> tuple[np.ndarray, ...]:
    """(start, end, name start, name length) of the rows of ``contig`` in ``text`` (whole lines
    of a BED) that start before ``end``, as ``native.c``'s gas_bed_scan documents; state[1] = 1
    when no later row is needed."""
    if state.size != 2 or state.dtype != np.int64:
        raise ValueError("bed_scan: state is two int64")
    cap = count_byte(text, 10) + 1
    out = [np.empty(cap, dtype=np.int64) for _ in range(4)]
    rows = _native().gas_bed_scan(text, text.size, contig, len(contig), end, cap, *out, state)
    return tuple(o[:rows] for o in out)
