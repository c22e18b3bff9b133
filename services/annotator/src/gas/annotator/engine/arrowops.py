"""The pyarrow compute kernels the engine uses, called by name.

``import pyarrow.compute`` builds a Python wrapper, with a generated docstring, for each of its
~290 kernels (~40 ms of a process start, more under load), and ``Array.take``, ``.cast``,
``.is_valid`` and ``.fill_null`` import it on first use. The engine needs a dozen kernels
before its first record is written, so it calls them through ``call_function`` (what those
wrappers call) with the same arguments and defaults.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pyarrow._compute import CastOptions, JoinOptions, SetLookupOptions, TakeOptions, call_function

_TAKE = TakeOptions(boundscheck=True)


def value_counts(values: Any) -> dict[str, int]:
    """How many times each value occurs (nulls not counted)."""
    counts = call_function("value_counts", [values])
    return {
        v: n for v, n in zip(counts.field(0).to_pylist(), counts.field(1).to_pylist(), strict=True) if v is not None
    }


def take(values: Any, indices: Any) -> Any:
    return call_function("take", [values, indices], _TAKE)


def binary_join_element_wise(*strings: Any, null_handling: str = "emit_null", null_replacement: str = "") -> Any:
    """Join the strings element-wise; the last argument is the separator."""
    return call_function("binary_join_element_wise", list(strings), JoinOptions(null_handling, null_replacement))


def binary_join(lists: Any, separator: Any) -> Any:
    return call_function("binary_join", [lists, separator])


def if_else(cond: Any, left: Any, right: Any) -> Any:
    return call_function("if_else", [cond, left, right])


def is_valid(values: Any) -> Any:
    return call_function("is_valid", [values])


def fill_null(values: Any, fill: Any) -> Any:
    if not isinstance(fill, (pa.Array, pa.ChunkedArray, pa.Scalar)):
        fill = pa.scalar(fill, type=values.type)
    return call_function("coalesce", [values, fill])


def index_in(values: Any, value_set: Any) -> Any:
    """The index of each value in ``value_set`` (null when absent)."""
    return call_function("index_in", [values], SetLookupOptions(value_set))


def cast(values: Any, target: pa.DataType) -> Any:
    return call_function("cast", [values], CastOptions.safe(target))


def add(left: Any, right: Any) -> Any:
    return call_function("add", [left, right])
