"""Filter and page parameters of a variant table: parsing, validation, cursors."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gas.core import vocab
from gas.core.vocab import GENOTYPE_CLASSES

# -- the table's vocabulary: gas.core.vocab's, the engine's (tests/web/test_web_vocab.py) ---
REGIONS = tuple(reversed(vocab.REGIONS))  # most specific first, as the page lists them
VARIANT_CLASSES = vocab.VARIANT_CLASSES
FLAGS = vocab.FLAGS
CHROMOSOMES = tuple(str(n) for n in range(1, 23)) + ("X", "Y", "MT")
# position: file order; gene: first gene, then file order; consequence: most severe first;
# qual / -qual: lowest / highest QUAL first. Ties keep file order; empty values sort last.
SORTS = ("position", "gene", "consequence", "qual", "-qual")
# Ensembl VEP's consequence terms, most severe first (the engine's order). A term outside
# it sorts after them, a row without a consequence last.
SEVERITY = vocab.TERMS
PAGE_SIZES = (50, 100, 500)  # offered on the page; any size up to MAX_PAGE_SIZE is taken


DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_GENES = 100  # names in one gene filter
_GENE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\*?$")
_TERM = re.compile(r"^[A-Za-z0-9_]{1,64}$")
MAX_POSITION = 1 << 32
MAX_SAMPLE_NAME = 200
MAX_OFFSET = 1 << 40  # rows to skip
MAX_PAGE_NUMBER = 10**12 - 1  # a larger size is refused; up to it, capped at MAX_PAGE_SIZE


# -- filters -----------------------------------------------------------------------
class FilterError(ValueError):
    """A filter or page parameter that cannot be used; `parameter` names it (a 400)."""

    def __init__(self, parameter: str, problem: str):
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")


class Args(Protocol):
    """Query arguments: a werkzeug MultiDict, or any mapping of name -> str | list[str]."""

    def get(self, key: str, /) -> Any: ...


def _values(args: Args | Mapping[str, Any], name: str) -> list[str]:
    """Every value of a parameter, repeated or comma-separated, stripped, blanks dropped."""
    getlist = getattr(args, "getlist", None)
    if getlist is not None:
        raw: list[Any] = list(getlist(name))
    else:
        value = args.get(name)
        raw = [] if value is None else list(value) if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise FilterError(name, "must be text")
        out += [part.strip() for part in item.split(",") if part.strip()]
    return out


def _one(args: Args | Mapping[str, Any], name: str) -> str | None:
    values = _values(args, name)
    if len(values) > 1:
        raise FilterError(name, "give one value")
    return values[0] if values else None


def _choices(args: Args | Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    chosen = []
    by_lower = {a.lower(): a for a in allowed}
    for value in _values(args, name):
        canonical = by_lower.get(value.lower())
        if canonical is None:
            raise FilterError(name, f"unknown value '{value[:40]}' (one of {', '.join(allowed)})")
        if canonical not in chosen:
            chosen.append(canonical)
    return tuple(a for a in allowed if a in chosen)


# ASCII digits only: str.isdigit() and int() also take '²', '①' or '١٢' (the first two
# then fail in int(): a 500), and int() takes '1_000' and spaces.
_WHOLE = re.compile(r"[0-9]{1,12}")


def whole_number(name: str, value: str, low: int, high: int) -> int:
    """`value` as a whole number in low..high (FilterError naming `name` otherwise): the one
    number parser of the table's parameters, for the web pages and the API."""
    if not _WHOLE.fullmatch(value):
        raise FilterError(name, f"'{value[:40]}' is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise FilterError(name, f"must be between {low:,} and {high:,}")
    return number


def _int(args: Args | Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = _one(args, name)
    return None if value is None else whole_number(name, value, low, high)


def normalise_chrom(name: str) -> str | None:
    """'chr7' -> '7', 'chrM' / 'M' -> 'MT'; None when not a main chromosome."""
    bare = name[3:] if name.lower().startswith("chr") else name
    bare = bare.upper() if bare.lower() in ("x", "y", "m", "mt") else bare
    bare = "MT" if bare == "M" else bare
    return bare if bare in CHROMOSOMES else None


def chrom_spellings(chrom: str) -> list[str]:
    """Every way a VCF may spell a main chromosome (the table keeps the file's spelling)."""
    if chrom == "MT":
        return ["MT", "M", "chrM", "chrMT"]
    return [chrom, f"chr{chrom}"]


def _text(args: Args | Mapping[str, Any], name: str) -> str | None:
    """One value taken whole (disease names have commas), None when absent or blank."""
    getlist = getattr(args, "getlist", None)
    raw = [v for v in (list(getlist(name)) if getlist is not None else [args.get(name)]) if v is not None]
    if len(raw) > 1:
        raise FilterError(name, "give one value")
    if not raw:
        return None
    value = raw[0]
    if not isinstance(value, str):
        raise FilterError(name, "must be text")
    return value if value.strip() else None


def _phenotype_args(args: Args | Mapping[str, Any]) -> tuple[str | None, bool]:
    """The phenotype filter's id and the disease-genes switch (gas.web.phenotypes)."""
    from gas.web.phenotypes import parse_switch, resolve_filter_value  # reads the HPO artifact

    phenotype = _text(args, "phenotype")
    switch = _text(args, "disease_genes")
    try:
        resolved = None if phenotype is None else resolve_filter_value(phenotype)
    except ValueError as exc:
        raise FilterError("phenotype", str(exc)) from None
    try:
        return resolved, switch is not None and parse_switch(switch)
    except ValueError as exc:
        raise FilterError("disease_genes", str(exc)) from None


@dataclass(frozen=True)
class VariantFilter:
    """Filters combine with AND; the values of one filter with OR."""

    genes: tuple[str, ...] = ()  # exact names (any case); a trailing * makes a prefix
    regions: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    known: bool | None = None  # True: with an rsID; False: novel; None: both
    flags: tuple[str, ...] = ()  # any of these flags
    consequences: tuple[str, ...] = ()  # most severe consequence term
    chrom: str | None = None
    start: int | None = None  # 1-based, inclusive; needs chrom
    end: int | None = None
    # Gene and disease context (gas.web.phenotypes): rows in the genes of an HPO term (or a
    # term below it) or of an OMIM/Orphanet disease; rows in a gene with a disease.
    phenotype: str | None = None  # HP:0001250, OMIM:607208, ORPHA:33069
    disease_genes: bool = False

    sample: str | None = None  # rows where this sample has genotype class `gt` of the row's ALT
    gt: str | None = None  # a GENOTYPE_CLASSES key; set when sample is

    # Query parameter names; the API uses the same.
    PARAMETERS = (
        "gene",
        "region",
        "class",
        "known",
        "flag",
        "consequence",
        "chrom",
        "start",
        "end",
        "phenotype",
        "disease_genes",
        "sample",
        "gt",
    )

    @classmethod
    def from_args(cls, args: Args | Mapping[str, Any]) -> VariantFilter:
        """Parse query arguments (unknown names are ignored); FilterError on a bad value."""
        genes = _values(args, "gene")
        if len(genes) > MAX_GENES:
            raise FilterError("gene", f"at most {MAX_GENES} names")
        for gene in genes:
            if not _GENE.match(gene):
                raise FilterError(
                    "gene", f"'{gene[:40]}' is not a gene name (letters, digits, . _ -; a trailing * for a prefix)"
                )
        known_value = (_one(args, "known") or "all").lower()
        if known_value not in ("known", "novel", "all"):
            raise FilterError("known", "one of known, novel, all")
        for term in _values(args, "consequence"):
            if not _TERM.match(term):
                raise FilterError("consequence", f"'{term[:40]}' is not an SO consequence term (e.g. missense_variant)")
        chrom_value = _one(args, "chrom")
        chrom = None
        if chrom_value is not None:
            chrom = normalise_chrom(chrom_value)
            if chrom is None:
                raise FilterError("chrom", f"'{chrom_value[:20]}' is not a chromosome (1-22, X, Y, MT)")
        start = _int(args, "start", 1, MAX_POSITION)
        end = _int(args, "end", 1, MAX_POSITION)
        if (start is not None or end is not None) and chrom is None:
            raise FilterError("start" if start is not None else "end", "a position range needs chrom")
        if start is not None and end is not None and end < start:
            raise FilterError("end", "must not be before start")
        phenotype, disease_genes = _phenotype_args(args)
        sample = _one(args, "sample") or None
        gt = (_one(args, "gt") or "").lower() or None
        if sample is not None and (len(sample) > MAX_SAMPLE_NAME or not sample.isprintable()):
            raise FilterError("sample", f"a sample name of this job (at most {MAX_SAMPLE_NAME} characters)")
        if gt is not None and gt not in GENOTYPE_CLASSES:
            raise FilterError("gt", f"one of {', '.join(GENOTYPE_CLASSES)}")
        if gt is not None and sample is None:
            raise FilterError("gt", "a genotype filter needs sample")
        return cls(
            genes=tuple(dict.fromkeys(genes)),
            regions=_choices(args, "region", REGIONS),
            classes=_choices(args, "class", VARIANT_CLASSES),
            known={"known": True, "novel": False, "all": None}[known_value],
            flags=_choices(args, "flag", FLAGS),
            consequences=_choices(args, "consequence", SEVERITY),
            chrom=chrom,
            start=start,
            end=end,
            phenotype=phenotype,
            disease_genes=disease_genes,
            sample=sample,
            gt=(gt or "carrier") if sample is not None else None,
        )

    @property
    def empty(self) -> bool:
        return self == VariantFilter()

    def to_args(self) -> list[tuple[str, str]]:
        """The filter as query arguments (canonical: parsing them gives this filter back)."""
        args: list[tuple[str, str]] = []
        for name, values in (
            ("gene", self.genes),
            ("region", self.regions),
            ("class", self.classes),
            ("flag", self.flags),
            ("consequence", self.consequences),
        ):
            if values:
                args.append((name, ",".join(values)))
        if self.known is not None:
            args.append(("known", "known" if self.known else "novel"))
        if self.chrom is not None:
            args.append(("chrom", self.chrom))
        if self.start is not None:
            args.append(("start", str(self.start)))
        if self.end is not None:
            args.append(("end", str(self.end)))
        if self.phenotype is not None:
            args.append(("phenotype", self.phenotype))
        if self.disease_genes:
            args.append(("disease_genes", "1"))
        if self.sample is not None:
            args += [("sample", self.sample), ("gt", self.gt or "carrier")]
        return args

    def slug(self) -> str:
        """The filter in a file name: 'gene-TP53.region-CDS_UTR', or 'all'."""
        parts = []
        for name, value in self.to_args():
            if name == "start":
                continue
            if name == "end":
                name, value = "to", value
            if name == "chrom" and self.start is not None:
                value = f"{value}_{self.start}"
            parts.append(f"{name}-{value.replace(',', '_').replace('*', 'x')}")
        text = ".".join(parts) or "all"
        return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:120]


@dataclass(frozen=True)
class PageRequest:
    offset: int = 0
    size: int = DEFAULT_PAGE_SIZE
    sort: str = "position"

    @classmethod
    def from_args(cls, args: Args | Mapping[str, Any], default_size: int = DEFAULT_PAGE_SIZE) -> PageRequest:
        """offset, size (capped at MAX_PAGE_SIZE), sort; or a `cursor` from a VariantPage."""
        sort = (_one(args, "sort") or "position").lower()
        if sort not in SORTS:
            raise FilterError("sort", f"one of {', '.join(SORTS)}")
        size = min(_int(args, "size", 1, MAX_PAGE_NUMBER) or default_size, MAX_PAGE_SIZE)
        cursor = _one(args, "cursor")
        if cursor is not None:
            return cls(offset=decode_cursor(cursor, sort), size=size, sort=sort)
        offset = _int(args, "offset", 0, MAX_OFFSET) or 0
        return cls(offset=offset, size=size, sort=sort)


def encode_cursor(offset: int, sort: str) -> str:
    return base64.urlsafe_b64encode(f"{sort}:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        raise FilterError("cursor", "not a cursor of this table") from None
    cursor_sort, _, number = text.partition(":")
    if cursor_sort != sort:
        raise FilterError("cursor", "not a cursor of this table and sort order")
    return whole_number("cursor", number, 0, MAX_OFFSET)
