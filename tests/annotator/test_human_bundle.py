"""The human-scale benchmark's generator (bench/human_bundle.py), at a thousandth of the scale:
what it promises (a FASTA whose .fai is right, real ORFs, REF from the genome, human-like
transcript counts, most variants outside exons) holds, and both engines read its files as a
user runs them (`gas-annotation-db build` + `gas-annotate`, `bcftools csq`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from bundle_gen import revcomp
from engine_support import needs_bcftools, records

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from human_bundle import write  # noqa: E402

BIN = Path(sys.executable).parent
STOPS = {"TAA", "TAG", "TGA"}


def read_fasta(path: Path) -> dict[str, str]:
    seqs: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:]
            seqs[name] = []
        else:
            seqs[name].append(line)
    return {k: "".join(v) for k, v in seqs.items()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("human")
    write(out, seed=3, n_genes=600, scale=1000, n_variants=5_000)
    return out


def test_fasta_and_fai(small: Path) -> None:
    genome = read_fasta(small / "genome.fa")
    raw = (small / "genome.fa").read_bytes()
    fai = [line.split("\t") for line in (small / "genome.fa.fai").read_text().splitlines()]
    assert [f[0] for f in fai] == list(genome) and len(fai) == 24
    for name, length, offset, bases, width in fai:
        seq = genome[name]
        assert len(seq) == int(length) and set(seq) == set("ACGT")
        assert raw[int(offset) : int(offset) + 10].decode() == seq[:10] and (bases, width) == ("60", "61")
    gc = sum(s.count("G") + s.count("C") for s in genome.values()) / sum(map(len, genome.values()))
    assert 0.39 < gc < 0.43


def test_model_has_real_orfs_and_human_like_counts(small: Path) -> None:
    genome = read_fasta(small / "genome.fa")
    genes = transcripts = 0
    cds: dict[str, list[tuple[str, int, int, str]]] = {}
    canonical = set()
    for line in (small / "genes.gff3").read_text().splitlines():
        if line.startswith("#"):
            continue
        chrom, _, kind, start, end, _, strand, _, attrs = line.split("\t")
        genes += kind in ("gene", "ncRNA_gene")
        if "Parent=gene:" in attrs:
            transcripts += 1
            if "Ensembl_canonical" in attrs:
                canonical.add(attrs.split(";")[0].removeprefix("ID=transcript:"))
        if kind == "CDS":
            tx = attrs.split("Parent=transcript:")[1].split(";")[0]
            cds.setdefault(tx, []).append((chrom, int(start), int(end), strand))
    assert 450 < genes <= 600 and 3.5 < transcripts / genes < 5
    checked = 0
    for tx, rows in cds.items():
        if tx not in canonical:
            continue  # alternative isoforms may read another frame in shared exons
        rows.sort(key=lambda r: r[1])
        seq = "".join(genome[c][s - 1 : e] for c, s, e, _ in rows)
        seq = seq if rows[0][3] == "+" else revcomp(seq)
        codons = [seq[i : i + 3] for i in range(0, len(seq), 3)]
        assert len(seq) % 3 == 0 and codons[0] == "ATG" and codons[-1] in STOPS, tx
        assert not STOPS & set(codons[1:-1]), tx
        checked += 1
    assert checked > 150


@needs_bcftools
@pytest.mark.bcftools
def test_both_engines_read_it_and_most_variants_are_outside_exons(small: Path) -> None:
    db = small / "db"
    build = [BIN / "gas-annotation-db", "build", "--name", "human", "--gff3", small / "genes.gff3"]
    subprocess.run([*build, "--fasta", small / "genome.fa", "--db-dir", db], check=True, capture_output=True)
    run = [BIN / "gas-annotate", small / "variants.vcf", "--db", "human", "--db-dir", db, "-o", small / "out"]
    subprocess.run([*run, "--no-parquet"], check=True, capture_output=True)
    rows = records(small / "out" / "variants.annot.vcf")
    assert len(rows) == 5_000
    summary = json.loads((small / "out" / "variants.summary.json").read_text())
    assert summary["ref_check"]["checked"] == 5_000 and summary["ref_check"]["mismatches"] == 0  # REF from the FASTA
    worst = Counter(str(r["info"]["MOST_SEVERE"]) for r in rows)
    outside = sum(worst[t] for t in ("intergenic_variant", "intron_variant", "upstream_gene_variant"))
    outside += worst["downstream_gene_variant"]
    assert outside > 0.6 * len(rows) and worst["intergenic_variant"] > 0.1 * len(rows)
    assert sum(worst[t] for t in ("missense_variant", "synonymous_variant", "frameshift_variant")) > 0 or worst[
        "coding_sequence_variant"
    ] > 0.02 * len(rows)
    kinds = Counter("SNV" if len(r["ref"]) == len(r["alt"]) == 1 else "other" for r in rows)
    assert 0.8 < kinds["SNV"] / len(rows) < 0.9
    bcf = subprocess.run(
        ["bcftools", "csq", "--local-csq", "-f", small / "genome.fa", "-g", small / "genes.gff3"]
        + ["-Ov", "-o", small / "bcftools.vcf", small / "variants.vcf"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Ignored the following biotypes" not in bcf.stderr, bcf.stderr
    called = [r for r in records(small / "bcftools.vcf") if "BCSQ" in r["info"]]
    assert any("missense" in str(r["info"]["BCSQ"]) for r in called)
