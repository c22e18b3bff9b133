"""A job's variants as a table: filters, pages and exports over its Parquet result.

Independent of Flask, so the web pages and the REST API share one implementation::

    filt = VariantFilter.from_args(args)          # FilterError (a ValueError) names the bad parameter
    page = PageRequest.from_args(args)            # size capped at MAX_PAGE_SIZE, never refused for it
    result = store.query(job, filt, page)         # VariantPage(rows, total, matched, offset, next_offset, ...)
    for chunk in store.export(job, filt, "tsv"):  # bytes, streamed ("tsv", "csv" or "vcf")
        ...
    store.export_name(job, filt, "tsv")           # "premium_2.GRCh37-v1.gene-TP53.region-CDS.tsv"

`store` is a `VariantStore` (one per process). A result that is not there to read (the job
did not complete, its results are in cold storage or being restored, or it predates the
table) raises `ResultUnavailable`, whose `reason` says which and whose message is for the
user; nothing is served from a cold result.

How a page stays cheap on a large result: the job's Parquet file (`variants_key`) is
fetched once per process host into a local cache keyed by job and ETag (bounded in size,
least recently used entries go first) and rewritten there as an Arrow IPC file of
`BATCH_ROWS`-row batches, which can be read one batch and a few columns at a time without
decoding the rest, plus an index: the sorted gene names with the batches each occurs in,
and each batch's chromosomes and position range. A gene filter then reads only the
batches that hold the gene; a position range only the batches that overlap it; a deep
page only the batch it falls in (matches per batch are counted once per filter and kept
in a small LRU). Memory is bounded by a few batches whatever the result's size.

The first view of a table does not wait for the local copy (decision 105): while a host
has none, unfiltered pages in file order are read from S3 with ranged GETs of the Parquet
footer (where the engine wrote the totals and consequence counts the page shows) and of
the row groups holding the page's rows; the local copy is then built in the background.

The modules, each importing only those above it: `query` (filter and page parameters),
`cache` (whether a result may be read, its local copy, the LRU), `table` (pages, counts and
sorts over one local copy), `remote` (unfiltered pages read from S3 before a local copy
exists), `facets` (the summary's counts of a filter's rows, for the charts), `export`
(TSV/CSV/VCF streaming, export slots) and `store` (the `VariantStore` over S3). Importers
use the names re-exported here;
a test that changes a module's setting (BATCH_ROWS, MAX_CARRY) patches that module.
"""

from gas.web.variants.cache import ResultCache, ResultUnavailable, TableIndex, build_local_copy, readable
from gas.web.variants.export import (
    CONTENT_TYPES,
    FORMATS,
    PROVENANCE,
    ExportFormat,
    ExportSlots,
    csv_bytes,
    select_vcf_records,
    tsv_bytes,
)
from gas.web.variants.facets import Facets, facet_counts
from gas.web.variants.query import (
    CHROMOSOMES,
    DEFAULT_PAGE_SIZE,
    FLAGS,
    IMPACTS,
    MAX_CONDITION_TEXT,
    MAX_CONDITIONS,
    MAX_GENES,
    MAX_IN_VALUES,
    MAX_OFFSET,
    MAX_PAGE_NUMBER,
    MAX_PAGE_SIZE,
    MAX_POSITION,
    OPERATORS,
    PAGE_SIZES,
    REGIONS,
    SEVERITY,
    SORTS,
    VARIANT_CLASSES,
    Args,
    Condition,
    FilterError,
    PageRequest,
    VariantFilter,
    chrom_spellings,
    decode_cursor,
    encode_cursor,
    normalise_chrom,
    whole_number,
)
from gas.web.variants.remote import StoredTable
from gas.web.variants.store import (
    MAX_DETAIL_LINE,
    MAX_DETAIL_SAMPLES,
    VariantDetail,
    VariantStore,
    VcfRecord,
    parse_vcf_line,
)
from gas.web.variants.table import COLUMNS, LIST_COLUMNS, LocalTable, SourceColumn, VariantPage

__all__ = [
    "CHROMOSOMES",
    "COLUMNS",
    "CONTENT_TYPES",
    "DEFAULT_PAGE_SIZE",
    "FLAGS",
    "FORMATS",
    "IMPACTS",
    "MAX_CONDITIONS",
    "MAX_CONDITION_TEXT",
    "MAX_IN_VALUES",
    "OPERATORS",
    "Condition",
    "SourceColumn",
    "StoredTable",
    "PROVENANCE",
    "LIST_COLUMNS",
    "MAX_DETAIL_LINE",
    "MAX_DETAIL_SAMPLES",
    "MAX_GENES",
    "MAX_OFFSET",
    "MAX_PAGE_NUMBER",
    "MAX_PAGE_SIZE",
    "MAX_POSITION",
    "PAGE_SIZES",
    "REGIONS",
    "SEVERITY",
    "SORTS",
    "VARIANT_CLASSES",
    "Args",
    "ExportFormat",
    "ExportSlots",
    "Facets",
    "FilterError",
    "LocalTable",
    "PageRequest",
    "ResultCache",
    "ResultUnavailable",
    "TableIndex",
    "VariantDetail",
    "VariantFilter",
    "VariantPage",
    "VariantStore",
    "VcfRecord",
    "build_local_copy",
    "chrom_spellings",
    "csv_bytes",
    "decode_cursor",
    "encode_cursor",
    "facet_counts",
    "normalise_chrom",
    "parse_vcf_line",
    "readable",
    "select_vcf_records",
    "tsv_bytes",
    "whole_number",
]
