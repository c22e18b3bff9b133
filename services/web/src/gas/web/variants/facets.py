"""The summary's counts of the rows a filter keeps, from one local copy: what the charts
draw when the table has an active filter.

The result has the engine summary's shape and units (`<name>.summary.json`, written by
gas.annotator.engine.annotate), so the job page draws it with the same code, and for the
empty filter it equals the engine's own figures (tests/web/test_web_charts.py holds the two
to each other):

- per record (a VCF data line counts once, whichever of its ALTs match): regions,
  chromosomes (main ones spelled as the summary does, without "chr"), flags, genes (once
  per gene a record overlaps) and the most severe consequence (the most severe of its
  matching ALTs'); only records annotated against the assembly count for regions, genes
  and consequences (the others have no region);
- per ALT (one table row each): variant classes, ts/tv, known by source and novel (an
  annotated ALT with a class and no rsID: `table.novel`, the table's `known=novel`).

Rows are selected by `LocalTable.candidate_batches` and `LocalTable.mask`, the table's own
filter code, one batch and the columns below at a time; memory is a few batches plus one
count per distinct value. Results are kept per (local copy, filter) in a small LRU.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gas.core.vocab import FLAGS, KNOWN_SOURCES, REGIONS, TSTV, VARIANT_CLASSES
from gas.web.variants.cache import _Lru
from gas.web.variants.query import SEVERITY, VariantFilter, normalise_chrom
from gas.web.variants.table import LocalTable, novel

# The columns the counts read, besides the filter's own.
FACET_COLUMNS = (
    "record",
    "chrom",
    "region",
    "flags",
    "genes",
    "consequence",
    "variant_class",
    "tstv",
    "rsid",
    "known_source",
)
TOP_GENES = 20  # as many as the engine's summary names
_SEVERITY = pa.array(SEVERITY, pa.string())


@dataclass
class Facets:
    """Counts of the rows a filter keeps; `summary()` is the engine summary's shape."""

    regions: Counter[str] = field(default_factory=Counter)
    consequences: Counter[str] = field(default_factory=Counter)
    classes: Counter[str] = field(default_factory=Counter)
    tstv: Counter[str] = field(default_factory=Counter)
    known_sources: Counter[str] = field(default_factory=Counter)
    novel: int = 0
    flags: Counter[str] = field(default_factory=Counter)
    contigs: Counter[str] = field(default_factory=Counter)
    genes: Counter[str] = field(default_factory=Counter)
    rows: int = 0
    records: int = 0

    def summary(self) -> dict[str, Any]:
        transitions, transversions = (self.tstv.get(kind, 0) for kind in TSTV)
        known = sum(self.known_sources.values())
        top = heapq.nsmallest(TOP_GENES, self.genes.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "regions": {r: self.regions.get(r, 0) for r in REGIONS},
            "consequences": {t: self.consequences[t] for t in SEVERITY if self.consequences.get(t)},
            "variant_classes": {c: self.classes.get(c, 0) for c in VARIANT_CLASSES},
            "tstv": dict(zip(TSTV, (transitions, transversions), strict=True))
            | {"ratio": round(transitions / transversions, 3) if transversions else None},
            "known": known,
            "novel": self.novel,
            "known_sources": {s: self.known_sources.get(s, 0) for s in KNOWN_SOURCES},
            "flags": {f: self.flags.get(f, 0) for f in FLAGS},
            "contigs": dict(self.contigs),
            "top_genes": [{"gene": g, "variants": n} for g, n in top],
            "matched": {"rows": self.rows, "records": self.records},
        }

    def terms(self, key: str) -> dict[str, int]:
        """Every value of one chart with its count (the "other" bar's list)."""
        source: dict[str, Counter[str]] = {
            "regions": self.regions,
            "consequences": self.consequences,
            "classes": self.classes,
            "flags": self.flags,
            "chromosomes": self.contigs,
            "genes": self.genes,
        }
        return dict(source[key])


_CACHE = _Lru(16)  # (local copy, filter) -> Facets; a few KB each, the genes' counts the most


