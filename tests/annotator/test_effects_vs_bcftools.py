"""Differential test: GAS's per-transcript consequences against `bcftools csq` on a generated bundle.

The bundle (tests/annotator/bundle_gen.py) is written as Ensembl GFF3 and as GENCODE GTF; GAS
builds a database from each through `gas-annotation-db build` and annotates 50,000 boundary
variants through `gas-annotate`, both as a user runs them. The two outputs must be identical,
and consequence terms and amino-acid changes must agree with bcftools csq on >= 99.5% of
variant x transcript pairs (the map and the rules: docs/annotation-engine.md, "Transcript
consequences: differential test"). The summary table of disagreement classes is printed.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from bundle_gen import Written, describe, write_bundle
from effects_oracle import (
    VEP_TO_BCFTOOLS,
    compare,
    read_bcsq,
    read_csq,
    run_bcftools_csq,
)

pytestmark = [
    pytest.mark.bcftools,
    pytest.mark.skipif(shutil.which("bcftools") is None, reason="bcftools not on PATH (apt-get install bcftools)"),
]

BIN = Path(sys.executable).parent
AGREEMENT = 0.995
# bcftools 1.16 drops transcripts of biotype lncRNA ("Ignored the following biotypes"); GAS keeps them.
BCFTOOLS_IGNORED_BIOTYPES = {"lncRNA"}
CSQ_FORMAT = (
    "Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|cDNA_position|"
    "CDS_position|Protein_position|Amino_acids|Codons|Existing_variation|DISTANCE|STRAND|FLAGS|PICK|CANONICAL|"
    "MANE_SELECT"
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return write_bundle(tmp_path_factory.mktemp("bundle"), seed=1, n_variants=50_000)


@pytest.fixture(scope="module")
def bcftools_csq(bundle: Written) -> Path:
    return run_bcftools_csq(bundle.fasta, bundle.gff3, bundle.vcf, bundle.vcf.with_name("bcftools.vcf"))


def _ignored_by_bcftools(bundle: Written) -> Callable[[str], bool]:
    ids = {t.id for g in bundle.bundle.genes for t in g.transcripts if t.biotype in BCFTOOLS_IGNORED_BIOTYPES}
    return lambda feature: feature in ids or feature.split("|")[1:2] == ["lncRNA"]


def _gas(bundle: Written, model: str, tmp: Path) -> Path:
    """Build a database from the GFF3 or the GTF and annotate the variants, through the console scripts."""
    db_dir = tmp / "db"
    name = f"generated-{model}"
    source = bundle.gff3 if model == "gff3" else bundle.gtf
    build = [str(BIN / "gas-annotation-db"), "build", "--name", name, f"--{model}", str(source)]
    build += ["--fasta", str(bundle.fasta), "--db-dir", str(db_dir)]
    proc = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(build)}: {proc.stderr[-2000:]}"
    out = tmp / f"out-{model}"
    cmd = [str(BIN / "gas-annotate"), str(bundle.vcf), "--db", name, "--db-dir", str(db_dir), "-o", str(out)]
    proc = subprocess.run([*cmd, "--no-parquet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr[-2000:]}"
    return Path(proc.stdout.splitlines()[0])


@pytest.fixture(scope="module")
def gas_outputs(bundle: Written, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("gas")
    return {model: _gas(bundle, model, tmp) for model in ("gff3", "gtf")}


# --- the generator and the harness (runnable before the engine exists) ----------------------


def test_generator_covers_every_kind_of_structure(bundle: Written) -> None:
    d = describe(bundle.bundle)
    print(d)
    for kind in (
        "plus_strand",
        "minus_strand",
        "single_exon_coding",
        "exons_ge_20",
        "tiny_exons",
        "utr5",
        "utr3",
        "phase1",
        "phase2",
        "start_split",
        "stop_split",
        "start_nf",
        "end_nf",
        "noncoding",
        "nmd",
        "overlapping_genes",
        "nested_genes",
        "canonical",
        "mane",
        "basic",
    ):
        assert d[kind] > 0, f"the generated model has no {kind}: {d}"
    assert max(d["exon_counts"]) == 30 and min(d["exon_counts"]) == 1
    lines = bundle.vcf.read_text().splitlines()
    body = [line.split("\t") for line in lines if not line.startswith("#")]
    assert len(body) >= 50_000
    kinds = {("snv" if len(r) == len(a) == 1 else "mnv" if len(r) == len(a) else "indel") for _, _, _, r, a, *_ in body}
    assert kinds == {"snv", "mnv", "indel"}
    assert max(abs(len(r) - len(a)) for _, _, _, r, a, *_ in body) == 30
    # REF is the genome's, so bcftools (which checks it) accepts every record.
    fa = {c: "".join(s) for c, s in bundle.bundle.contigs.items()}
    assert all(fa[c][int(p) - 1 : int(p) - 1 + len(r)] == r for c, p, _, r, *_ in body)


def test_bcftools_reads_the_generated_bundle(bundle: Written, bcftools_csq: Path) -> None:
    calls = read_bcsq(bcftools_csq)
    terms = {t for call in calls.values() for t in call.terms}
    # The variants reach every kind of boundary bcftools can name.
    for term in (
        "missense",
        "synonymous",
        "stop_gained",
        "stop_lost",
        "start_lost",
        "stop_retained",
        "frameshift",
        "inframe_insertion",
        "inframe_deletion",
        "splice_donor",
        "splice_acceptor",
        "splice_region",
        "5_prime_utr",
        "3_prime_utr",
        "intron",
        "non_coding",
        "coding_sequence",
    ):
        assert term in terms, f"no {term} among bcftools' calls"
    assert len(calls) > 50_000


def _bcsq_as_csq(bcftools_vcf: Path, out: Path, corrupt: float = 0.0, seed: int = 5) -> Path:
    """bcftools' calls rewritten as a VEP-layout CSQ (what GAS should write), optionally with errors."""
    to_vep: dict[str, str] = {}
    for vep, bcf in VEP_TO_BCFTOOLS.items():
        if bcf:
            to_vep.setdefault(bcf, vep)
    to_vep["inframe_altering"] = "protein_altering_variant"
    rng = random.Random(seed)
    lines = []
    for line in bcftools_vcf.read_text().splitlines():
        if line.startswith("##INFO=<ID=BCSQ"):
            continue
        if line.startswith("#CHROM"):
            lines.append(f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Test. Format: {CSQ_FORMAT}">')
        if line.startswith("#"):
            lines.append(line)
            continue
        f = line.split("\t")
        m = re.search(r"BCSQ=([^;]*)", f[7])
        entries = []
        for e in m.group(1).split(",") if m else []:
            p = e.split("|")
            terms = [to_vep[t.lstrip("*")] for t in p[0].split("&")]
            if corrupt and rng.random() < corrupt:
                terms = ["missense_variant"] if terms != ["missense_variant"] else ["synonymous_variant"]
            pos = aa = ""
            am = re.match(r"^(\d+)([A-Z*]+)(?:>\d+([A-Z*]+))?$", p[5]) if len(p) > 5 else None
            if am:
                pos, aa = am.group(1), am.group(2) + ("/" + am.group(3) if am.group(3) else "")
            row = dict.fromkeys(CSQ_FORMAT.split("|"), "")
            row.update(Consequence="&".join(terms), Feature_type="Transcript", Feature=f"{p[2] or 'ENSTX'}.1")
            row.update(SYMBOL=p[1], BIOTYPE="nonsense_mediated_decay" if p[3] == "NMD" else p[3])
            row.update(Protein_position=pos, Amino_acids=aa)
            entries.append("|".join(row.values()))
        f[7] = "CSQ=" + ",".join(entries) if entries else "."
        lines.append("\t".join(f))
    out.write_text("\n".join(lines) + "\n")
    return out


def test_harness_agrees_with_itself_and_catches_errors(bcftools_csq: Path, tmp_path: Path) -> None:
    bcf = read_bcsq(bcftools_csq)
    same, _ = read_csq(_bcsq_as_csq(bcftools_csq, tmp_path / "same.vcf"))
    result = compare(same, bcf)
    assert result.pairs == len(bcf) and result.rate == 1.0, result.table()
    assert result.aa_compared > 5_000
    wrong, _ = read_csq(_bcsq_as_csq(bcftools_csq, tmp_path / "wrong.vcf", corrupt=0.01))
    result = compare(wrong, bcf)
    print(result.table())
    assert result.rate < AGREEMENT and "missense -> synonymous" in result.classes


# --- GAS against bcftools ------------------------------------------------------------------


def _records(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def test_gff3_and_gtf_give_identical_output(gas_outputs: dict[str, Path]) -> None:
    gff3, gtf = (_records(gas_outputs[m]) for m in ("gff3", "gtf"))
    assert len(gff3) == len(gtf) >= 50_000
    diff = [(a, b) for a, b in zip(gff3, gtf, strict=True) if a != b]
    assert diff == [], f"{len(diff)} records differ between the GFF3 and GTF builds; first: {diff[:2]}"
    header = [line for line in gas_outputs["gff3"].read_text().splitlines() if line.startswith("##INFO=<ID=CSQ,")]
    assert len(header) == 1 and f'Format: {CSQ_FORMAT}"' in header[0]


def test_consequences_agree_with_bcftools(bundle: Written, bcftools_csq: Path, gas_outputs: dict[str, Path]) -> None:
    gas, rows = read_csq(gas_outputs["gff3"])
    bcf = read_bcsq(bcftools_csq)
    result = compare(gas, bcf, skip=_ignored_by_bcftools(bundle))
    print()
    print(result.table())
    # Every variant got GAS's CSQ (overlapping or within 5 kb of a transcript in this bundle, or none).
    assert result.pairs > 50_000
    assert result.rate >= AGREEMENT, result.table()
