"""The genotypes file (decision 99) and the per-sample counts of the summary, against bcftools.

The 107-sample v3.3 file is generated (tests/samples_vcf.py: no Debian package ships a
many-sample v3.3 file); bcftools reads the engine's v4.1 conversion of it. bcftools 1.16's
``view -s S -i EXPR`` evaluates EXPR over every sample before subsetting, so the peer is
``bcftools view -s S | bcftools view -i 'GT="alt"'``.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pyarrow.parquet as pq
import pytest
from engine_support import needs_bcftools
from samples_vcf import SAMPLES, write_v33

from gas.annotator.engine import annotate_vcf
from gas.annotator.engine import genotypes as genotypes_module
from gas.annotator.engine import reader as reader_module
from gas.annotator.engine.genotypes import CARRIER_CODES, HAPLOID_ALT, HET, HOM_ALT, NO_CALL, OTHER_ALT, REF

BCFTOOLS_CLASSES = {"alt": "variants", "het": "het", "AA": "hom_alt", "mis": "no_call"}


@pytest.fixture(scope="module")
def v33(tmp_path_factory, db):
    out = tmp_path_factory.mktemp("v33")
    mp = pytest.MonkeyPatch()
    mp.setattr(reader_module, "BLOCK_BYTES", 256 << 10)  # many blocks: record offsets
    mp.setattr(genotypes_module, "GROUP_CELLS", 50_000)  # several row groups, each of several blocks
    try:
        result = annotate_vcf(write_v33(out / "cohort.vcf"), out / "out", db)
    finally:
        mp.undo()
    return result


def _bcftools_count(vcf, sample: str, gt_class: str) -> int:
    subset = subprocess.run(["bcftools", "view", "-s", sample, str(vcf)], capture_output=True, check=True)
    kept = subprocess.run(
        ["bcftools", "view", "-H", "-i", f'GT="{gt_class}"', "-"], input=subset.stdout, capture_output=True, check=True
    )
    return kept.stdout.count(b"\n")


@needs_bcftools
@pytest.mark.parametrize("index", [0, 1, 53, 106])
def test_sample_classes_count_what_bcftools_counts(v33, index):
    name = SAMPLES[index]
    genotypes = pq.read_table(v33.genotypes_parquet, columns=["record", f"s{index}.code"])
    record = genotypes.column(0).to_numpy()
    code = genotypes.column(1).to_numpy(zero_copy_only=False)
    code = np.where(np.isnan(code.astype(float)), -1, code).astype(int)
    ours = {
        "alt": np.unique(record[np.isin(code, CARRIER_CODES)]).size,
        "het": np.unique(record[code == HET]).size,
        "AA": np.unique(record[code == HOM_ALT]).size,
        "mis": np.unique(record[code == NO_CALL]).size,
    }
    summary = json.loads(v33.summary_json.read_text())["sample_counts"]
    assert summary["names"][index] == name
    for gt_class, key in BCFTOOLS_CLASSES.items():
        peer = _bcftools_count(v33.annotated_vcf, name, gt_class)
        assert ours[gt_class] == peer, (name, gt_class)
        assert summary[key][index] == peer, (name, gt_class)
    assert ours["alt"] > 1000 and ours["mis"] > 50  # the file exercises every class


def test_rows_align_with_the_variants_table_and_the_vcf(v33):
    variants = pq.ParquetFile(v33.variants_parquet)
    genotypes = pq.ParquetFile(v33.genotypes_parquet)
    assert json.loads(genotypes.schema_arrow.metadata[b"gas.samples"]) == SAMPLES
    assert genotypes.metadata.num_rows == variants.metadata.num_rows
    assert 5 < genotypes.num_row_groups < variants.num_row_groups
    assert genotypes.read(columns=["record"]).column(0).equals(variants.read(columns=["record"]).column(0))
    # GT as written, DP and GQ as numbers (v3.3's -1 and '.' are null), from the annotated VCF.
    lines = [line.split("\t") for line in v33.annotated_vcf.read_text().splitlines() if not line.startswith("#")]
    table = genotypes.read(columns=["record", "s5.gt", "s5.dp", "s5.gq", "s5.code"]).to_pylist()
    checked = 0
    for row in table:
        fields = lines[row["record"]]
        keys = fields[8].split(":")
        values = dict(zip(keys, fields[9 + 5].split(":"), strict=False))
        assert row["s5.gt"] == values["GT"]
        for key in ("DP", "GQ"):
            want = int(values[key]) if key in values and values[key].isdigit() else None
            assert row[f"s5.{key.lower()}"] == want
        checked += 1
    assert checked == len(table) > 3431


def test_codes_follow_bcftools_classes(annotate):
    header = (
        "##fileformat=VCFv4.2\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(f"S{i}" for i in range(12)) + "\n"
    )
    gts = ["0/0", "0/1", "1/1", "1/2", "2/2", "./.", ".", "./1", "1", "0", "0/0/1", "2|1"]
    result, _ = annotate(f"1\t1000000\t.\tA\tC,G\t.\t.\t.\tGT\t{chr(9).join(gts)}\n", header=header)
    rows = pq.read_table(result.genotypes_parquet).to_pylist()
    assert [r["record"] for r in rows] == [0, 0]
    # Row 1 is ALT C, row 2 ALT G.
    expected_c = [REF, HET, HOM_ALT, HET, OTHER_ALT, NO_CALL, NO_CALL, NO_CALL, HAPLOID_ALT, REF, HET, HET]
    expected_g = [REF, OTHER_ALT, OTHER_ALT, HET, HOM_ALT, NO_CALL, NO_CALL, NO_CALL, OTHER_ALT, REF, OTHER_ALT, HET]
    assert [rows[0][f"s{i}.code"] for i in range(12)] == expected_c
    assert [rows[1][f"s{i}.code"] for i in range(12)] == expected_g
    assert [rows[0][f"s{i}.gt"] for i in range(12)] == gts
    counts = result.summary["sample_counts"]
    assert counts["variants"] == [0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1]
    assert counts["het"] == [0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1]
    assert counts["hom_alt"] == [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert counts["no_call"] == [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0]


def test_no_samples_no_genotypes_file(annotate):
    result, _ = annotate("1\t1000000\t.\tA\tC\t.\t.\t.\n")
    assert result.genotypes_parquet is None
    assert not list(result.annotated_vcf.parent.glob("*.genotypes.parquet"))
    assert result.summary["sample_counts"] is None