def facet_counts(table: LocalTable, filt: VariantFilter) -> Facets:
    """The counts of the rows `filt` keeps (cached per local copy and filter)."""
    key = (table.path, filt)
    cached: Facets | None = _CACHE.get(key)
    if cached is not None:
        return cached
    out = Facets()
    last_record = -1  # the last record counted: a record's ALTs may straddle two batches
    pending: tuple[int, int] | None = None  # (record, best consequence rank) not yet counted
    ranks = np.zeros(len(SEVERITY) + 2, dtype=np.int64)  # records per most severe rank; unknown, none
    for batch in table.matching_batches(filt, list(FACET_COLUMNS)):  # the table's own filtering
        out.rows += batch.num_rows
        _count_alleles(out, batch)
        records = batch.column("record").to_numpy()
        # The first matching row of each record (rows are in record order).
        starts = np.flatnonzero(np.concatenate([[True], records[1:] != records[:-1]]))
        if records[0] == last_record:
            firsts = starts[1:]
        else:
            firsts = starts
        last_record = int(records[-1])
        out.records += len(firsts)
        _count_records(out, batch.take(pa.array(firsts, pa.int64())))
        pending = _count_consequences(ranks, batch, records, starts, pending)
    if pending is not None:
        ranks[pending[1]] += 1
    out.consequences.update({t: int(n) for t, n in zip(SEVERITY, ranks.tolist(), strict=False) if n})
    _CACHE.put(key, out)
    return out


def _value_counts(column: pa.Array) -> dict[str, int]:
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    return {v["values"]: v["counts"] for v in pc.value_counts(column).to_pylist() if v["values"] is not None}


def _count_alleles(out: Facets, batch: pa.RecordBatch) -> None:
    classes = batch.column("variant_class")
    out.classes.update(_value_counts(classes))
    out.tstv.update(_value_counts(batch.column("tstv")))
    out.known_sources.update(_value_counts(batch.column("known_source")))
    out.novel += int(novel(batch).sum())  # the rows the table's known=novel keeps


def _count_records(out: Facets, firsts: pa.RecordBatch) -> None:
    """Per record: region, chromosome, flags and genes of its first matching row (a
    record's ALTs share them)."""
    out.regions.update(_value_counts(firsts.column("region")))
    for chrom, n in _value_counts(firsts.column("chrom")).items():
        out.contigs[normalise_chrom(chrom) or chrom] += n
    out.flags.update(_value_counts(pc.list_flatten(firsts.column("flags"))))
    genes = firsts.column("genes")
    # A record counts once per gene name it overlaps (a name may be listed twice).
    parents = pc.list_parent_indices(genes).to_numpy()
    names = pc.list_flatten(genes)
    if len(names):
        pairs = pa.table({"p": parents, "g": names}).group_by(["p", "g"]).aggregate([])
        out.genes.update(_value_counts(pairs.column("g").combine_chunks()))


def _count_consequences(
    ranks: np.ndarray, batch: pa.RecordBatch, records: np.ndarray, starts: np.ndarray, pending: tuple[int, int] | None
) -> tuple[int, int] | None:
    """Per record, the most severe consequence of its matching ALTs; the batch's last record
    stays pending (its ALTs may go on in the next batch)."""
    column = batch.column("consequence")
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    unknown = len(SEVERITY)  # a term outside the list (not counted), then none
    rank = pc.fill_null(pc.index_in(column, value_set=_SEVERITY), unknown).to_numpy(zero_copy_only=False)
    rank = rank.astype(np.int64)
    rank[pc.is_null(column).to_numpy(zero_copy_only=False)] = unknown + 1
    best = np.minimum.reduceat(rank, starts)
    run_records = records[starts]
    k = 0
    if pending is not None and run_records[0] == pending[0]:
        pending = (pending[0], min(pending[1], int(best[0])))
        k = 1
    if k < len(starts):
        if pending is not None:
            ranks[pending[1]] += 1
        ranks += np.bincount(best[k:-1], minlength=len(ranks))
        pending = (int(run_records[-1]), int(best[-1]))
    return pending
