"""The annotation vocabulary: every name and value the engine writes that the web, the API and
the exports read back. The engine (gas.annotator.engine) writes from these tuples and the
web reads them from here, so neither side can add a region, class, flag, INFO id, SO term or
table column the other does not know: ``tests/core/test_vocab.py`` holds both to it.

Standard library only: the web imports it without numpy, pyarrow or the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# REGION: least to most specific; the index is the engine's code and its precedence (a REF
# span over several wins the highest). Pages list them most specific first (reversed).
REGIONS = ("intergenic", "downstream", "upstream", "intron", "exon", "UTR", "CDS", "stop_codon", "start_codon")
# VC (variant_class) per sequence ALT; the engine's codes are 1..5 (0: not a sequence ALT).
VARIANT_CLASSES = ("SNV", "MNV", "INS", "DEL", "DELINS")
TSTV = ("ts", "tv")
# Flag INFO keys (the table's `flags` list): the REF span overlaps a CpG island / a
# RepeatMasker repeat / an ENCODE blacklist region; bit k of the engine's flag mask.
FLAGS = ("CPG", "REPEAT", "BLACKLIST")
# KNOWN_SOURCE per ALT (engine code 1..3: bit 1 the database, bit 2 the record's rsID; '.' novel).
KNOWN_SOURCES = ("database", "file", "both")

# Ensembl VEP's consequence terms, most severe first, with their IMPACT. The bundle's
# transcript consequences use them all; the gene-level CONSEQUENCE the subset below.
SEVERITY = (
    ("transcript_ablation", "HIGH"),
    ("splice_acceptor_variant", "HIGH"),
    ("splice_donor_variant", "HIGH"),
    ("stop_gained", "HIGH"),
    ("frameshift_variant", "HIGH"),
    ("stop_lost", "HIGH"),
    ("start_lost", "HIGH"),
    ("transcript_amplification", "HIGH"),
    ("inframe_insertion", "MODERATE"),
    ("inframe_deletion", "MODERATE"),
    ("missense_variant", "MODERATE"),
    ("protein_altering_variant", "MODERATE"),
    ("splice_region_variant", "LOW"),
    ("incomplete_terminal_codon_variant", "LOW"),
    ("start_retained_variant", "LOW"),
    ("stop_retained_variant", "LOW"),
    ("synonymous_variant", "LOW"),
    ("coding_sequence_variant", "MODIFIER"),
    ("5_prime_UTR_variant", "MODIFIER"),
    ("3_prime_UTR_variant", "MODIFIER"),
    ("non_coding_transcript_exon_variant", "MODIFIER"),
    ("intron_variant", "MODIFIER"),
    ("NMD_transcript_variant", "MODIFIER"),
    ("non_coding_transcript_variant", "MODIFIER"),
    ("upstream_gene_variant", "MODIFIER"),
    ("downstream_gene_variant", "MODIFIER"),
    ("intergenic_variant", "MODIFIER"),
)
TERMS = tuple(term for term, _ in SEVERITY)
# VEP's terms no GAS rule decides (whole-transcript copy number, complex protein changes):
# kept in the order so filters and sorts match VEP's output; a rule that writes one removes it.
NOT_WRITTEN = frozenset({"transcript_ablation", "transcript_amplification", "protein_altering_variant"})
RANK = {term: rank for rank, term in enumerate(TERMS)}
IMPACT = dict(SEVERITY)
IMPACTS = ("HIGH", "MODERATE", "LOW", "MODIFIER")  # most severe first
IMPACT_RANK = {impact: rank for rank, impact in enumerate(IMPACTS)}
# The terms the gene-level rules decide (gene structures and REF/ALT, no sequence), in
# severity order: the engine's bit k of a term mask is GENE_LEVEL_TERMS[k].
GENE_LEVEL_TERMS = (
    "splice_acceptor_variant",
    "splice_donor_variant",
    "frameshift_variant",
    "stop_lost",
    "start_lost",
    "inframe_insertion",
    "inframe_deletion",
    "splice_region_variant",
    "stop_retained_variant",
    "coding_sequence_variant",
    "5_prime_UTR_variant",
    "3_prime_UTR_variant",
    "non_coding_transcript_exon_variant",
    "intron_variant",
    "upstream_gene_variant",
    "downstream_gene_variant",
    "intergenic_variant",
)

# The INFO keys the engine writes for every database; a re-annotated file's old values of
# them are dropped and their header lines replaced.
INFO_IDS = (
    "GENE",
    "GENE_TYPE",
    "REGION",
    "NEAREST",
    "RSID",
    "CPG",
    "REPEAT",
    "BLACKLIST",
    "VC",
    "TSTV",
    "CONSEQUENCE",
    "MOST_SEVERE",
    "KNOWN_SOURCE",
)
# A bundle's: CSQ in Ensembl VEP's layout (these fields, '|' joined) and the picked
# transcript consequence of each ALT, one INFO key per field: (INFO id, CSQ field index).
CSQ_FIELDS = (
    "Allele", "Consequence", "IMPACT", "SYMBOL", "Gene", "Feature_type", "Feature", "BIOTYPE", "EXON", "INTRON",
    "HGVSc", "HGVSp", "cDNA_position", "CDS_position", "Protein_position", "Amino_acids", "Codons",
    "Existing_variation", "DISTANCE", "STRAND", "FLAGS", "PICK", "CANONICAL", "MANE_SELECT",
)  # fmt: skip
PICK_FIELDS = (
    ("PICK_CONSEQUENCE", 1),
    ("PICK_IMPACT", 2),
    ("PICK_SYMBOL", 3),
    ("PICK_FEATURE", 6),
    ("PICK_HGVSC", 10),
    ("PICK_HGVSP", 11),
)
CSQ_INFO_IDS = ("CSQ", *(name for name, _ in PICK_FIELDS))
# An input's own CSQ is kept under this id (GAS writes CSQ).
INPUT_CSQ_ID = "CSQ_INPUT"


# -- the variants table (Parquet): one row per record and ALT -------------------------------
@dataclass(frozen=True)
class TableColumn:
    name: str
    type: Literal["int64", "float64", "string"]  # of the value, or of a list's items
    list: bool = False
    # Few distinct values: dictionary-encoded in the file (a list column's items too since
    # decision 118; older tables have their list columns plain).
    categorical: bool = False
    nullable: bool = True


TABLE_COLUMNS = (
    TableColumn("record", "int64", nullable=False),  # 0-based index of the data line in the annotated VCF
    TableColumn("chrom", "string", categorical=True, nullable=False),
    TableColumn("pos", "int64", nullable=False),
    TableColumn("id", "string"),
    TableColumn("rsid", "string"),
    TableColumn("known_source", "string", categorical=True),  # KNOWN_SOURCES; null: novel
    TableColumn("ref", "string", nullable=False),
    TableColumn("alt", "string", nullable=False),
    TableColumn("qual", "float64"),
    TableColumn("filter", "string", categorical=True, nullable=False),
    TableColumn("genes", "string", list=True, nullable=False),
    TableColumn("gene_types", "string", list=True, categorical=True, nullable=False),
    TableColumn("region", "string", categorical=True),  # REGIONS
    TableColumn("nearest_gene", "string", categorical=True),
    TableColumn("nearest_distance", "int64"),
    TableColumn("flags", "string", list=True, categorical=True, nullable=False),  # FLAGS
    TableColumn("variant_class", "string", categorical=True),  # VARIANT_CLASSES
    TableColumn("tstv", "string", categorical=True),  # TSTV
    TableColumn("consequence", "string", categorical=True),  # the most severe of TERMS
    TableColumn("consequences", "string", list=True, categorical=True, nullable=False),  # TERMS, severity order
    # Bundles only (null for genes-only databases): the picked transcript consequence of
    # this ALT and every transcript consequence as a CSQ entry.
    TableColumn("impact", "string", categorical=True),  # IMPACTS
    TableColumn("symbol", "string"),
    TableColumn("transcript", "string"),
    TableColumn("hgvsc", "string"),
    TableColumn("hgvsp", "string"),
    TableColumn("amino_acids", "string"),
    TableColumn("transcript_consequences", "string", list=True),
    # Gene and disease context (gas.core.phenotypes): the OMIM/Orphanet ids of the diseases of
    # the row's genes, and the HPO terms annotated to them (null: none is an HPO gene).
    TableColumn("diseases", "string", list=True, nullable=False),
    TableColumn("phenotype_count", "int64"),
)
TABLE_COLUMN = {c.name: c for c in TABLE_COLUMNS}
BUNDLE_COLUMNS = ("impact", "symbol", "transcript", "hgvsc", "hgvsp", "amino_acids", "transcript_consequences")

# The table's schema version, in its metadata under TABLE_SCHEMA_KEY: MAJOR or MAJOR.MINOR.
# A MINOR step adds columns (a reader ignores those it does not know); a MAJOR step renames,
# drops or changes a column, and a reader of an older major refuses the table.
TABLE_SCHEMA_VERSION = "1.2"  # 1.1: diseases, phenotype_count; 1.2: the TABLE_VIEW_KEY metadata
TABLE_SCHEMA_KEY = "gas.table_schema"
# What the viewer's first page needs of the whole table, written by the engine when it closes
# the file (decision 105): JSON {"rows", "position_sorted", "terms": {most severe term: rows},
# "impacts": {picked IMPACT: rows}} ("impacts" optional: tables before it lack it).
# A table without it (before 1.2) is read the old way: a local copy built first.
TABLE_VIEW_KEY = "gas.view"


class TableSchemaError(ValueError):
    """A variants table this code cannot read."""


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    if not (major.isdecimal() and major.isascii() and (not minor or (minor.isdecimal() and minor.isascii()))):
        raise TableSchemaError(f"variants table: schema version {text[:20]!r} is not MAJOR or MAJOR.MINOR")
    return int(major), int(minor or 0)


def check_table_schema(metadata: Mapping[bytes, bytes] | Mapping[str, str] | None) -> tuple[int, int]:
    """The (major, minor) schema version of a table with this metadata (pyarrow's
    ``schema.metadata``: bytes keys and values, or str), when this code can read it. A table
    without the key predates it: version 1. A newer major version raises TableSchemaError."""
    found: str | None = None
    for key, value in (metadata or {}).items():
        if (key.decode() if isinstance(key, bytes) else key) == TABLE_SCHEMA_KEY:
            found = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if found is None:
        return (1, 0)
    version = _version(found)
    if version[0] > _version(TABLE_SCHEMA_VERSION)[0]:
        raise TableSchemaError(
            f"variants table: schema version {found} is newer than this release reads "
            f"({TABLE_SCHEMA_VERSION.partition('.')[0]}.x): upgrade GAS to read it"
        )
    return version


# -- the genotypes file (Parquet, decision 99): one row per variants-table row ------------------
# Per sample i: f"s{i}.{field}" for each GENOTYPE_FIELDS field present; the sample names are
# the schema metadata GENOTYPES_SAMPLES_KEY (JSON, the #CHROM line's order).
GENOTYPE_FIELDS = ("code", "gt", "dp", "gq")  # int8, string (as written), int32, int32
GENOTYPES_SAMPLES_KEY = "gas.samples"
GENOTYPES_SCHEMA_VERSION = "1"
GENOTYPES_SCHEMA_KEY = "gas.genotypes_schema"
# `code`: what the sample has of the row's ALT (null: no GT), bcftools' classes per record.
NO_CALL, REF, HET, HOM_ALT, OTHER_ALT, HAPLOID_ALT = 0, 1, 2, 3, 4, 5
# The sample filter's classes -> the codes a row must have (bcftools GT="alt", "het", "AA", "mis").
GENOTYPE_CLASSES = {"carrier": (HET, HOM_ALT, HAPLOID_ALT), "het": (HET,), "hom_alt": (HOM_ALT,), "no_call": (NO_CALL,)}


def genotype_column(sample_index: int, field: str) -> str:
    return f"s{sample_index}.{field}"
