"""Bundles: a gene model (GFF3/GTF) and its FASTA compiled into one memory-mapped file.

A bundle file holds everything a genes-only database holds (``build.compile_arrays`` run on
tables made from the gene model, so GENE/REGION/CONSEQUENCE/NEAREST work for any genome)
plus the transcript tables the effects engine reads (``effects.py``) and the genome's
sequence as one byte per base (``seq``; ``seq_offsets`` per contig). Bytes, not 2-bit: a
slice is the sequence with no decoding, and the file is mapped, so only the pages around the
variants a job touches are read (3.1 GB on disk for a human genome, shared by every process).

``gas-annotation-db build --name NAME (--gff3 F | --gtf F) --fasta F [--assembly A]``
writes ``gas-bundle-<NAME>-v<SCHEMA>.gasdb`` and its manifest (the sources' sha256) to
temporary names and renames them only when everything succeeded, so a failed build leaves
the previous bundle of that name in service.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from gas.annotator.engine.database import (
    BUNDLE_NAME_RE,
    SCHEMA_VERSION,
    bundle_file_name,
    manifest_path_of,
    sha256_file,
    write_arrays,
)
from gas.annotator.engine.genemodel import (
    GeneModelError,
    Transcript,
    check_against_fasta,
    finish,
    read_fasta,
    read_gff3,
    read_gtf,
)

TX_CANONICAL, TX_MANE, TX_BASIC, TX_START_NF, TX_END_NF = 1, 2, 4, 8, 16
STOPS = {b"TAA", b"TAG", b"TGA"}


def _packed(name: str, strings: list[str]) -> dict[str, np.ndarray]:
    from gas.annotator.engine.database import Packed

    p = Packed.of(strings)
    return {f"{name}_data": p.data, f"{name}_offsets": p.offsets}


def _coding_positions(tx: Transcript) -> list[int]:
    """Genomic 0-based positions of the coding bases in transcription order."""
    pos = [p for s, e, _ in sorted(tx.cds) for p in range(s, e)]
    return pos if tx.strand > 0 else pos[::-1]


def _runs(positions: list[int]) -> list[tuple[int, int]]:
    """Sorted positions as half-open runs."""
    out: list[tuple[int, int]] = []
    for p in sorted(positions):
        if out and out[-1][1] == p:
            out[-1] = (out[-1][0], p + 1)
        else:
            out.append((p, p + 1))
    return out


_COMP = bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan")


def gene_tables(
    txs: list[Transcript], contig_index: dict[str, int], seqs: dict[str, bytes]
) -> tuple[dict[str, dict[str, np.ndarray]], Any]:
    """The tables ``build.compile_arrays`` reads, made from the transcripts (1-based inclusive)."""
    from gas.annotator.engine.build import _Vocab

    vocab = _Vocab()
    rows: dict[str, list[tuple[int, int, int, str, int, str]]] = defaultdict(list)
    genes: dict[str, list[Transcript]] = defaultdict(list)
    for tx in txs:
        genes[tx.gene_id].append(tx)
    for gene_id, members in genes.items():
        first = members[0]
        name = first.gene_name or gene_id
        gtype = first.gene_biotype or first.biotype
        cid = contig_index[first.contig]
        rows["genes"].append(
            (cid, min(t.start for t in members), max(t.end for t in members), name, first.strand, gtype)
        )
        for tx in members:

            def add(key: str, s: int, e: int, tx: Transcript = tx) -> None:
                rows[key].append((cid, s, e, name, tx.strand, gtype))  # noqa: B023 - used in this iteration only

            add("transcripts", tx.start, tx.end)
            for s, e in tx.exons:
                add("exons", s, e)
            if not tx.cds:
                continue
            coding = _coding_positions(tx)
            for s, e in _runs(coding):
                add("cds", s, e)
            lo, hi = min(coding), max(coding) + 1
            for s, e in tx.exons:
                for a, b, before in ((s, min(e, lo), True), (max(s, hi), e, False)):
                    if a < b:
                        five = before == (tx.strand > 0)
                        add("utr5" if five else "utr3", a, b)
            seq = seqs[tx.contig]
            phase = tx.cds[0 if tx.strand > 0 else -1][2]
            if phase == 0 and "cds_start_NF" not in tx.tags and len(coding) >= 3:
                for s, e in _runs(coding[:3]):
                    add("start_codons", s, e)
            if len(coding) >= 3 and "cds_end_NF" not in tx.tags:
                last = bytes(seq[p] for p in coding[-3:])
                if tx.strand < 0:
                    last = last.translate(_COMP)
                if last in STOPS:
                    for s, e in _runs(coding[-3:]):
                        add("stop_codons", s, e)
    tables: dict[str, dict[str, np.ndarray]] = {}
    for key in ("genes", "transcripts", "exons", "cds", "utr5", "utr3", "start_codons", "stop_codons"):
        r = rows.get(key, [])
        tables[key] = {
            "_cid": np.array([x[0] for x in r], dtype=np.int64),
            "_starts": np.array([x[1] + 1 for x in r], dtype=np.int64),  # 1-based like GENCODE's tables
            "_ends": np.array([x[2] for x in r], dtype=np.int64),
            "gene_name": vocab.ids([x[3] for x in r]),
            "Strand": vocab.ids(["+" if x[4] > 0 else "-" for x in r]),
            "gene_type": vocab.ids([x[5] for x in r]),
        }
    empty = {k: np.array([], dtype=np.int64) for k in ("_cid", "_starts", "_ends", "gene_name", "Strand", "gene_type")}
    tables["utr"] = dict(empty)
    for key in ("cpg", "repeats", "blacklist"):
        tables[key] = {k: np.array([], dtype=np.int64) for k in ("_cid", "_starts", "_ends")}
    tables["variants"] = {
        **{k: np.array([], dtype=np.int64) for k in ("_cid", "_starts", "_ends")},
        **{k: np.array([], dtype=object) for k in ("ref", "alt", "ID")},
    }
    vocab.ids(["+", "-"])
    return tables, vocab


def transcript_arrays(txs: list[Transcript], contig_index: dict[str, int]) -> dict[str, np.ndarray]:
    """The effects engine's tables: transcripts sorted by start, their exons and coding runs."""
    glob = [contig_index[t.contig] << 32 for t in txs]
    order = sorted(range(len(txs)), key=lambda i: (glob[i] + txs[i].start, glob[i] + txs[i].end, txs[i].tx_id))
    txs = [txs[i] for i in order]
    base = np.array([glob[i] for i in order], dtype=np.int64)
    exon_s: list[int] = []
    exon_e: list[int] = []
    cds_s: list[int] = []
    cds_e: list[int] = []
    exon_off = [0]
    cds_off = [0]
    phase: list[int] = []
    flags: list[int] = []
    for b, tx in zip(base.tolist(), txs, strict=True):
        for s, e in tx.exons:
            exon_s.append(b + s)
            exon_e.append(b + e)
        exon_off.append(len(exon_s))
        for s, e in _runs(_coding_positions(tx)) if tx.cds else []:
            cds_s.append(b + s)
            cds_e.append(b + e)
        cds_off.append(len(cds_s))
        phase.append(tx.cds[0 if tx.strand > 0 else -1][2] if tx.cds else 0)
        f = 0
        f |= TX_CANONICAL if tx.canonical else 0
        f |= TX_MANE if tx.mane_select else 0
        f |= TX_BASIC if "basic" in tx.tags else 0
        f |= TX_START_NF if "cds_start_NF" in tx.tags else 0
        f |= TX_END_NF if "cds_end_NF" in tx.tags else 0
        flags.append(f)
    starts = base + np.array([t.start for t in txs], dtype=np.int64)
    ends = base + np.array([t.end for t in txs], dtype=np.int64)
    return {
        "tx_start": starts,
        "tx_end": ends,
        "tx_strand": np.array([t.strand for t in txs], dtype=np.int8),
        "tx_flags": np.array(flags, dtype=np.uint8),
        "tx_phase": np.array(phase, dtype=np.int8),
        "tx_max_span": np.array([int((ends - starts).max()) if len(txs) else 0], dtype=np.int64),
        "tx_exon_offsets": np.array(exon_off, dtype=np.int64),
        "exon_start": np.array(exon_s, dtype=np.int64),
        "exon_end": np.array(exon_e, dtype=np.int64),
        "tx_cds_offsets": np.array(cds_off, dtype=np.int64),
        "cds_start": np.array(cds_s, dtype=np.int64),
        "cds_end": np.array(cds_e, dtype=np.int64),
        **_packed("tx_id", [t.tx_id for t in txs]),
        **_packed("tx_gene_id", [t.gene_id for t in txs]),
        **_packed("tx_gene_name", [t.gene_name for t in txs]),
        **_packed("tx_biotype", [t.biotype for t in txs]),
        **_packed("tx_protein_id", [t.protein_id for t in txs]),
        **_packed("tx_mane", [t.mane for t in txs]),
    }


