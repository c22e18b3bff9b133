"""Filter and page parameters of a variant table: parsing, validation, cursors."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
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
# Besides these, any numeric column sorts: `af` ascending, `-af` descending (nulls last both ways).
SORTS = ("position", "gene", "consequence", "qual", "-qual")
IMPACTS = vocab.IMPACTS
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


# -- conditions on any column: where=COLUMN OP VALUE (repeatable, ANDed; decision 103) -----
MAX_CONDITIONS = 10  # where= parameters in one filter
MAX_CONDITION_TEXT = 200  # characters of one where= value
MAX_IN_VALUES = 50  # values of one `in`
NUMERIC_OPS = ("<", "<=", ">", ">=")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in")  # the form's order
_CONDITION = re.compile(
    r"(?P<column>[A-Za-z_][A-Za-z0-9_.]{0,63})\s*(?P<op><=|>=|!=|=|<|>|\s[iI][nN]\s)\s*(?P<value>.*)", re.DOTALL
)
# ASCII decimal numbers only (float() also takes 'nan', 'inf', '1_0' and other scripts' digits).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_SORT = re.compile(r"-?[a-z_][a-z0-9_.]{0,63}")
# What a column holds, for conditions and sorts: numbers (int/float), text (a string or a
# categorical), a list of strings, or a flag (true/false). Source columns are typed by the table.
ColumnKind = str  # "number" | "text" | "list" | "flag"
NOT_QUERYABLE = frozenset({"record", "_gene"})  # the table's internals


def static_kind(name: str) -> ColumnKind | None:
    """The kind of one of the engine's own columns (gas.core.vocab), None for any other."""
    column = vocab.TABLE_COLUMN.get(name)
    if column is None or name in NOT_QUERYABLE:
        return None
    if column.list:
        return "list"
    return "number" if column.type in ("int64", "float64") else "text"


def _number(text: str) -> float | None:
    value = float(text) if _NUMBER.fullmatch(text) else None
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Condition:
    """One `where=` condition. A null value matches no condition (numeric or not, `!=`
    included); a list column matches `=`/`in` when any item does and `!=` when none does."""

    column: str  # lower case: the table's column name
    op: str  # one of OPERATORS
    values: tuple[str, ...]  # one value; several for `in`
    numbers: tuple[float, ...] | None  # the values as numbers, when every one is

    @classmethod
    def parse(cls, text: str, parameter: str = "where") -> Condition:
        if len(text) > MAX_CONDITION_TEXT:
            raise FilterError(parameter, f"at most {MAX_CONDITION_TEXT} characters in one condition")
        if not text.isprintable():
            raise FilterError(parameter, "a condition is one line of printable text")
        found = _CONDITION.fullmatch(text.strip())
        if found is None:
            raise FilterError(
                parameter,
                f"'{text[:40]}' is not COLUMN OP VALUE (OP one of {' '.join(OPERATORS)}; "
                "e.g. af<0.01, clnsig=Pathogenic)",
            )
        column, op = found["column"].lower(), found["op"].strip().lower()
        raw = found["value"].strip()
        parts = [p.strip() for p in raw.split(",")] if op == "in" else [raw]
        values = tuple(dict.fromkeys(_unquote(p) for p in parts))
        if not values or any(not v for v in values):
            raise FilterError(parameter, f"'{text[:40]}': a value after {op}")
        if len(values) > MAX_IN_VALUES:
            raise FilterError(parameter, f"at most {MAX_IN_VALUES} values after in")
        numbers = [_number(v) for v in values]
        parsed = tuple(n for n in numbers if n is not None) if None not in numbers else None
        if op in NUMERIC_OPS and parsed is None:
            raise FilterError(parameter, f"'{text[:40]}': {op} needs a number (e.g. {column}{op}0.01)")
        condition = cls(column, op, values, parsed)
        kind = static_kind(column)
        if kind is not None:
            condition.check(kind, parameter)
        elif column in NOT_QUERYABLE:
            raise FilterError(parameter, f"unknown column '{column}'")
        return condition

    def check(self, kind: ColumnKind, parameter: str = "where") -> None:
        """FilterError unless this condition can be asked of a column of this kind."""
        if self.op in NUMERIC_OPS and kind != "number":
            raise FilterError(parameter, f"{self.column} is {_KIND_NAMES[kind]}: use =, != or in, not {self.op}")
        if kind == "number" and self.numbers is None:
            raise FilterError(parameter, f"{self.column} is numeric: '{self.values[0][:40]}' is not a number")
        if kind == "flag" and not set(self.values) <= {"true", "false", "1", "0"}:
            raise FilterError(parameter, f"{self.column} is a flag: compare it with true or false")

    @property
    def text(self) -> str:
        """Canonical: parsing it gives this condition back."""
        if self.op == "in":
            return f"{self.column} in {','.join(self.values)}"
        return f"{self.column}{self.op}{self.values[0]}"


