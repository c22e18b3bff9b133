"""Text and rows out of a block's annotations.

The input block stays one buffer. The new INFO fields are string arrays built with pyarrow's
string kernels, by ``take`` from constant tables (``OutputTables``), and joined per record
once per distinct key (most SNVs of a context share their text). Each output line is then a
row of pieces (``_P``): spans of the block (CHROM and POS, ID, REF to INFO, FORMAT and
samples) and of the built text (a filled ID, the new INFO, NEAREST, RSID), which one
compiled pass (``textops.gather_columns``) copies into the block's output. Each piece of a
new field starts with ';' (an absent one is empty), so a record's fields join without
per-record branching. (``null_handling="skip"`` is avoided: pyarrow 26 drops all-null rows
with it.)
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa

from gas.annotator.engine import arrowops as pc  # pyarrow.compute's kernels by name
from gas.annotator.engine import consequences as csq
from gas.annotator.engine.database import REGION_CODE, Packed
from gas.annotator.engine.parquet import BATCH_SCHEMA, SCHEMA
from gas.annotator.engine.textops import (
    Column,
    Indexed,
    bounds_of,
    distinct,
    first_occurrences,
    format_uint,
    gather_columns,
    offsets_of,
    parse_uint,
    ranges,
)
from gas.core.phenotypes import FORMAT, GENES_TABLE
from gas.core.vocab import BUNDLE_COLUMNS, FLAGS, INFO_IDS, RANK, REGIONS, TERMS, VARIANT_CLASSES
from gas.core.vocab import KNOWN_SOURCES as KNOWN_SOURCE_NAMES

if TYPE_CHECKING:
    from gas.annotator.engine.block import Annotated, BlockAnnotator

# KNOWN_SOURCE by the code block.py gives each ALT (alleles.Alleles.known_source): 0 is novel
KNOWN_SOURCES = (".", *KNOWN_SOURCE_NAMES)
_OUR_KEY = re.compile(rf"^(?:{'|'.join(INFO_IDS)})(?:=|$)")


_STRING = pa.string()
_EMPTY = pa.scalar("", _STRING)
_TERM_NAMES = pa.array(list(csq.TERMS), _STRING)
TERM_NAMES = pa.array(list(TERMS), _STRING)  # a bundle's: every term, codes are RANK


def _str(value: str) -> pa.Scalar:
    """A string scalar. Arrow values are made with their type given: converting an untyped
    Python object runs pyarrow's type inference, whose first use imports dateutil (and looks
    for pandas), ~5-15 ms of a process start."""
    return pa.scalar(value, _STRING)


def arrow(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """``pa.array(values, mask=mask)`` for a 1-D numeric or bool numpy array, over its buffer.
    ``pa.array`` checks for ``numpy.ma.MaskedArray``, which imports numpy.ma on a process's
    first call (~10 ms, more under load): kept out of the path to the first record."""
    values = np.ascontiguousarray(values)
    if values.ndim != 1:
        raise ValueError("arrow() takes 1-D arrays")
    validity, nulls = None, 0
    if mask is not None:
        nulls = int(np.count_nonzero(mask))
        if nulls:
            validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
    if values.dtype == np.bool_:
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), values.size, [validity, data], nulls)
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype), values.size, [validity, pa.py_buffer(values)], nulls
    )


def packed_strings(packed: Packed, prefix: str = "", empty_is_null: bool = False) -> pa.Array:
    """A string array of a packed table, optionally with a prefix on every value."""
    values = pa.Array.from_buffers(
        pa.string(),
        len(packed),
        [None, pa.py_buffer(packed.offsets), pa.py_buffer(packed.data)],
    )
    if prefix:
        values = pc.binary_join_element_wise(_str(prefix), values, _EMPTY)
    if empty_is_null:
        values = pc.if_else(arrow(packed.lengths() == 0), pa.scalar(None, pa.string()), values)
    return values


def _gathered(columns: list[Column | Indexed | None]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's pieces joined (one ``gather_columns`` pass): the text and the rows' bounds
    (their starts, then the end)."""
    n = next((c[2].size if isinstance(c, Indexed) else np.size(c[1]) for c in columns if c is not None), 0)
    bounds = np.zeros(n + 1, dtype=np.int64)
    return gather_columns(columns, bounds[1:]), bounds


def strings_of(columns: list[Column | Indexed | None], valid: np.ndarray | None = None) -> pa.Array:
    """A string array of each row's pieces joined, null where ``valid`` is False."""
    data, bounds = _gathered(columns)
    n = bounds.size - 1
    buffers = [None, pa.py_buffer(bounds.astype(np.int32)), pa.py_buffer(data)]
    nulls = 0
    if valid is not None and (nulls := n - int(np.count_nonzero(valid))):
        buffers[0] = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.string(), n, buffers, nulls)