def build_bundle(
    name: str,
    *,
    fasta: Path,
    gff3: Path | None = None,
    gtf: Path | None = None,
    assembly: str | None = None,
    db_dir: Path,
) -> Path:
    """Compile the bundle; raises GeneModelError on bad input (nothing replaced)."""
    from gas.annotator.engine.build import compile_arrays

    if not BUNDLE_NAME_RE.match(name):
        raise GeneModelError(f"bundle name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    if (gff3 is None) == (gtf is None):
        raise GeneModelError("give exactly one of --gff3 and --gtf")
    model = gff3 or gtf
    assert model is not None
    for path in (model, fasta):
        if not path.is_file():
            raise GeneModelError(f"{path}: no such file")
    txs = finish(read_gff3(model) if gff3 else read_gtf(model), model)
    if not txs:
        raise GeneModelError(f"{model.name}: no transcripts (not an Ensembl GFF3 / GENCODE GTF?)")
    seqs = read_fasta(fasta)
    check_against_fasta(txs, seqs, model, fasta)
    if any(len(s) >= 1 << 32 for s in seqs.values()):
        raise GeneModelError(f"{fasta.name}: a sequence of 4 Gb or more is not supported")
    sizes = {n: len(s) for n, s in seqs.items()}
    contig_index = {n: i for i, n in enumerate(sizes)}
    tables, vocab = gene_tables(txs, contig_index, seqs)
    arrays, counts = compile_arrays(tables, sizes, vocab)
    arrays.update(transcript_arrays(txs, contig_index))
    arrays["seq"] = np.frombuffer(b"".join(seqs.values()), dtype=np.uint8)
    arrays["seq_offsets"] = np.concatenate([[0], np.cumsum([len(s) for s in seqs.values()])]).astype(np.int64)
    counts["transcripts_model"] = len(txs)
    counts["coding_transcripts"] = sum(1 for t in txs if t.cds)
    counts["bases"] = int(arrays["seq"].size)
    del seqs

    db_dir.mkdir(parents=True, exist_ok=True)
    path = db_dir / bundle_file_name(name)
    fd, tmp_name = tempfile.mkstemp(dir=db_dir, prefix=".build-", suffix=".gasdb")
    os.close(fd)
    tmp = Path(tmp_name)
    tmp_manifest = db_dir / f".{path.name}.{os.getpid()}.manifest.tmp"
    try:
        write_arrays(tmp, arrays, {"bundle": name, "schema_version": SCHEMA_VERSION, "counts": counts})
        os.chmod(tmp, 0o644)
        digest = sha256_file(tmp)
        st = tmp.stat()
        manifest = {
            "kind": "bundle",
            "name": name,
            "assembly": assembly,
            "schema_version": SCHEMA_VERSION,
            "file": path.name,
            "sha256": digest,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "source": {
                "package": name,
                "version": "bundle",
                "gene_model": {"format": "gff3" if gff3 else "gtf", "file": model.name, "sha256": sha256_file(model)},
                "fasta": {"file": fasta.name, "sha256": sha256_file(fasta)},
            },
            "contigs": sizes if len(sizes) <= 1000 else len(sizes),
            "coordinates": "global 0-based half-open (contig index << 32 | position)",
            "counts": counts,
        }
        tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
        # The file first, then its manifest: a reader that sees the new file with the old
        # manifest refuses it (size/sha256 differ) instead of using a mismatched pair.
        os.replace(tmp, path)
        os.replace(tmp_manifest, manifest_path_of(path))
    finally:
        for p in (tmp, tmp_manifest):
            if p.exists():
                p.unlink()
    return path
