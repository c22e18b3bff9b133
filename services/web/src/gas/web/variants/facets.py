"""The summary's counts of the rows a filter keeps, from one local copy: what the charts
draw when the table has an active filter.

The result has the engine summary's shape and units (`<name>.summary.json`, written by
gas.annotator.engine.annotate), so the job page draws it with the same code, and for the
empty filter it equals the engine's own figures (tests/web/test_web_charts.py holds the two
to each other):

Every count is of rows, one per ALT, as the table's "Showing N" and the engine's summary
count them (decision 113), so each bar is the row count of the table its link opens:
regions, chromosomes (main ones spelled as the summary does, without "chr"), flags, genes
(once per gene a row overlaps), consequences (the row's most severe term), variant classes,
ts/tv, known by source and novel (an annotated ALT with a class and no rsID: `table.novel`,
the table's `known=novel`). Only rows annotated against the assembly have a region, genes
and consequences; `matched` also gives the records (VCF data lines) the rows belong to.

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
    for batch in table.matching_batches(filt, list(FACET_COLUMNS)):  # the table's own filtering
        out.rows += batch.num_rows
        _count_rows(out, batch)
        records = batch.column("record").to_numpy()
        firsts = np.concatenate([[records[0] != last_record], records[1:] != records[:-1]])
        out.records += int(firsts.sum())
        last_record = int(records[-1])
    _CACHE.put(key, out)
    return out


def _value_counts(column: pa.Array) -> dict[str, int]:
    if pa.types.is_dictionary(column.type):
        column = column.cast(pa.string())
    return {v["values"]: v["counts"] for v in pc.value_counts(column).to_pylist() if v["values"] is not None}


def _count_rows(out: Facets, batch: pa.RecordBatch) -> None:
    """Every chart counts rows (one per ALT), as the engine's summary does."""
    out.classes.update(_value_counts(batch.column("variant_class")))
    out.tstv.update(_value_counts(batch.column("tstv")))
    out.known_sources.update(_value_counts(batch.column("known_source")))
    out.novel += int(novel(batch).sum())  # the rows the table's known=novel keeps
    out.regions.update(_value_counts(batch.column("region")))
    for chrom, n in _value_counts(batch.column("chrom")).items():
        out.contigs[normalise_chrom(chrom) or chrom] += n
    out.flags.update(_value_counts(pc.list_flatten(batch.column("flags"))))
    terms = _value_counts(batch.column("consequence"))
    out.consequences.update({t: terms[t] for t in SEVERITY if t in terms})
    genes = batch.column("genes")
    # A row counts once per gene name it overlaps (a name may be listed twice).
    parents = pc.list_parent_indices(genes).to_numpy()
    names = pc.list_flatten(genes)
    if len(names):
        pairs = pa.table({"p": parents, "g": names}).group_by(["p", "g"]).aggregate([])
        out.genes.update(_value_counts(pairs.column("g").combine_chunks()))
