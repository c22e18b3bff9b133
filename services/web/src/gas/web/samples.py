"""A job's samples: the sample filter's rows, genotype columns for chosen samples, and the
per-sample counts' pages.

The genotypes are the engine's second Parquet file (`genotypes_key`, decision 99): one row
per row of the variants table, per sample an int8 code of the row's ALT, the GT as written
and DP/GQ. It is fetched into the table's local-copy directory the first time a sample is
asked for (jobs nobody filters by sample never fetch it) and read one column at a time: a
filter on one sample of a 1M-row table reads 1 MB and keeps it (per process, a small LRU).
Genotype columns read only the row groups of the page's rows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from gas.core.job_record import Job
from gas.core.vocab import GENOTYPE_CLASSES, GENOTYPES_SAMPLES_KEY, TSTV, genotype_column
from gas.web.variants.cache import ResultCache, ResultUnavailable, _Lru
from gas.web.variants.query import MAX_SAMPLE_NAME, Args, FilterError, _values

MAX_SHOWN = 10  # genotype columns on one page
SAMPLES_PER_PAGE = 25  # rows of the per-sample table and bars of its chart
_CODES = _Lru(32)  # (file, sample) -> int8 codes of every row (-1: no GT); (file, sample, gt) -> bool
_LOCK = threading.Lock()


class JobGenotypes:
    """The genotypes of one job's table (its local copy `entry`), fetched on first use."""

    def __init__(self, s3: Any, bucket: str, job: Job, entry: Path, cache: ResultCache):
        self.s3, self.bucket, self.job, self.entry, self.cache = s3, bucket, job, entry, cache
        self._names: dict[str, int] | None = None
        self._meta: Any = None  # the file's footer, parsed once (400 columns x its row groups)

    def _file(self) -> pq.ParquetFile:
        path = self.path
        if self._meta is None:
            self._meta = pq.read_metadata(path)
        return pq.ParquetFile(path, metadata=self._meta)

    @property
    def path(self) -> Path:
        path = self.entry / "genotypes.parquet"
        if path.exists():
            return path
        if not self.job.genotypes_key:
            raise FilterError("sample", "this job's file has no samples")
        with self.cache._lock(self.entry.name + "-genotypes"):  # one fetch per host
            if not path.exists():
                part = path.with_name(f".genotypes.{threading.get_ident()}.part")
                try:
                    body = self.s3.get_object(Bucket=self.bucket, Key=self.job.genotypes_key)["Body"]
                except ClientError as exc:
                    if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                        raise ResultUnavailable("gone", "The genotypes of this job are not there any more.") from None
                    raise
                with open(part, "wb") as out:
                    for chunk in body.iter_chunks(1 << 20):
                        out.write(chunk)
                part.rename(path)
        return path

    @property
    def names(self) -> dict[str, int]:
        """Sample name -> its index (the file's column prefix `s<i>.`)."""
        if self._names is None:
            meta = self._file().schema_arrow.metadata or {}
            self._names = {
                name: i for i, name in enumerate(json.loads(meta.get(GENOTYPES_SAMPLES_KEY.encode(), b"[]")))
            }
        return self._names

    def index_of(self, sample: str) -> int:
        index = self.names.get(sample)
        if index is None:
            raise FilterError("sample", f"no sample named '{sample[:40]}' in this job")
        return index

    def codes(self, sample: str) -> np.ndarray:
        """Every row's code for the sample (-1 where it has no GT): one int8 column."""
        path = self.path
        key = (str(path), sample)
        with _LOCK:
            cached: np.ndarray | None = _CODES.get(key)
        if cached is not None:
            return cached
        column = self._file().read(columns=[genotype_column(self.index_of(sample), "code")]).column(0)
        codes = column.fill_null(-1).to_numpy().astype(np.int8, copy=False)
        with _LOCK:
            _CODES.put(key, codes)
        return codes

    def rows_in_class(self, sample: str, gt: str | None) -> np.ndarray:
        """Every row: has the sample genotype class `gt` of its ALT (kept: the table asks
        once per batch, and a 1M-row isin costs milliseconds)."""
        key = (str(self.path), sample, gt or "carrier")
        with _LOCK:
            cached: np.ndarray | None = _CODES.get(key)
        if cached is None:
            cached = np.isin(self.codes(sample), GENOTYPE_CLASSES[key[2]])
            with _LOCK:
                _CODES.put(key, cached)
        return cached

    def add_columns(self, rows: list[dict[str, Any]], samples: tuple[str, ...]) -> None:
        """row["genotypes"] = {sample: {gt, dp, gq}} for the page's rows (each row's "row")."""
        if not rows or not samples:
            return
        indices = [self.index_of(s) for s in samples]
        source = self._file()
        meta = source.metadata
        starts = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
        ids = np.array([row["row"] for row in rows], dtype=np.int64)
        groups = np.searchsorted(starts, ids, side="right") - 1
        present = set(source.schema_arrow.names)
        wanted = [
            genotype_column(i, f) for i in indices for f in ("gt", "dp", "gq") if genotype_column(i, f) in present
        ]
        for row in rows:
            row["genotypes"] = {}
        for g in np.unique(groups).tolist():
            part = source.read_row_group(g, columns=wanted).to_pydict()
            for k in np.flatnonzero(groups == g).tolist():
                local = int(ids[k] - starts[g])
                rows[k]["genotypes"] = {
                    name: {
                        f: part[c][local] if (c := genotype_column(i, f)) in part else None for f in ("gt", "dp", "gq")
                    }
                    for name, i in zip(samples, indices, strict=True)
                }


