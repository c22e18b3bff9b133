"""The samples' genotypes as a second Parquet file beside the variants table (decision 99).

``<name>.genotypes.parquet`` has one row per row of ``<name>.variants.parquet``, in the same
order (row groups of about GROUP_CELLS rows x samples): ``record``, then per sample i (the ``#CHROM`` line's order;
the names are the schema metadata ``gas.samples``, JSON) ``s<i>.code`` (int8, below),
``s<i>.gt`` (the GT as written, dictionary-encoded) and ``s<i>.dp`` / ``s<i>.gq`` (int32) when
the header declares DP / GQ. A viewer filtering on one sample reads one int8 column.

The code says what the sample has of *this row's* ALT, so a filter is one comparison per
row; null when the sample has no GT. It follows bcftools' genotype classes (``GT="alt"``,
``"het"``, ``"AA"``, ``"mis"``): a GT with any missing allele (``./1``) is a no-call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from gas.annotator.engine.output import arrow, strings_from
from gas.annotator.engine.textops import parse_uint
from gas.core.vocab import (
    GENOTYPE_CLASSES,
    GENOTYPES_SAMPLES_KEY,
    GENOTYPES_SCHEMA_KEY,
    GENOTYPES_SCHEMA_VERSION,
    HAPLOID_ALT,
    HET,
    HOM_ALT,
    NO_CALL,
    OTHER_ALT,
    REF,
    genotype_column,
)

CARRIER_CODES = GENOTYPE_CLASSES["carrier"]
# The summary keeps the per-sample counts of this many samples (the first, in file order).
SUMMARY_SAMPLES = 2000
SAMPLE_NAME_CHARS = 64
# Rows x samples per row group (~50 MB in memory at most before it is written).
GROUP_CELLS = 4_000_000
COUNT_NAMES = ("variants", "het", "hom_alt", "no_call", "ts", "tv")
_MISSING, _ABSENT, _BAD = -1, -2, -3  # allele codes: '.', no second allele, not a number
_DIGIT = np.full(256, _BAD, dtype=np.int16)
_DIGIT[ord("0") : ord("9") + 1] = np.arange(10)
_DIGIT[ord(".")] = _MISSING


@dataclass
class SampleSpec:
    names: list[str]
    dp: bool  # the header declares FORMAT DP / GQ
    gq: bool

    @classmethod
    def from_header(cls, chrom_line: str, meta: list[str]) -> SampleSpec:
        names = chrom_line.rstrip("\n").split("\t")[9:]
        return cls(names, any(m.startswith("##FORMAT=<ID=DP,") for m in meta),
                   any(m.startswith("##FORMAT=<ID=GQ,") for m in meta))  # fmt: skip

    def fields(self) -> list[pa.Field]:
        out = [pa.field("record", pa.int64(), nullable=False)]
        for i in range(len(self.names)):
            out += [pa.field(genotype_column(i, "code"), pa.int8()), pa.field(genotype_column(i, "gt"), pa.string())]
            out += [pa.field(genotype_column(i, "dp"), pa.int32())] if self.dp else []
            out += [pa.field(genotype_column(i, "gq"), pa.int32())] if self.gq else []
        return out


@dataclass
class GenotypeBlock:
    batch: pa.RecordBatch  # ``record`` block-local, like the variants batch
    counts: np.ndarray  # (samples, len(COUNT_NAMES)) int64


def _alleles(text: str) -> list[int]:
    return [-1 if a == "." else int(a) for a in text.replace("|", "/").split("/")]


def genotype_block(text: Any, table: pa.RecordBatch, spec: SampleSpec) -> GenotypeBlock:
    """The genotype rows of one block of annotated lines (``text``) whose variants rows are
    ``table``. Vectorised over records x samples; GTs other than ``a/b``, ``a|b`` and ``a``
    with one-digit alleles (``10/12``, polyploid) are parsed one by one."""
    n = len(spec.names)
    buf = np.frombuffer(text, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    line_start = np.concatenate([[0], nl[:-1] + 1]).astype(np.int64)
    line_end = nl.astype(np.int64)
    r = line_start.size
    tabs = np.append(np.flatnonzero(buf == 9), buf.size).astype(np.int64)
    colons = np.append(np.flatnonzero(buf == 58), buf.size).astype(np.int64)
    first_tab = np.searchsorted(tabs, line_start)
    ntabs = np.searchsorted(tabs, line_end) - first_tab
    j = np.arange(n)
    # Sample j is column 9 + j: after tab 8 + j, up to tab 9 + j or the line's end.
    cell_start = tabs[np.minimum(first_tab[:, None] + 8 + j, tabs.size - 1)] + 1
    cell_end = np.where(9 + j < ntabs[:, None], tabs[np.minimum(first_tab[:, None] + 9 + j, tabs.size - 1)],
                        line_end[:, None])  # fmt: skip
    present = (8 + j) < ntabs[:, None]
    fmt_start = tabs[np.minimum(first_tab + 7, tabs.size - 1)] + 1
    fmt_end = tabs[np.minimum(first_tab + 8, tabs.size - 1)]
    keys: dict[bytes, list[int]] = {}
    index = np.full((r, 3), -1, dtype=np.int64)  # per record: subfield of GT, DP, GQ
    raw = bytes(text)
    for i in range(r):
        fmt = raw[fmt_start[i] : fmt_end[i]] if ntabs[i] >= 9 else b""
        where = keys.get(fmt)
        if where is None:
            names = fmt.split(b":")
            where = keys[fmt] = [names.index(k) if k in names else -1 for k in (b"GT", b"DP", b"GQ")]
        index[i] = where
    first_colon = np.searchsorted(colons, cell_start)

    def subfield(k: int) -> tuple[np.ndarray, np.ndarray]:
        f = index[:, k][:, None]
        before = colons[np.minimum(first_colon + np.maximum(f - 1, 0), colons.size - 1)]
        start = np.where(f == 0, cell_start, before + 1)
        after = colons[np.minimum(first_colon + np.maximum(f, 0), colons.size - 1)]
        end = np.minimum(after, cell_end)
        ok = present & (f >= 0) & (start <= cell_end)
        return np.where(ok, start, 0), np.where(ok, end - start, -1)

    gs, gl = subfield(0)
    has_gt = gl > 0
    c0 = _DIGIT[buf[np.minimum(gs, buf.size - 1)]]
    c1 = buf[np.minimum(gs + 1, buf.size - 1)]
    c2 = _DIGIT[buf[np.minimum(gs + 2, buf.size - 1)]]
    a1 = np.where(has_gt, c0, _MISSING).astype(np.int16)
    a2 = np.where(gl == 3, c2, _ABSENT).astype(np.int16)
    fast = (gl == 1) | ((gl == 3) & ((c1 == 47) | (c1 == 124)))
    fast &= (a1 != _BAD) & (a2 != _BAD)
    slow = np.argwhere(has_gt & ~fast)  # rare: multi-digit alleles, polyploid, odd text
    extra: dict[tuple[int, int], list[int]] = {}
    for i, s in slow.tolist():
        try:
            alleles = _alleles(raw[gs[i, s] : gs[i, s] + gl[i, s]].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            alleles = [-1]  # unreadable: a no-call, as bcftools reads it
        if len(alleles) <= 2 and max(alleles) < 32000:
            a1[i, s], a2[i, s] = alleles[0], alleles[1] if len(alleles) == 2 else _ABSENT
        else:
            a1[i, s], a2[i, s] = -1, _ABSENT
            extra[(i, s)] = alleles

    # Rows: the variants batch's (one per record and ALT, in order); k = the row's ALT, 1-based.
    row_record = table.column(0).to_numpy()
    starts = np.searchsorted(row_record, np.arange(r))
    k = (np.arange(row_record.size) - starts[row_record] + 1).astype(np.int16)[:, None]
    b1, b2 = a1[row_record], a2[row_record]
    haploid = b2 == _ABSENT
    missing = (b1 == _MISSING) | (b2 == _MISSING)
    copies = (b1 == k).astype(np.int8) + (b2 == k)
    other = ((b1 > 0) & (b1 != k)) | ((b2 > 0) & (b2 != k))
    code = np.where(copies == 0, np.where(other, OTHER_ALT, REF),
                    np.where(haploid, HAPLOID_ALT, np.where(other | (copies == 1), HET, HOM_ALT)))  # fmt: skip
    code = np.where(missing, NO_CALL, code).astype(np.int8)
    for (i, s), alleles in extra.items():  # polyploid and huge allele numbers, exactly
        for row in range(int(starts[i]), int(starts[i + 1]) if i + 1 < r else row_record.size):
            code[row, s] = _code(alleles, int(k[row, 0]))
    no_gt = ~has_gt[row_record]

    # Per-sample counts, per record as bcftools view -s S -i 'GT="..."' counts them.
    rec_missing = (a1 == _MISSING) | (a2 == _MISSING)
    carrier = ~rec_missing & ((a1 > 0) | (a2 > 0))
    het = carrier & (a2 != _ABSENT) & (a1 != a2)
    hom_alt = carrier & (a1 == a2)
    no_call = has_gt & rec_missing
    for (i, s), alleles in extra.items():
        miss = -1 in alleles
        carrier[i, s] = not miss and max(alleles) > 0
        het[i, s] = carrier[i, s] and len(set(alleles)) > 1
        hom_alt[i, s] = carrier[i, s] and len(alleles) > 1 and len(set(alleles)) == 1
        no_call[i, s] = miss
    tstv = table.column("tstv").to_numpy(zero_copy_only=False)
    carried = np.isin(code, CARRIER_CODES)
    ts = (carried & (tstv == "ts")[:, None]).sum(axis=0)
    tv = (carried & (tstv == "tv")[:, None]).sum(axis=0)
    counts = np.stack([carrier.sum(axis=0), het.sum(axis=0), hom_alt.sum(axis=0), no_call.sum(axis=0), ts, tv], axis=1)

    # Every column is built at once over the (sample, row) matrix in sample-major order, then
    # sliced per sample (zero-copy): per-sample calls cost ~0.9 us a cell in call overhead.
    rows = row_record.size
    columns: list[pa.Array] = [table.column(0)]
    codes = arrow(np.ascontiguousarray(code.T).ravel(), mask=np.ascontiguousarray(no_gt.T).ravel())
    gt_start = np.ascontiguousarray(gs.T[:, row_record]).ravel()
    gt_len = np.ascontiguousarray(np.maximum(gl, 0).T[:, row_record]).ravel()
    gts = _with_nulls(strings_from(buf, gt_start, gt_len), np.ascontiguousarray(~no_gt.T).ravel())
    numbers = [_ints(buf, *(np.ascontiguousarray(a.T[:, row_record]).ravel() for a in subfield(k)))
             for k, wanted in ((1, spec.dp), (2, spec.gq)) if wanted]  # fmt: skip
    for s in range(n):
        at = s * rows
        columns += [codes.slice(at, rows), gts.slice(at, rows), *(e.slice(at, rows) for e in numbers)]
    batch = pa.RecordBatch.from_arrays(columns, schema=pa.schema(spec.fields()))
    return GenotypeBlock(batch, counts.astype(np.int64))


def _code(alleles: list[int], k: int) -> int:
    if -1 in alleles:
        return NO_CALL
    copies = alleles.count(k)
    if not copies:
        return OTHER_ALT if any(a > 0 for a in alleles) else REF
    if len(alleles) == 1:
        return HAPLOID_ALT
    return HOM_ALT if copies == len(alleles) else HET


def _with_nulls(values: pa.Array, valid: np.ndarray) -> pa.Array:
    if valid.all():
        return values
    return pa.Array.from_buffers(values.type, len(values), [pa.py_buffer(np.packbits(valid, bitorder="little")),
                                 *values.buffers()[1:]])  # fmt: skip


def _ints(buf: np.ndarray, start: np.ndarray, length: np.ndarray) -> pa.Array:
    value, ok = parse_uint(buf, start, np.maximum(length, 0), max_digits=9)
    return arrow(value.astype(np.int32), mask=~ok)


class GenotypesWriter:
    """The genotypes file, one row group per block (the variants table's row groups)."""

    def __init__(self, path: Path, spec: SampleSpec, metadata: dict[str, str]):
        import pyarrow.parquet as pq

        self.spec = spec
        meta = {
            **metadata,
            GENOTYPES_SAMPLES_KEY: json.dumps(spec.names),
            GENOTYPES_SCHEMA_KEY: GENOTYPES_SCHEMA_VERSION,
        }
        self.schema = pa.schema(spec.fields()).with_metadata(meta)
        gt_columns = [genotype_column(i, "gt") for i in range(len(spec.names))]
        self.writer: Any = pq.ParquetWriter(
            str(path), self.schema, compression="zstd", compression_level=1, use_dictionary=gt_columns,
            write_statistics=["record"],
        )  # fmt: skip
        self.counts = np.zeros((len(spec.names), len(COUNT_NAMES)), dtype=np.int64)
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0

    def write(self, block: GenotypeBlock, first_record: int) -> None:
        """Add a block's rows; they go to the file in row groups of about GROUP_CELLS cells
        (a row group per block made 400-column files of ~900-row groups: per-column-chunk
        costs were 4 of the engine's 4.8 s of CPU at 20k records x 100 samples)."""
        self.counts += block.counts
        if block.batch.num_rows == 0:
            return
        import pyarrow.compute as pc

        record = pc.add(block.batch.column(0), pa.scalar(first_record, pa.int64()))
        self.pending.append(pa.RecordBatch.from_arrays([record, *block.batch.columns[1:]], schema=self.schema))
        self.pending_rows += block.batch.num_rows
        if self.pending_rows * max(1, len(self.spec.names)) >= GROUP_CELLS:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.Table.from_batches(self.pending), row_group_size=self.pending_rows)
            self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        if self.writer is not None:
            self._flush()
            self.writer.close()
            self.writer = None

    def summary(self) -> dict[str, Any]:
        """Per-sample counts for the job page: the first SUMMARY_SAMPLES samples."""
        kept = self.counts[:SUMMARY_SAMPLES]
        out: dict[str, Any] = {
            "samples": len(self.spec.names),
            "counted": int(kept.shape[0]),
            "names": [name[:SAMPLE_NAME_CHARS] for name in self.spec.names[:SUMMARY_SAMPLES]],
        }
        for c, name in enumerate(COUNT_NAMES):
            out[name] = kept[:, c].tolist()
        return out
