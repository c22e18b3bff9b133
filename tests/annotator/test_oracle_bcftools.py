"""Oracle: GENE and RSID agree exactly with bcftools annotate run on tracks exported from the database."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from gas.annotator.engine import annotate_vcf, export_tracks

pytestmark = [
    pytest.mark.bcftools,
    pytest.mark.skipif(
        shutil.which("bcftools") is None, reason="bcftools not on PATH (apt-get install bcftools tabix)"
    ),
]


@pytest.fixture(scope="module")
def tracks(db, tmp_path_factory):
    return export_tracks(db, tmp_path_factory.mktemp("tracks"), "plain")


def _query(path, tag):
    out = subprocess.run(
        ["bcftools", "query", "-f", f"%CHROM:%POS:%REF:%ALT\\t%INFO/{tag}\\n", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.splitlines()


@pytest.mark.parametrize("sample", ["test.vcf", "free_1.vcf", "premium_1.vcf", "premium_2.vcf"])
def test_gene_and_rsid_match_bcftools(db, tracks, tmp_path, samples, sample):
    # premium_1.vcf is NCBI36 (##reference=human_b36_both.fasta): compared by position anyway.
    ours = annotate_vcf(samples / sample, tmp_path / "ours", db, allow_assembly_mismatch=True).annotated_vcf
    # The samples declare no contigs, which bcftools annotate refuses: give it ours.
    text = (samples / sample).read_text().splitlines(keepends=True)
    contigs = [line + "\n" for line in ours.read_text().splitlines() if line.startswith("##contig=")]
    cut = next(i for i, line in enumerate(text) if line.startswith("#CHROM"))
    src = tmp_path / sample
    src.write_text("".join(text[:cut] + contigs + text[cut:]))
    theirs = tmp_path / "bcftools.vcf"
    cmd = (
        f"bcftools annotate -a {tracks['genes']} -c CHROM,FROM,TO,GENE -l GENE:unique -h {tracks['headers']} -Ou {src}"
        f" | bcftools annotate -a {tracks['known']} -c CHROM,POS,REF,ALT,RSID -Ov -o {theirs}"
    )
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True, capture_output=True)
    for tag in ("GENE", "RSID"):
        mine, oracle = _query(ours, tag), _query(theirs, tag)
        assert len(mine) == len(oracle) > 0
        diff = [(a, b) for a, b in zip(mine, oracle, strict=True) if a != b]
        assert diff == [], f"{tag}: {len(diff)} differences, first {diff[:3]}"
    # bcftools view reads our output cleanly (no errors; the sample's own PL warning aside).
    view = subprocess.run(["bcftools", "view", "-H", str(ours)], capture_output=True, text=True)
    assert view.returncode == 0
    assert [line for line in view.stderr.splitlines() if "PL should be declared" not in line] == []
