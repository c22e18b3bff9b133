"""Vectorised operations on text held as numpy byte arrays.

A block of VCF lines stays one ``uint8`` array; fields are (start, length) pairs into it, and
output text is assembled by ``gather`` from pieces of a single source array. This keeps the
per-record work in numpy (C loops) instead of Python objects.
"""

from __future__ import annotations

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


def gather(src: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``src[starts[i] : starts[i] + lengths[i]]`` over i (arrays flattened, C order).

    One index array is built with a cumulative sum (each piece is a run of +1 steps, each
    new piece a jump) and used once, so the cost is a few passes over the output bytes.
    """
    starts = np.asarray(starts).ravel()
    lengths = np.asarray(lengths).ravel()
    keep = lengths > 0
    if not keep.all():
        starts, lengths = starts[keep], lengths[keep]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.uint8)
    dtype = np.int32 if src.size < (1 << 31) else np.int64
    idx = np.ones(total, dtype=dtype)
    ends = np.cumsum(lengths)
    idx[0] = starts[0]
    if starts.size > 1:
        idx[ends[:-1]] = starts[1:] - (starts[:-1] + lengths[:-1]) + 1
    np.cumsum(idx, out=idx)
    out: np.ndarray = src[idx]
    return out


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """Start offsets of consecutive pieces with these lengths (exclusive prefix sum)."""
    out = np.zeros(lengths.size, dtype=np.int64)
    if lengths.size > 1:
        np.cumsum(lengths[:-1], out=out[1:])
    return out


def lookup(table: np.ndarray, keys: np.ndarray, side: str = "right") -> np.ndarray:
    """``np.searchsorted(table, keys, side)`` for keys from a small part of a big table.

    A block of a sorted VCF covers a short stretch of the genome: searching only the slice of
    the table between the smallest and largest key keeps the search in cache. (Any keys give
    the same answer as np.searchsorted; only the speed differs.)
    """
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo = int(np.searchsorted(table, keys.min(), side=side))  # type: ignore[call-overload]
    hi = int(np.searchsorted(table, keys.max(), side=side))  # type: ignore[call-overload]
    found: np.ndarray = np.searchsorted(table[lo:hi], keys, side=side) + lo  # type: ignore[call-overload]
    return found


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
    right-aligned in a 20-byte slot of ``bytes``."""
    n = values.size
    slots = np.full((n, 20), ord("0"), dtype=np.uint8)
    v = values.astype(np.int64).copy()
    length = np.ones(n, dtype=np.int64)
    for j in range(19, -1, -1):
        slots[:, j] = 48 + v % 10
        v //= 10
        length = np.where(v > 0, 20 - j + 1, length)
        if not v.any():
            break
    start = np.arange(n, dtype=np.int64) * 20 + 20 - length
    return slots.ravel(), start, length


def pack_key(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Up to 8 bytes of each field as one uint64 (zero-padded); fields longer than 8 get 0."""
    n = start.size
    fits = (length > 0) & (length <= 8)
    width = int(min(8, length.max())) if n else 0
    raw = np.zeros((n, 8), dtype=np.uint8)
    for j in range(width):  # CHROM is short: one pass per byte of the longest name
        inside = fits & (length > j)
        raw[:, j] = np.where(inside, buf[np.where(inside, start + j, 0)], 0)
    return raw.view(np.uint64).reshape(n)


def key_of(text: str) -> int:
    raw = text.encode()[:8].ljust(8, b"\0")
    return int(np.frombuffer(raw, dtype=np.uint64)[0])
