"""Bundle builds through `gas-annotation-db build --name` (the command an SRE runs): GFF3 and GTF
of one model give the same bundle output, compressed inputs work, the manifest records the
sources, and bad inputs fail with FILE:LINE: reason while the previous bundle stays in service."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from bundle_support import annotate, build, write_inputs

from gas.annotator.engine.database import load_bundle, sha256_file

VCF = (
    "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "chr1\t111\t.\tA\tG\t.\t.\t.\n"
    "chr1\t117\t.\tC\tG\t.\t.\t.\n"
    "chr1\t131\t.\tG\tA\t.\t.\t.\n"
    "chr1\t450\t.\tT\tC\t.\t.\t.\n"
    "chr1\t620\t.\tA\tC\t.\t.\t.\n"
)


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    paths = write_inputs(tmp_path / "in")
    vcf = tmp_path / "in" / "case.vcf"
    genome = paths["fasta"].read_text().split("\n", 1)[1].replace("\n", "")
    lines = VCF.splitlines(keepends=True)
    fixed = [
        line
        if line.startswith("#")
        else line.replace(f"\t{line.split()[3]}\t", f"\t{genome[int(line.split()[1]) - 1]}\t", 1)
        for line in lines
    ]
    vcf.write_text("".join(fixed))
    paths["vcf"] = vcf
    return paths


def _records(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def test_gff3_and_gtf_build_the_same_bundle_output(inputs: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "db"
    for model in ("gff3", "gtf"):
        proc = build(f"t-{model}", db, f"--{model}", inputs[model], "--fasta", inputs["fasta"])
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str(db / f"gas-bundle-t-{model}-v2.gasdb")
    outs = {}
    for model in ("gff3", "gtf"):
        proc = annotate(inputs["vcf"], f"t-{model}", db, tmp_path / model)
        assert proc.returncode == 0, proc.stderr
        outs[model] = Path(proc.stdout.splitlines()[0])
    gff3, gtf = _records(outs["gff3"]), _records(outs["gtf"])
    assert gff3 == gtf and len(gff3) == 5
    assert all("CSQ=" in line for line in gff3)
    manifest = json.loads((db / "gas-bundle-t-gff3-v2.manifest.json").read_text())
    assert manifest["source"]["gene_model"] == {
        "format": "gff3",
        "file": "genes.gff3",
        "sha256": sha256_file(inputs["gff3"]),
    }
    assert manifest["source"]["fasta"]["sha256"] == sha256_file(inputs["fasta"])
    assert manifest["assembly"] is None and manifest["counts"]["transcripts_model"] == 3
    bundle = load_bundle("t-gff3", db, verify=True)
    # The gene-level tables come from the same model: GENE/REGION work for this genome.
    assert bundle.packed("gene_names").tolist() == ["GENEA", "GENEB", "GENEC"]
    header = [h for h in outs["gff3"].read_text().splitlines() if h.startswith("##GAS_annotation")]
    assert "Database=bundle-t-gff3-v2" in header[0] and "Source=genes.gff3+genome.fa" in header[0]


def test_gzip_and_bgzf_inputs(inputs: dict[str, Path], tmp_path: Path) -> None:
    gz = tmp_path / "genes.gtf.gz"
    gz.write_bytes(gzip.compress(inputs["gtf"].read_bytes()))
    fasta = tmp_path / "genome.fa.gz"
    shutil.copy(inputs["fasta"], tmp_path / "genome.fa")
    if shutil.which("bgzip"):
        subprocess.run(["bgzip", "-f", str(tmp_path / "genome.fa")], check=True)  # BGZF: multi-member gzip
    else:
        fasta.write_bytes(gzip.compress((tmp_path / "genome.fa").read_bytes()))
    proc = build("zipped", tmp_path / "db", "--gtf", gz, "--fasta", fasta)
    assert proc.returncode == 0, proc.stderr
    plain = build("plain", tmp_path / "db", "--gtf", inputs["gtf"], "--fasta", inputs["fasta"])
    assert plain.returncode == 0, plain.stderr
    a, b = (load_bundle(n, tmp_path / "db") for n in ("zipped", "plain"))
    assert bytes(a.arrays["seq"]) == bytes(b.arrays["seq"])
    assert bytes(a.arrays["tx_id_data"]) == bytes(b.arrays["tx_id_data"])


def _fails_and_keeps(inputs: dict[str, Path], tmp_path: Path, args: list, expected: str) -> None:
    db = tmp_path / "db"
    good = build("kept", db, "--gff3", inputs["gff3"], "--fasta", inputs["fasta"])
    assert good.returncode == 0, good.stderr
    before = sha256_file(db / "gas-bundle-kept-v2.gasdb")
    proc = build("kept", db, *args)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    # The previous bundle is in service, unchanged, and nothing temporary is left behind.
    assert sha256_file(db / "gas-bundle-kept-v2.gasdb") == before
    assert load_bundle("kept", db, verify=True).sha256 == before
    assert sorted(p.name for p in db.iterdir()) == ["gas-bundle-kept-v2.gasdb", "gas-bundle-kept-v2.manifest.json"]
    ok = annotate(inputs["vcf"], "kept", db, tmp_path / "out")
    assert ok.returncode == 0, ok.stderr


def _in_lines(text: str, rows: range, old: str, new: str) -> str:
    """`text` with the first `old` in each of those lines (0-based) made `new`."""
    lines = text.splitlines(keepends=True)
    for i in rows:
        lines[i] = lines[i].replace(old, new, 1)
    return "".join(lines)


# An input broken one way (its file name, how the good one is edited) and the one error line it gets.
BROKEN = [
    pytest.param(
        "bad.gff3",
        lambda text: _in_lines(text, range(14, 18), "chr1\t", "chrZ\t"),  # the lncRNA gene, transcript, exons
        "bad.gff3:16: sequence 'chrZ' is not in genome.fa",
        id="unknown-sequence-name",
    ),
    pytest.param(
        "short.fa",
        lambda text: "".join(text.splitlines(keepends=True)[:8]),  # 420 of 1000 bases
        "transcript ENST2.1 ends at 460, past the end of chr1 in short.fa (420 bases: truncated FASTA?)",
        id="truncated-fasta",
    ),
    pytest.param(
        "phase.gff3",
        lambda text: text.replace("201\t213\t.\t+\t1\t", "201\t213\t.\t+\t2\t"),
        "phase.gff3:9: CDS phase 2 of ENST1.3 does not follow from the CDS before it (expected 1)",
        id="phase-out-of-step",
    ),
    pytest.param(
        "phase.gff3",
        lambda text: text.replace("201\t213\t.\t+\t1\t", "201\t213\t.\t+\t.\t"),
        "phase.gff3:9: CDS phase '.' is not 0, 1 or 2",
        id="phase-dot",
    ),
    pytest.param(
        "cols.gtf",
        lambda text: _in_lines(text, range(5, 6), "\t", " "),
        "cols.gtf:6: expected 9 tab-separated columns, found 8",
        id="eight-columns",
    ),
    pytest.param(
        "orphan.gff3",
        lambda text: text.replace("Parent=transcript:ENST2\n", "Parent=transcript:ENST9\n"),
        "orphan.gff3:13: Parent 'transcript:ENST9' is not a transcript in the file",
        id="orphan-parent",
    ),
]


@pytest.mark.parametrize(("name", "edit", "expected"), BROKEN)
def test_a_broken_input_fails_and_keeps_the_previous_bundle(
    inputs: dict[str, Path], tmp_path: Path, name: str, edit: Callable[[str], str], expected: str
) -> None:
    kind = {".gff3": "gff3", ".gtf": "gtf", ".fa": "fasta"}[Path(name).suffix]
    model = "gtf" if kind == "gtf" else "gff3"
    files = {model: inputs[model], "fasta": inputs["fasta"]}
    files[kind] = tmp_path / name
    files[kind].write_text(edit(inputs[kind].read_text()))
    _fails_and_keeps(inputs, tmp_path, [f"--{model}", files[model], "--fasta", files["fasta"]], expected)


def test_cut_off_fasta_download_fails_and_keeps_the_previous_bundle(inputs: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(gzip.compress(inputs["fasta"].read_bytes())[:-20])  # a cut-off download
    _fails_and_keeps(inputs, tmp_path, ["--gff3", inputs["gff3"], "--fasta", cut], "cut.fa.gz: truncated or corrupt")


def test_long_contig_names_that_share_a_prefix(inputs: dict[str, Path], tmp_path: Path) -> None:
    """Scaffold names of 8 bytes or more (chrUn_KI270302v1, NC_000001.11) are told apart by the
    whole name: a record on a scaffold without genes gets none of another scaffold's."""
    seq = inputs["fasta"].read_text().split("\n", 1)[1]
    fasta = tmp_path / "scaffolds.fa"
    fasta.write_text(f">chrUn_KI270302v1\n{seq}>chrUn_KI270303v1\n{seq}>NC_000001.11\n{seq}")
    gff3 = tmp_path / "scaffolds.gff3"
    gff3.write_text(inputs["gff3"].read_text().replace("chr1\t", "chrUn_KI270303v1\t"))
    proc = build("scaffolds", tmp_path / "db", "--gff3", gff3, "--fasta", fasta)
    assert proc.returncode == 0, proc.stderr
    vcf = tmp_path / "scaffolds.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join(f"{c}\t114\t.\tA\tT\t.\t.\t.\n" for c in ("chrUn_KI270302v1", "chrUn_KI270303v1", "NC_000001.11"))
        + "chrUn_KI270399v1\t114\t.\tA\tT\t.\t.\t.\n"
    )
    out = annotate(vcf, "scaffolds", tmp_path / "db", tmp_path / "out")
    assert out.returncode == 0, out.stderr
    info = [line.split("\t")[7] for line in _records(Path(out.stdout.splitlines()[0]))]
    assert "GENE=" not in info[0] and "CSQ=T|intergenic_variant|" in info[0]
    assert "GENE=GENEA" in info[1] and "CSQ=T|stop_gained|HIGH|GENEA|" in info[1]
    assert "GENE=" not in info[2] and "CSQ=T|intergenic_variant|" in info[2]
    assert "CSQ=" not in info[3]  # not in the bundle: written with VC only
    summary = json.loads(Path(out.stdout.splitlines()[2]).read_text())
    assert summary["contigs"] == {
        "chrUn_KI270302v1": 1,
        "chrUn_KI270303v1": 1,
        "NC_000001.11": 1,
        "chrUn_KI270399v1": 1,
    }