def strings_from(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """A string array of byte ranges (copied into one contiguous buffer)."""
    return strings_of([(buf, starts, lengths)])


def field_strings(lines: Any, k: int) -> pa.Array:
    """Column k (0 = CHROM) of every line as a string array."""
    start, length = lines.field(k)
    return strings_from(lines.buf, start, length)


def valid_rows(values: pa.Array) -> np.ndarray:
    """Whether each value is not null (from the validity bits: no compute kernel)."""
    if not values.null_count:
        return np.ones(len(values), dtype=bool)
    bits = np.unpackbits(np.frombuffer(values.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[values.offset : values.offset + len(values)].astype(bool)


def with_nulls(values: pa.Array, valid: np.ndarray) -> pa.Array:
    if valid.all():
        return values
    return pc.if_else(arrow(valid), values, pa.scalar(None, values.type))


def coded(dictionary: pa.Array, index: np.ndarray, valid: np.ndarray | None = None) -> pa.DictionaryArray:
    """dictionary[index], null where ``valid`` is False, as a dictionary array (the table's
    CODED_COLUMNS): no string is copied, and the Parquet writer writes the codes as they are."""
    codes = index.astype(np.int32) if valid is None else np.where(valid, index, 0).astype(np.int32)
    return pa.DictionaryArray.from_arrays(arrow(codes, mask=None if valid is None else ~valid), dictionary)


def take(values: pa.Array, index: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """values[index], null where ``valid`` is False."""
    if valid is None:
        return pc.take(values, arrow(index))
    return pc.take(values, arrow(np.where(valid, index, 0), mask=~valid))


T = TypeVar("T")


def _on_thread(name: str, build: Callable[[], T]) -> Future[T]:
    """``build()`` started on a thread of its own; its result (or exception) in the Future.
    Not a daemon: a process that ends early (bad input on line 3) waits for it rather than
    unloading Arrow under a thread still in its kernel (AddressSanitizer caught that as a
    use after free at exit)."""
    done: Future[T] = Future()

    def run() -> None:
        try:
            done.set_result(build())
        except BaseException as exc:  # noqa: BLE001 - re-raised by done.result()
            done.set_exception(exc)

    threading.Thread(target=run, name=name).start()
    return done


@dataclass(frozen=True)
class HpoContext:
    keys: pa.Array  # the database gene names that stand for HPO genes
    key_gene: np.ndarray  # the HPO gene of each
    diseases: pa.ListArray  # each HPO gene's disease ids, plus an empty last list
    counts: np.ndarray  # each HPO gene's count of directly annotated terms, plus 0
    terms: pa.ListArray  # each HPO gene's term indexes (distinct ones of several genes)


def hpo_version() -> str:
    """The HPO data ``hpo_genes.arrow`` was built from (its footer only)."""
    with pa.ipc.open_file(pa.memory_map(str(GENES_TABLE))) as f:
        return f.schema.metadata[b"version"].decode()


class OutputTables:
    """Constant string arrays every block takes from (built once per annotator)."""

    _rsid_field: Future[pa.Array]

    def rsid_field(self) -> pa.Array:
        """';RSID=rs..' of every known variant (340k: ~13 ms, built on a thread of its own
        from the start, while the first block is read and annotated)."""
        return self._rsid_field.result()

    @functools.cached_property
    def hpo(self) -> HpoContext:
        """Gene and disease context, from gas.core.phenotypes' ``GENES_TABLE`` (~4 ms; the full
        artifact's JSON took ~50-60 ms and ~20 MiB, decision 119); loaded by the first
        ``with_gene_context``, on the table writer's thread (decision 115)."""
        with pa.ipc.open_file(pa.memory_map(str(GENES_TABLE))) as f:
            table = f.read_all().combine_chunks()
        meta = table.schema.metadata
        if meta[b"format"] != str(FORMAT).encode():
            raise ValueError(f"{GENES_TABLE.name}: format {meta[b'format']!r}, expected {FORMAT}")
        symbols, diseases, terms = (table.column(n).chunk(0) for n in ("symbol", "diseases", "terms"))
        # A row's genes carry the database's names: the HPO symbols themselves, and the names
        # the assembly's id/alias join maps to one (decision 114).
        aliases: dict[str, str] = json.loads(meta[b"aliases"]).get(self.ann.db.assembly or "", {})
        keys = pa.concat_arrays([symbols, pa.array(list(aliases), _STRING)])
        alias_gene = pc.index_in(pa.array(list(aliases.values()), _STRING), symbols).to_numpy(zero_copy_only=False)
        key_gene = np.concatenate([np.arange(len(symbols)), alias_gene]).astype(np.int64)
        lists = pa.concat_arrays([diseases, pa.array([[]], diseases.type)])
        counts = np.append(np.diff(terms.offsets.to_numpy()), 0).astype(np.int64)
        return HpoContext(keys, key_gene, lists, counts, terms)

    def __init__(self, ann: BlockAnnotator):
        self.ann = ann
        # 'GENE=A,B;GENE_TYPE=x,y' of every gene set (null for none): the first new INFO field.
        self.gene_set_field = pc.binary_join_element_wise(
            packed_strings(ann.gene_sets, "GENE=", empty_is_null=True),
            packed_strings(ann.db.packed("gene_set_types"), ";GENE_TYPE="),
            _EMPTY,
        )
        self.gene_set_present = ann.gene_sets.lengths() > 0
        self.gene_names = packed_strings(ann.gene_names)
        self.type_names = packed_strings(ann.type_names)
        # '|GENE|GENE_TYPE|' of each gene row for CONSEQUENCE entries; the last one ('|||') for
        # intergenic entries, which have no gene.
        self.entry_middle = pa.concat_arrays(
            [
                pc.binary_join_element_wise(
                    _EMPTY, self.gene_names, pc.take(self.type_names, arrow(ann.gene_type)), _EMPTY, _str("|")
                ),
                pa.array(["|||"], _STRING),
            ]
        )
        # ';NEAREST=name|' of every gene (the distance follows)
        self.nearest_field = pc.binary_join_element_wise(packed_strings(ann.gene_names, ";NEAREST="), _str("|"), _EMPTY)
        self.known_ids = packed_strings(ann.known_id)
        self._rsid_field = _on_thread(
            "gas-rsid-field", lambda: pc.binary_join_element_wise(_str(";RSID="), self.known_ids, _EMPTY)
        )
        # REGION after GENE (';REGION=') and without it ('REGION='): no field starts with ';'.
        self.region_field = pa.array([f";REGION={r}" for r in REGIONS] + [f"REGION={r}" for r in REGIONS], _STRING)
        self.region_names = pa.array(list(REGIONS), _STRING)
        flag_codes = [[k for k in range(len(FLAGS)) if bits >> k & 1] for bits in range(8)]
        flag_offsets = np.cumsum([0] + [len(c) for c in flag_codes]).astype(np.int32)
        self.flag_lists = pa.ListArray.from_arrays(
            arrow(flag_offsets), coded(pa.array(list(FLAGS), _STRING), np.array(sum(flag_codes, []), dtype=np.int64))
        )
        self.classes = pa.array([".", *VARIANT_CLASSES], _STRING)
        self.tstv = pa.array([".", "ts", "tv"], _STRING)
        self.known_sources = pa.array(KNOWN_SOURCES, _STRING)
        self.known_source_field = pa.array([f";KNOWN_SOURCE={k}" for k in KNOWN_SOURCES], _STRING)  # one-ALT records
        self.term_names = _TERM_NAMES
        self.most_severe_field = pa.array([f";MOST_SEVERE={t}" for t in csq.TERMS], _STRING)
        # ';CPG;REPEAT;BLACKLIST' (as set) + ';VC=..;TSTV=..' of a one-ALT record, by
        # (flag bits * 6 + VC code) * 3 + ts/tv code.
        combos = []
        for bits in range(8):
            flags = "".join(f";{f}" for k, f in enumerate(FLAGS) if bits >> k & 1)
            for vc in range(6):
                for ts in range(3):
                    combos.append(
                        flags
                        + (f";VC={VARIANT_CLASSES[vc - 1]}" if vc else "")
                        + (f";TSTV={('ts', 'tv')[ts - 1]}" if ts else "")
                    )
        self.flags_classes = pa.array(combos, _STRING)


def _per_record(values: pa.Array, owner: np.ndarray, n: int, prefix: str, present: np.ndarray) -> pa.Array:
    """Per-ALT values joined with ',' per record, prefixed; null on records where ``present``
    is False (records of several ALTs: one-ALT blocks take a table's field by index)."""
    joined = _grouped(values, owner, n, ",")
    return with_nulls(pc.binary_join_element_wise(_str(prefix), joined, _EMPTY), present)


class _TermTexts:
    """'a&b' texts and term lists of term masks: a lookup table from mask to a row of a string
    array and of a list array (codes into TERMS), grown (under a lock) when a block meets a new
    combination."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.row = np.full(1 << len(csq.TERMS), -1, dtype=np.int64)
        self.texts: list[str] = []
        self.codes: list[int] = []  # the term codes of every list, concatenated
        self.offsets = [0]
        self.array = pa.array([], pa.string())
        self.lists = pa.array([], BATCH_SCHEMA.field("consequences").type)

    def _rows(self, masks: np.ndarray) -> np.ndarray:
        rows = self.row[masks]
        if (rows < 0).any():
            with self.lock:
                new = distinct(masks[self.row[masks] < 0]).tolist()
                first = len(self.texts)
                for m in new:
                    self.texts.append(csq.term_text(m))
                    self.codes.extend(k for k in range(len(csq.TERMS)) if m >> k & 1)
                    self.offsets.append(len(self.codes))
                # The arrays first, then the rows that point into them: a reader that sees a
                # row (read before the arrays, below) always finds it in them.
                self.array = pa.array(self.texts, pa.string())
                values = coded(_TERM_NAMES, np.array(self.codes, dtype=np.int64))
                self.lists = pa.ListArray.from_arrays(arrow(np.array(self.offsets, dtype=np.int32)), values)
                for k, m in enumerate(new):
                    self.row[m] = first + k
            rows = self.row[masks]
        return rows

    def of(self, masks: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """(the texts, the row of each mask in them)."""
        rows = self._rows(masks)
        return self.array, rows

    def lists_of(self, masks: np.ndarray) -> pa.Array:
        """The term list of each mask (most severe first)."""
        rows = self._rows(masks)
        return pc.take(self.lists, arrow(rows))


_TERM_TEXTS = _TermTexts()


def term_lists(masks: np.ndarray) -> pa.ListArray:
    """The term list (codes into TERM_NAMES, most severe first) of each mask over TERMS (bit
    RANK[t]): the set bits of each row in order, with no Python object per row."""
    bits = np.unpackbits(masks.astype("<u4").view(np.uint8).reshape(-1, 4), axis=1, bitorder="little")
    codes = np.nonzero(bits)[1]  # row by row, each row's bits ascending (TERMS' 27 fit 32 bits)
    offsets = bounds_of(np.count_nonzero(bits, axis=1)).astype(np.int32)
    return pa.ListArray.from_arrays(arrow(offsets), coded(TERM_NAMES, codes))


def term_masks(lists: pa.ListArray) -> np.ndarray:
    """``term_lists``' inverse for a list<dictionary<string>> of terms (any dictionary of them)."""
    values = lists.values
    bit = np.array([1 << RANK[t] for t in values.dictionary.to_pylist()], dtype=np.int64)
    offsets = lists.offsets.to_numpy()
    codes = values.indices.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
    rows = np.repeat(np.arange(len(lists)), np.diff(offsets))
    # a row's terms are distinct bits, so their sum is their OR (exact in float64: 27 bits)
    return np.bincount(rows, weights=bit[codes], minlength=len(lists)).astype(np.int64)


def alt_strings(found: Annotated) -> pa.Array:
    al = found.alleles
    return strings_from(found.rec.text_raw, al.at, al.length)


def _strip_our_keys(info: list[str | None]) -> list[str | None]:
    """Re-annotating: INFO without the keys this engine writes (per record; rare)."""
    key = _OUR_KEY
    out: list[str | None] = []
    for text in info:
        kept = ";".join(item for item in (text or "").split(";") if item and not key.match(item))
        out.append(kept)
    return out


_BASE_CODE = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(b"ACGTacgt"):
    _BASE_CODE[_ch] = _i


def info_keys(found: Annotated) -> np.ndarray:
    """Records with the same key get the same new INFO text (NEAREST and RSID aside): a
    one-ALT SNV's text depends only on its context, REF and ALT bases and flags, unless it
    touches a stop codon; every other record is its own key."""
    rec, al, cq = found.rec, found.alleles, found.csq
    n = rec.gs.size
    every = np.arange(n)
    one_alt = al.record.size == n and bool((al.record == every).all())
    a = every if one_alt else np.minimum(np.searchsorted(al.record, every), al.record.size - 1)
    ref_code = _BASE_CODE[rec.text_raw[rec.ref_at]]
    alt_code = _BASE_CODE[rec.text_raw[al.at[a]]]
    ctx = cq.allele_ctx[a]
    stop = np.zeros(n, dtype=bool)
    stop[al.record[cq.allele[cq.stop_rule]]] = True
    single = one_alt or np.bincount(al.record, minlength=n) == 1
    fast = single & (rec.ref_len == 1) & (al.length[a] == 1) & (ref_code >= 0) & (alt_code >= 0) & (ctx >= 0) & ~stop
    flag_bits = found.flags.astype(np.int64) @ np.array([1, 2, 4], dtype=np.int64)
    shared = (((ctx * 8 + alt_code) * 8 + ref_code) * 8 + flag_bits) + n
    return np.where(fast, shared, np.arange(n, dtype=np.int64))


def vcf_lines(t: OutputTables, found: Annotated, strip_ours: bool) -> tuple[np.ndarray, pa.Array | None]:
    """The annotated lines of the block as one byte array, and (for the variants table) the ID
    column as written (null for '.')."""
    ann = t.ann
    lines, rec, al = found.lines, found.rec, found.alleles
    n = rec.gs.size
    b = lines.buf
    bound = lines.bound
    info_start, info_len = lines.field(7)
    id_start, id_len = lines.field(2)
    old_empty = (info_len == 0) | ((info_len == 1) & (b[info_start] == ord(".")))

    # Known variants fill an ID of '.'.
    has_known = al.known >= 0
    record_known = np.zeros(n, dtype=bool)
    record_known[al.record[has_known]] = True
    id_missing = (id_len == 1) & (b[id_start] == ord("."))
    fill = id_missing & record_known
    record_ids = _ids_of_records(t, found) if fill.any() else None

    # Each line is pieces (``_P``), copied once by gather_columns: from the block (CHROM
    # and POS, the ID, REF to the end of the old INFO or to its start when it is '.', FORMAT
    # and samples) and from the built text (a filled ID, the new INFO, NEAREST, RSID).
    cut = np.where(old_empty, info_start, bound[8])
    pieces = _Pieces()
    if strip_ours:
        pieces.span(_P.HEAD, b, lines.start, id_start - lines.start)
        pieces.span(_P.ID, b, id_start, np.where(fill, 0, id_len))
    else:  # one piece up to the new INFO, but up to the ID on lines whose ID is filled
        pieces.span(_P.HEAD, b, lines.start, np.where(fill, id_start, cut) - lines.start)
    if record_ids is not None:
        pieces.strings(_P.FILLED_ID, record_ids, np.arange(n), fill)
    if strip_ours:
        stripped = _strip_our_keys(strings_from(b, info_start, cut - info_start).to_pylist())
        old_empty = old_empty | np.array([not x for x in stripped], dtype=bool)
        pieces.span(_P.MIDDLE, b, id_start + id_len, info_start - id_start - id_len)
        pieces.strings(_P.OLD_INFO, pa.array(stripped, pa.string()), np.arange(n))
    elif record_ids is not None:
        pieces.span(_P.MIDDLE, b, id_start + id_len, np.where(fill, cut - id_start - id_len, 0))

    # The new INFO: fields joined with ';' (built once per key), then NEAREST and RSID.
    # The representatives of the keys come in record order (their rows then come grouped).
    reps, inverse = first_occurrences(info_keys(found))
    shared, shared_start, shared_length = _info_strings(t, found, reps)
    shared_len = shared_length[inverse]
    # ';' between the old INFO and the new fields, '' or '.' (no fields at all): SEPARATORS
    sep = np.where(old_empty, np.where(shared_len > 0, 1, 2), np.where(shared_len > 0, 0, 1))
    pieces.span(_P.SEPARATOR, SEPARATORS, np.where(sep == 2, 1, 0), np.where(sep == 1, 0, 1))
    pieces.span(_P.NEW_INFO, shared, shared_start[inverse], shared_len)
    near = (found.nearest_gene >= 0) & (found.region == REGION_CODE["intergenic"])  # NEAREST: intergenic only
    if near.any():
        digits, digit_start, digit_length = format_uint(np.where(near, found.nearest_distance, 0))
        pieces.strings(_P.NEAREST, t.nearest_field, np.maximum(found.nearest_gene, 0), near)
        pieces.span(_P.DISTANCE, digits, digit_start, np.where(near, digit_length, 0))
    if has_known.any():
        if al.record.size == n:
            pieces.strings(_P.RSID, t.rsid_field(), al.known, has_known)
        else:
            values = pc.fill_null(take(t.known_ids, al.known, has_known), ".")
            pieces.strings(_P.RSID, _per_record(values, al.record, n, ";RSID=", record_known), np.arange(n))
    known_any = al.known_source > 0
    if known_any.any():
        if al.record.size == n:
            pieces.strings(_P.KNOWN, t.known_source_field, al.known_source, known_any)
        else:
            record_any = np.zeros(n, dtype=bool)
            record_any[al.record[known_any]] = True
            values = take(t.known_sources, al.known_source.astype(np.int64), None)
            pieces.strings(_P.KNOWN, _per_record(values, al.record, n, ";KNOWN_SOURCE=", record_any), np.arange(n))
    # FORMAT and samples with the line's own '\n' (one piece less a line); a '\r\n' line
    # gets a '\n' of its own
    own_newline = b[lines.end] == ord("\n")
    pieces.span(_P.REST, b, bound[8], lines.end - bound[8] + own_newline)
    pieces.span(_P.NEWLINE, b"\n", np.zeros(n, dtype=np.int64), ~own_newline)
    text_out = pieces.gather()
    written_id = None
    if ann.with_table:  # the file's ID, or the one filled in; null for '.'
        filled = None if record_ids is None else string_column(record_ids, np.arange(n), fill)
        written_id = strings_of([(b, id_start, np.where(id_missing, 0, id_len)), filled], ~id_missing | fill)
    return text_out, written_id


class _P:
    """The pieces of an output line, in order (columns of ``_Pieces``)."""

    HEAD, ID, FILLED_ID, MIDDLE, OLD_INFO, SEPARATOR, NEW_INFO, NEAREST, DISTANCE, RSID, KNOWN, REST, NEWLINE = range(
        13
    )
    COUNT = 13


SEPARATORS = b";."


class _Pieces:
    """One column of pieces per ``_P`` member (absent until set): ``textops.gather_columns``."""

    def __init__(self) -> None:
        self.columns: list[Column | Indexed | None] = [None] * _P.COUNT

    def span(self, column: int, source: Any, start: np.ndarray, length: np.ndarray) -> None:
        self.columns[column] = (source, start, length)

    def strings(self, column: int, values: pa.Array, index: np.ndarray, valid: np.ndarray | None = None) -> None:
        self.columns[column] = string_column(values, index, valid)

    def gather(self) -> np.ndarray:
        return gather_columns(self.columns)


def string_column(values: pa.Array, index: np.ndarray, valid: np.ndarray | None = None) -> Indexed:
    """values[index[i]] as the pieces of a ``gather_columns`` column (nothing where ``valid``
    is False or the value is null)."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1, offset=values.offset * 4)
    skip = None if valid is None else ~valid
    if values.null_count:  # the validity bits of the rows taken only (tables are up to 340k long)
        bits, at = np.frombuffer(values.buffers()[0], dtype=np.uint8), index + values.offset
        null = (bits[at >> 3] >> (at & 7)) & 1 == 0
        skip = null if skip is None else skip | null
    if skip is not None:
        index = np.where(skip, -1, index)
    data = values.buffers()[2]
    return Indexed(b"" if data is None else data, offsets, index)


def constant_column(text: bytes, present: np.ndarray) -> Column:
    """``text`` on the rows where ``present`` is True."""
    return (text, np.zeros(present.size, dtype=np.int64), np.where(present, len(text), 0))


Spans = tuple[np.ndarray, np.ndarray, np.ndarray]  # (text, start, length): one string per row


def joined(columns: list[Column | Indexed | None]) -> Spans:
    """Each row's pieces joined into one string (rows are contiguous in the text)."""
    text, bounds = _gathered(columns)
    return text, bounds[:-1], np.diff(bounds)


def _info_strings(t: OutputTables, found: Annotated, reps: np.ndarray) -> Spans:
    """The new INFO text (without NEAREST, RSID and the leading ';') of records ``reps``."""
    text, start, length = joined(
        [*_region_columns(t, found, reps), _class_column(t, found, reps), *_consequence_columns(t, found, reps)]
    )
    outside = (found.region[reps] < 0) & (length > 0)  # no GENE/REGION: the first field starts with ';'
    start[outside] += 1
    length[outside] -= 1
    return text, start, length


def _alleles_of(found: Annotated, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(allele rows, position in reps) of the records ``reps`` (ascending)."""
    n = found.rec.gs.size
    position = np.full(n, -1, dtype=np.int64)
    position[reps] = np.arange(reps.size)
    rows = np.flatnonzero(position[found.alleles.record] >= 0)
    return rows, position[found.alleles.record[rows]]


def _grouped(values: pa.Array, group: np.ndarray, n_groups: int, sep: str) -> pa.Array:
    """Values (grouped by ``group``, ascending) joined per group; '' for an empty group."""
    offsets = np.zeros(n_groups + 1, dtype=np.int32)
    np.cumsum(np.bincount(group, minlength=n_groups), out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(arrow(offsets), values), _str(sep))


def _region_columns(t: OutputTables, found: Annotated, reps: np.ndarray) -> list[Column | Indexed | None]:
    """'GENE=..;GENE_TYPE=..', ';REGION=..' ('REGION=..' alone without genes; nothing outside)."""
    ann = t.ann
    gene_set = found.gene_set[reps]
    has_gene = t.gene_set_present[gene_set]
    genes: list[Column | Indexed | None] = [string_column(t.gene_set_field, gene_set), None]
    own: list[int] = []
    if found.multi_sets:
        own = np.flatnonzero(np.isin(reps, np.fromiter(found.multi_sets, dtype=np.int64))).tolist()
    if own:  # REF across segments: the union of their genes
        names = []
        for k in own:
            members = found.multi_sets[int(reps[k])]
            names.append(
                "GENE="
                + ",".join(ann.gene_name(g) for g in members)
                + ";GENE_TYPE="
                + ",".join(ann.type_names[int(ann.gene_type[g])] for g in members)
            )
        mine = np.zeros(reps.size, dtype=bool)
        mine[own] = True
        position = np.zeros(reps.size, dtype=np.int64)
        position[own] = np.arange(len(own))
        genes = [
            string_column(t.gene_set_field, gene_set, ~mine),
            string_column(pa.array(names, _STRING), position, mine),
        ]
        has_gene = has_gene | mine
    region = found.region[reps]
    index = np.maximum(region, 0) + np.where(has_gene, 0, len(REGIONS))
    return [*genes, string_column(t.region_field, index, region >= 0)]


def _class_column(t: OutputTables, found: Annotated, reps: np.ndarray) -> Indexed:
    """';CPG;REPEAT;BLACKLIST' as set, then ';VC=..;TSTV=..' (one value per ALT)."""
    al = found.alleles
    flag_bits = found.flags[reps].astype(np.int64) @ np.array([1, 2, 4], dtype=np.int64)
    rows, pos = _alleles_of(found, reps)
    if rows.size == reps.size:  # one ALT each: a table of every combination
        return string_column(t.flags_classes, (flag_bits * 6 + al.vc[rows]) * 3 + al.ts[rows])
    flags = pc.take(t.flags_classes, arrow(flag_bits * 18))
    vc = al.vc[rows].astype(np.int64)
    ts = al.ts[rows].astype(np.int64)
    has_vc = np.bincount(pos[vc > 0], minlength=reps.size) > 0
    has_ts = np.bincount(pos[ts > 0], minlength=reps.size) > 0
    classes = with_nulls(
        pc.binary_join_element_wise(_str(";VC="), _grouped(pc.take(t.classes, arrow(vc)), pos, reps.size, ","), _EMPTY),
        has_vc,
    )
    tstv = with_nulls(
        pc.binary_join_element_wise(_str(";TSTV="), _grouped(pc.take(t.tstv, arrow(ts)), pos, reps.size, ","), _EMPTY),
        has_ts,
    )
    text = pc.binary_join_element_wise(flags, classes, tstv, _EMPTY, null_handling="replace", null_replacement="")
    return string_column(text, np.arange(reps.size))


def _consequence_columns(t: OutputTables, found: Annotated, reps: np.ndarray) -> list[Column | Indexed | None]:
    """';CONSEQUENCE=Allele|Gene|Gene_type|Consequence,...', ';MOST_SEVERE=term' (nothing
    when the record has no entry)."""
    al, cq = found.alleles, found.csq
    n = found.rec.gs.size
    position = np.full(n, -1, dtype=np.int64)
    position[reps] = np.arange(reps.size)  # reps ascending: rows come grouped in order
    owner = position[al.record[cq.allele]]
    rows = np.flatnonzero(owner >= 0)
    if not rows.size:
        return []
    group = owner[rows]
    gene = np.where(cq.gene[rows] >= 0, cq.gene[rows], len(t.gene_names))  # intergenic: the last, '|||'
    allele = cq.allele[rows]
    last = np.append(group[1:] != group[:-1], True)  # the last entry of its record: no ','
    entries, entry_start, entry_length = joined(
        [
            (found.rec.text_raw, al.at[allele], al.length[allele]),
            string_column(t.entry_middle, gene),
            string_column(*_TERM_TEXTS.of(cq.terms[rows])),
            constant_column(b",", ~last),
        ]
    )
    count = np.bincount(group, minlength=reps.size)
    present = count > 0
    first = offsets_of(count)
    ends = np.append(entry_start, entries.size)
    worst = csq.most_severe_rank(cq.record_terms[reps])
    return [
        constant_column(b";CONSEQUENCE=", present),
        (entries, ends[first], ends[first + count] - ends[first]),
        string_column(t.most_severe_field, np.maximum(worst, 0), (worst >= 0) & present),
    ]


def _ids_of_records(t: OutputTables, found: Annotated) -> pa.Array:
    """Per record: the rsIDs of its ALTs, ';'-joined (null when none)."""
    al = found.alleles
    n = found.rec.gs.size
    rows = np.flatnonzero(al.known >= 0)
    owner = al.record[rows]
    first = np.full(n, -1, dtype=np.int64)
    first[owner[::-1]] = rows[::-1]
    ids = take(t.known_ids, np.maximum(al.known[np.maximum(first, 0)], 0), first >= 0)
    several = np.flatnonzero(np.bincount(owner, minlength=n) > 1)
    if several.size:
        values = ids.to_pylist()
        for r in several.tolist():
            values[r] = ";".join(dict.fromkeys(t.ann.known_id[int(al.known[i])] for i in rows[owner == r].tolist()))
        ids = pa.array(values, type=pa.string())
    return ids


def variants_batch(t: OutputTables, found: Annotated, written_id: pa.Array) -> pa.RecordBatch:
    """One row per record and ALT; ``record`` is block-local (the writer adds the offset)."""
    ann = t.ann
    lines, rec, al, cq = found.lines, found.rec, found.alleles, found.csq
    r = al.record
    rows = arrow(r)
    # Usually every record has one ALT: the record columns are the row columns as they are.
    one_alt = r.size == rec.gs.size and bool((r == np.arange(r.size)).all())

    def per_row(values: pa.Array) -> pa.Array:
        return values if one_alt else pc.take(values, rows)

    b = lines.buf
    qual_s, qual_l = lines.field(5)
    qual = _qual(b, qual_s, qual_l)

    # Genes of each record (its GENE set, or the union when the REF crosses segments).
    mo = ann.set_member_offsets
    counts = np.where(rec.annotated, mo[found.gene_set + 1] - mo[found.gene_set], 0).astype(np.int64)
    members = ann.set_members[ranges(np.where(rec.annotated, mo[found.gene_set], 0), counts)].astype(np.int64)
    start = offsets_of(counts)
    if found.multi_sets:
        keys = np.array(list(found.multi_sets), dtype=np.int64)
        extra = [np.array(m, dtype=np.int64) for m in found.multi_sets.values()]
        lengths = np.array([e.size for e in extra], dtype=np.int64)
        start[keys] = members.size + offsets_of(lengths)
        counts[keys] = lengths
        members = np.concatenate([members, *extra])
    row_counts = counts[r]
    row_members = members[ranges(start[r], row_counts)]
    list_offsets = arrow(np.concatenate([[0], np.cumsum(row_counts)]).astype(np.int32))
    flag_bits = found.flags.astype(np.int64) @ np.array([1, 2, 4], dtype=np.int64)
    worst = csq.most_severe_rank(cq.allele_terms)
    from_file = (al.known < 0) & (al.known_source == 2)  # known by the record's ID (few)
    if from_file.any():
        from_file &= valid_rows(written_id)[r]
    columns: dict[str, Any] = {
        "record": rows,
        "chrom": per_row(field_strings(lines, 0)),
        "pos": per_row(arrow(rec.pos)),
        "id": per_row(written_id),
        # the database's rsID, else (known from the file) the record's ID
        "rsid": strings_of(
            [
                string_column(t.known_ids, al.known, al.known >= 0),
                string_column(written_id, r, from_file) if from_file.any() else None,
            ],
            (al.known >= 0) | from_file,
        ),
        "known_source": coded(t.known_sources, al.known_source, al.known_source > 0),
        "ref": per_row(field_strings(lines, 3)),
        "alt": alt_strings(found),
        "qual": arrow(qual[r], mask=np.isnan(qual[r])),
        "filter": per_row(field_strings(lines, 6)),
        "genes": pa.ListArray.from_arrays(list_offsets, pc.take(t.gene_names, arrow(row_members))),
        "gene_types": pa.ListArray.from_arrays(list_offsets, coded(t.type_names, ann.gene_type[row_members])),
        "region": coded(t.region_names, found.region[r], found.region[r] >= 0),
        "nearest_gene": take(t.gene_names, np.maximum(found.nearest_gene[r], 0), found.nearest_gene[r] >= 0),
        "nearest_distance": arrow(found.nearest_distance[r], mask=found.nearest_gene[r] < 0),
        "flags": pc.take(t.flag_lists, arrow(flag_bits[r])),
        "variant_class": coded(t.classes, al.vc, al.vc > 0),
        "tstv": coded(t.tstv, al.ts, al.ts > 0),
        "consequence": coded(t.term_names, worst, worst >= 0),
        "consequences": _TERM_TEXTS.lists_of(cq.allele_terms),
    }
    # filled later: the gene context by with_gene_context, a bundle's columns by its effects stage
    for name in (*GENE_CONTEXT_COLUMNS, *BUNDLE_COLUMNS):
        columns[name] = pa.nulls(r.size, SCHEMA.field(name).type)
    return pa.RecordBatch.from_arrays([columns[f.name] for f in BATCH_SCHEMA], schema=BATCH_SCHEMA)


GENE_CONTEXT_COLUMNS = ("diseases", "phenotype_count")
_GENES, _DISEASES, _PHENOTYPE_COUNT = (SCHEMA.get_field_index(n) for n in ("genes", *GENE_CONTEXT_COLUMNS))


def with_gene_context(t: OutputTables, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The rows with their disease ids and HPO term count, from their genes: taken from the
    gene's own entry when one of the row's genes is an HPO gene (nearly always), merged
    otherwise. Run by the table writer's thread (``parquet.VariantsWriter``'s ``prepare``), so
    the first records are written without waiting for the HPO context."""
    hpo_context = t.hpo
    lists, counts = hpo_context.diseases, hpo_context.counts
    genes = batch.column(_GENES)
    offsets = genes.offsets.to_numpy()
    row_counts = np.diff(offsets).astype(np.int64)
    # the values under the offsets (ListArray.flatten would import pyarrow.compute: ~40 ms)
    names = genes.values.slice(offsets[0], offsets[-1] - offsets[0])
    found = pc.fill_null(pc.index_in(names, hpo_context.keys), -1).to_numpy().astype(np.int64)
    hpo = np.where(found >= 0, hpo_context.key_gene[found], -1)
    rows = row_counts.size
    has = hpo >= 0
    member_row = np.repeat(np.arange(rows, dtype=np.int64), row_counts)[has]
    per_row = np.bincount(member_row, minlength=rows)
    pick = np.full(rows, len(lists) - 1, dtype=np.int64)  # the empty list
    pick[member_row[::-1]] = hpo[has][::-1]  # the row's first HPO gene
    count = counts[pick]
    multi = np.flatnonzero(per_row > 1)
    if multi.size:
        term_offsets, term_values = hpo_context.terms.offsets.to_numpy(), hpo_context.terms.values.to_numpy()
        members = hpo[has]  # the HPO genes of the rows with several only (few of a block)
        first = offsets_of(per_row)
        merged: dict[tuple[int, ...], int] = {}
        extra: list[list[str]] = []
        for row in multi.tolist():
            key = tuple(sorted(set(members[first[row] : first[row] + per_row[row]].tolist())))
            if key not in merged:
                # the union of their diseases and the count of distinct terms of any of them
                merged[key] = len(lists) + len(extra)
                extra.append(sorted({d for g in key for d in lists[g].as_py()}))
                # (a set: np.unique would import numpy.ma, ~40 ms)
                terms = {t for g in key for t in term_values[term_offsets[g] : term_offsets[g + 1]].tolist()}
                counts = np.append(counts, len(terms))
            pick[row] = merged[key]
        lists = pa.concat_arrays([lists, pa.array(extra, lists.type)])
        count = counts[pick]
    columns = batch.columns
    columns[_DISEASES], columns[_PHENOTYPE_COUNT] = pc.take(lists, arrow(pick)), arrow(count, mask=per_row == 0)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


_DIGITS = 15  # a decimal of at most 15 digits is an integer below 2**53 over a power of ten
_POW10 = np.array([10**k for k in range(_DIGITS + 1)], dtype=np.int64)


def _qual(b: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """QUAL as float; NaN for '.' (missing) or text that is not a number. Integers and plain
    decimals (digits.digits, at most 15 digits) array-wise: N / 10**k of two exact doubles is
    one correctly rounded division, the double float() reads; other text through float()."""
    value, ok = parse_uint(b, start, length, max_digits=_DIGITS)
    out = np.where(ok, value.astype(np.float64), np.nan)
    # the first '.' of each field (-1: none)
    dot = np.full(start.size, -1, dtype=np.int64)
    for j in range(min(int(length.max()) if length.size else 0, _DIGITS + 1)):
        dot[(dot < 0) & (length > j) & (b[np.where(length > j, start + j, 0)] == ord("."))] = j
    frac_len = np.clip(length - dot - 1, 0, _DIGITS)
    whole, whole_ok = parse_uint(b, start, np.maximum(dot, 0), max_digits=_DIGITS)
    frac, frac_ok = parse_uint(b, start + dot + 1, frac_len, max_digits=_DIGITS)
    decimal = ~ok & (dot > 0) & whole_ok & frac_ok & (length - 1 <= _DIGITS)
    n = whole[decimal] * _POW10[frac_len[decimal]] + frac[decimal]
    out[decimal] = n.astype(np.float64) / _POW10[frac_len[decimal]].astype(np.float64)
    missing = (length == 1) & (dot == 0)  # '.', most files' QUAL
    for i in np.flatnonzero(~ok & ~decimal & ~missing).tolist():
        try:
            out[i] = float(b[start[i] : start[i] + length[i]].tobytes())
        except ValueError:
            pass
    return out