def shown_samples(args: Args | Mapping[str, Any]) -> tuple[str, ...]:
    """The `show` parameter: samples whose genotype columns a page adds (at most MAX_SHOWN)."""
    names = tuple(dict.fromkeys(_values(args, "show")))
    if len(names) > MAX_SHOWN:
        raise FilterError("show", f"at most {MAX_SHOWN} samples")
    for name in names:
        if len(name) > MAX_SAMPLE_NAME or not name.isprintable():
            raise FilterError("show", "sample names of this job")
    return names


@dataclass(frozen=True)
class SampleRow:
    name: str
    variants: int
    het: int
    hom_alt: int
    no_call: int
    ts: int
    tv: int

    @property
    def het_hom_ratio(self) -> float | None:
        return round(self.het / self.hom_alt, 2) if self.hom_alt else None

    @property
    def tstv_ratio(self) -> float | None:
        return round(self.ts / self.tv, 2) if self.tv else None


@dataclass(frozen=True)
class SamplePage:
    rows: list[SampleRow]
    samples: int  # in the file
    counted: int  # in the summary (the engine keeps the first SUMMARY_SAMPLES)
    page: int
    pages: int


def sample_page(summary: dict[str, Any] | None, page: int) -> SamplePage | None:
    """One page of the engine's per-sample counts (None when the file had no samples)."""
    counts = (summary or {}).get("sample_counts")
    if not isinstance(counts, dict) or not counts.get("names"):
        return None
    names = [str(n) for n in counts["names"]]
    pages = max(1, -(-len(names) // SAMPLES_PER_PAGE))
    page = min(max(1, page), pages)
    lo, hi = (page - 1) * SAMPLES_PER_PAGE, page * SAMPLES_PER_PAGE

    def column(key: str) -> list[int]:
        values = counts.get(key) or []
        return [int(v) for v in values[lo:hi]] + [0] * max(0, min(hi, len(names)) - lo - len(values[lo:hi]))

    rows = [
        SampleRow(name, *values)
        for name, *values in zip(
            names[lo:hi],
            column("variants"),
            column("het"),
            column("hom_alt"),
            column("no_call"),
            *(column(key) for key in TSTV),  # transitions, transversions (the engine's ts/tv)
            strict=True,
        )
    ]
    return SamplePage(rows, int(counts.get("samples", len(names))), len(names), page, pages)