_KIND_NAMES = {"text": "text", "list": "a list", "flag": "a flag", "number": "numeric"}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def check_columns(filt: VariantFilter, sort: str | None, kinds: Mapping[str, ColumnKind]) -> None:
    """Check the filter's conditions and a sort against one table's columns (its source
    columns are known only there): FilterError naming `where` or `sort`."""
    for condition in filt.where:
        kind = kinds.get(condition.column)
        if kind is None:
            known = ", ".join(sorted(kinds))
            raise FilterError("where", f"unknown column '{condition.column[:40]}' (this table has {known})")
        condition.check(kind)
    if sort is not None and sort not in SORTS:
        column = sort.lstrip("-")
        if kinds.get(column) != "number":
            numeric = ", ".join(sorted(c for c, k in kinds.items() if k == "number"))
            raise FilterError("sort", f"'{column[:40]}' is not a numeric column of this table ({numeric})")


def _where(args: Args | Mapping[str, Any]) -> tuple[Condition, ...]:
    """The where= values, taken whole (an `in` list has commas), and the form's one new
    condition (where_column, where_op, where_value: the table works without JavaScript)."""
    getlist = getattr(args, "getlist", None)
    raw = list(getlist("where")) if getlist is not None else args.get("where")
    raw = [] if raw is None else [raw] if isinstance(raw, str) else list(raw)
    if any(not isinstance(item, str) for item in raw):
        raise FilterError("where", "must be text")
    texts = [item for item in raw if item.strip()]
    value = _text(args, "where_value")
    if value is not None:
        column, op = _text(args, "where_column"), _text(args, "where_op") or "="
        if column is None:
            raise FilterError("where_column", "pick a column for the condition")
        if op.lower() not in OPERATORS:
            raise FilterError("where_op", f"one of {' '.join(OPERATORS)}")
        texts.append(f"{column} {op} {value}" if op.lower() == "in" else f"{column}{op}{value}")
    if len(texts) > MAX_CONDITIONS:
        raise FilterError("where", f"at most {MAX_CONDITIONS} conditions")
    return tuple(dict.fromkeys(Condition.parse(t) for t in texts))


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
    impacts: tuple[str, ...] = ()  # the picked consequence's IMPACT (bundles), any of these
    where: tuple[Condition, ...] = ()  # conditions on any column, ANDed

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
        "impact",
        "where",
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
            impacts=_choices(args, "impact", IMPACTS),
            where=_where(args),
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
        if self.impacts:
            args.append(("impact", ",".join(self.impacts)))
        args += [("where", c.text) for c in self.where]
        return args

    def without(self, condition: Condition) -> VariantFilter:
        """This filter less one condition (the page's removable chips)."""
        return replace(self, where=tuple(c for c in self.where if c != condition))

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
            if name == "where":
                for op, word in (
                    ("<=", "-le-"),
                    (">=", "-ge-"),
                    ("!=", "-ne-"),
                    ("<", "-lt-"),
                    (">", "-gt-"),
                    ("=", "-eq-"),
                ):
                    value = value.replace(op, word)
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
        """offset, size (capped at MAX_PAGE_SIZE), sort; or a `cursor` from a VariantPage.
        A sort by a column the engine does not write (a source's) is checked by the table."""
        sort = (_one(args, "sort") or "position").lower()
        if sort not in SORTS:
            if not _SORT.fullmatch(sort):
                raise FilterError("sort", f"one of {', '.join(SORTS)}, or a numeric column (af; -af: highest first)")
            kind = static_kind(sort.lstrip("-"))
            if kind not in ("number", None):
                raise FilterError("sort", f"'{sort.lstrip('-')}' is not a numeric column")
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
