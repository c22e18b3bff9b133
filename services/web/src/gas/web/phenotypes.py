"""The phenotype/disease filter of the variant table and the names it shows, from the HPO
artifact (gas.core.phenotypes; docs/web.md). No Flask and nothing of gas.web.variants: the
variants package calls in here, and the autocomplete route (jobs.phenotypes) too."""

from __future__ import annotations

import re

from gas.core.phenotypes import MAX_QUERY, MAX_SUGGESTIONS, Suggestion, load
from gas.web.linkouts import Link

_LEADING_ID = re.compile(r"^\s*((?:HP|OMIM|ORPHA):\d{1,7})(?:\s|$)", re.I)
TRUE, FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no", "")


def resolve_filter_value(text: str) -> str:
    """The HPO term or disease id a `phenotype` value names: an id (`HP:0001250`), an id
    followed by its name (what the autocomplete fills in), or an exact term or disease name
    (any case). ValueError with a message for the user otherwise."""
    if len(text) > MAX_QUERY:
        raise ValueError(f"at most {MAX_QUERY} characters")
    leading = _LEADING_ID.match(text)
    found = load().resolve(leading.group(1) if leading else text)
    if found is None:
        raise ValueError(
            f"'{text.strip()[:40]}' is not an HPO term or an OMIM/Orphanet disease of HPO "
            f"{load().hpo_release} (e.g. HP:0001250 or Seizure)"
        )
    return found


def parse_switch(value: str) -> bool:
    folded = value.strip().lower()
    if folded in TRUE:
        return True
    if folded in FALSE:
        return False
    raise ValueError("one of 1, 0 (or true, false)")


def filter_genes(phenotype: str | None, disease_genes: bool, names: list[str], assembly: str) -> list[int] | None:
    """Which of a table's gene names (the database's, of its assembly) a row must have one of,
    as indexes into `names`, or None when neither filter is on: the genes of the term (or any
    term below it) or of the disease, and/or every gene with a disease. A name stands for the
    HPO gene the artifact joins it to (by symbol, else id/alias: decision 114)."""
    if phenotype is None and not disease_genes:
        return None
    p = load()
    genes = p.genes_for(phenotype) or frozenset() if phenotype is not None else p.disease_gene_symbols
    if disease_genes:
        genes &= p.disease_gene_symbols
    wanted = p.names_for(genes, assembly)
    return [i for i, name in enumerate(names) if name in wanted]


def label(identifier: str) -> str:
    """'HP:0001250 Seizure': how a filter value is shown back in its field."""
    name = load().name_of(identifier)
    return f"{identifier} {name}" if name else identifier


def disease_links(ids: list[str] | None) -> list[tuple[str, str, Link]]:
    """(id, name, link-out) of each disease id of a row: OMIM's entry or Orphanet's page,
    built from the id (no call leaves the server)."""
    p = load()
    out = []
    for identifier in ids or ():
        source, _, number = identifier.partition(":")
        if source == "OMIM":
            link = Link("OMIM", f"https://www.omim.org/entry/{number}")
        else:
            link = Link("Orphanet", f"https://www.orpha.net/en/disease/detail/{number}")
        out.append((identifier, p.name_of(identifier) or identifier, link))
    return out


def suggestions(query: str, limit: int = MAX_SUGGESTIONS) -> list[Suggestion]:
    return load().search(query, limit)
