"""Transcript effects through `gas-annotate --db` on the hand-made bundle (bundle_support.py):
hand-checked consequences and HGVS on both strands and a non-coding transcript, the picked
consequence per ALT (Number=A fields), the Parquet columns the viewer reads, an input's own
CSQ kept as CSQ_INPUT, and REF alleles checked against the FASTA."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq
import pytest
from bundle_support import GFF3, annotate, build, genome, write_inputs

from gas.annotator.engine.effects import CSQ_FIELDS

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
SEQ = genome()


def ref(pos: int, n: int = 1) -> str:
    return SEQ[pos - 1 : pos - 1 + n]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("bundle")
    paths = write_inputs(tmp / "in")
    proc = build("hand", tmp / "db", "--gff3", paths["gff3"], "--fasta", paths["fasta"])
    assert proc.returncode == 0, proc.stderr
    return tmp, tmp / "db"


def run(bundle: tuple[Path, Path], body: str, *args: str, header: str = HEADER) -> tuple[Path, str]:
    tmp, db = bundle
    vcf = tmp / f"case{len(list(tmp.iterdir()))}.vcf"
    vcf.write_text(header + body)
    proc = annotate(vcf, "hand", db, tmp / "out", *args)
    return Path(proc.stdout.splitlines()[0]) if proc.returncode == 0 else Path(), proc.stderr


def csq(out: Path) -> dict[tuple[int, str, str], dict[str, dict[str, str]]]:
    """Per (POS, REF, ALT): the CSQ entries by transcript, fields by name."""
    names = CSQ_FIELDS.split("|")
    got: dict[tuple[int, str, str], dict[str, dict[str, str]]] = {}
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        m = re.search(r"(?:^|;)CSQ=([^;]*)", f[7])
        assert m, line
        for entry in m.group(1).split(","):
            row = dict(zip(names, (unquote(x) for x in entry.split("|")), strict=True))
            alt = next(a for a in f[4].split(",") if _vep_allele(f[3], a) == row["Allele"])
            got.setdefault((int(f[1]), f[3], alt), {})[row["Feature"] or "-"] = row
    return got


def _vep_allele(r: str, a: str) -> str:
    return (a[1:] or "-") if len(r) != len(a) and r[0] == a[0] else a


# (POS, REF, ALT, transcript) -> fields checked by hand against bundle_support's layout.
CASES = [
    (111, "A", "G", "ENST1.3", {"Consequence": "start_lost", "IMPACT": "HIGH", "HGVSc": "ENST1.3:c.1A>G",
        "HGVSp": "ENSP1:p.Met1?", "Codons": "Atg/Gtg", "Amino_acids": "M/V", "cDNA_position": "11",
        "CDS_position": "1", "Protein_position": "1", "EXON": "1/2"}),
    (114, "A", "T", "ENST1.3", {"Consequence": "stop_gained", "HGVSc": "ENST1.3:c.4A>T", "HGVSp": "ENSP1:p.Lys2Ter",
        "Amino_acids": "K/*", "Codons": "Aaa/Taa"}),
    (119, "G", "A", "ENST1.3", {"Consequence": "synonymous_variant", "IMPACT": "LOW", "HGVSp": "ENSP1:p.Leu3=",
        "Amino_acids": "L", "Codons": "ctG/ctA"}),
    (117, "CT", "GA", "ENST1.3", {"Consequence": "missense_variant", "HGVSc": "ENST1.3:c.7_8delinsGA",
        "HGVSp": "ENSP1:p.Leu3Glu", "Codons": "CTg/GAg"}),
    # CTG CTG CTG CGC (c.7-18): a CTG less (or more) shifts 3' to the TGC of c.14-16 (c.16 is C).
    (116, "ACTG", "A", "ENST1.3", {"Consequence": "inframe_deletion", "HGVSc": "ENST1.3:c.14_16del",
        "HGVSp": "ENSP1:p.Leu5del", "Allele": "-"}),
    (116, "A", "ACTG", "ENST1.3", {"Consequence": "inframe_insertion", "HGVSc": "ENST1.3:c.14_16dup",
        "HGVSp": "ENSP1:p.Leu5dup"}),
    # One A less in AAA (c.4-6) is c.6del; the new frame AAC TGC ... AGT AAG TGA reads N C C C A D P G S K *.
    (113, "GA", "G", "ENST1.3", {"Consequence": "frameshift_variant", "HGVSc": "ENST1.3:c.6del",
        "HGVSp": "ENSP1:p.Lys2AsnfsTer11"}),
    (131, "G", "A", "ENST1.3", {"Consequence": "splice_donor_variant", "HGVSc": "ENST1.3:c.20+1G>A",
        "INTRON": "1/1", "EXON": ""}),
    (199, "A", "G", "ENST1.3", {"Consequence": "splice_acceptor_variant", "HGVSc": "ENST1.3:c.21-2A>G"}),
    (135, "G", "C", "ENST1.3", {"Consequence": "splice_region_variant&intron_variant", "HGVSc": "ENST1.3:c.20+5G>C"}),
    (160, "C", "A", "ENST1.3", {"Consequence": "intron_variant", "HGVSc": "ENST1.3:c.20+30C>A", "IMPACT": "MODIFIER"}),
    (105, "C", "T", "ENST1.3", {"Consequence": "5_prime_UTR_variant", "HGVSc": "ENST1.3:c.-6C>T"}),
    (220, "A", "C", "ENST1.3", {"Consequence": "3_prime_UTR_variant", "HGVSc": "ENST1.3:c.*7A>C"}),
    # TAA -> CAA Gln, then GTG ATT ACA GAT TAC ... in the 3' UTR: no new stop.
    (211, "T", "C", "ENST1.3", {"Consequence": "stop_lost", "HGVSp": "ENSP1:p.Ter11GlnextTer?"}),
    (212, "A", "G", "ENST1.3", {"Consequence": "stop_retained_variant", "HGVSp": "ENSP1:p.Ter11=", "Amino_acids": "*"}),
    (50, None, "C", "ENST1.3", {"Consequence": "upstream_gene_variant", "DISTANCE": "51", "HGVSc": ""}),
    # GENEB on the minus strand: c.1 is 450, c.4 is 447 (GCT Ala2 -> ACT Thr).
    (450, "T", "C", "ENST2.1", {"Consequence": "start_lost", "HGVSc": "ENST2.1:c.1A>G", "STRAND": "-1",
        "HGVSp": "ENSP2:p.Met1?"}),
    (447, "C", "T", "ENST2.1", {"Consequence": "missense_variant", "HGVSc": "ENST2.1:c.4G>A",
        "HGVSp": "ENSP2:p.Ala2Thr", "Codons": "Gct/Act"}),
    (50, None, "C", "ENST2.1", {"Consequence": "downstream_gene_variant", "DISTANCE": "351"}),
    # The lncRNA: exon bases are n. positions, an intron base is offset from the nearest exon end.
    (620, None, "C", "ENST3.1", {"Consequence": "non_coding_transcript_exon_variant", "BIOTYPE": "lncRNA"}),
    (675, None, "C", "ENST3.1", {"Consequence": "intron_variant&non_coding_transcript_variant"}),
]  # fmt: skip


def _alleles(pos: int, r: str | None, alt: str) -> tuple[str, str]:
    r = r or ref(pos)
    return r, alt if alt != r else "G"


def test_hand_checked_cases(bundle: tuple[Path, Path]) -> None:
    for pos, r, _, _, _ in CASES:
        assert r is None or ref(pos, len(r)) == r, f"{pos}: the bundle has {ref(pos, len(r))}, the case says {r}"
    records = sorted({(pos, *_alleles(pos, r, alt)) for pos, r, alt, _, _ in CASES})
    out, err = run(bundle, "".join(f"chr1\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for p, r, a in records))
    assert out.name, err
    got = csq(out)
    for pos, r, alt, tx, expect in CASES:
        key = (pos, *_alleles(pos, r, alt))
        row = got[key][tx]
        assert {k: row[k] for k in expect} == expect, f"{key} {tx}: {row}"
    b = ref(620)
    assert got[(620, b, "C" if b != "C" else "G")]["ENST3.1"]["HGVSc"] == f"ENST3.1:n.20{b}>{'C' if b != 'C' else 'G'}"
    b = ref(675)
    assert (
        got[(675, b, "C" if b != "C" else "G")]["ENST3.1"]["HGVSc"] == f"ENST3.1:n.50+25{b}>{'C' if b != 'C' else 'G'}"
    )
    # '=' is written as %3D inside the INFO value, as VEP does.
    assert "ENSP1:p.Leu3%3D" in out.read_text()


def test_pick_per_allele_and_parquet(bundle: tuple[Path, Path]) -> None:
    body = (
        "chr1\t114\t.\tA\tT,G,<DEL>\t.\t.\t.\n"
        f"chr1\t50\t.\t{ref(50)}\tC\t.\t.\t.\n"
        f"chr1\t900\t.\t{ref(900)}\tC\t.\t.\t.\n"
    )
    out, err = run(bundle, body.replace(f"\t{ref(50)}\tC\t", f"\t{ref(50)}\t{'C' if ref(50) != 'C' else 'G'}\t"))
    assert out.name, err
    lines = [line.split("\t") for line in out.read_text().splitlines() if not line.startswith("#")]
    info = [dict(kv.partition("=")[::2] for kv in f[7].split(";")) for f in lines]
    # One value per ALT; the symbolic ALT has none.
    assert info[0]["PICK_CONSEQUENCE"] == "stop_gained,missense_variant,."
    assert info[0]["PICK_HGVSP"] == "ENSP1:p.Lys2Ter,ENSP1:p.Lys2Glu,."
    assert info[0]["PICK_FEATURE"] == "ENST1.3,ENST1.3,."
    # Upstream of GENEA (MANE Select), downstream of GENEB, upstream of GENEC: MANE Select wins.
    rows = csq(out)
    upstream = next(v for k, v in rows.items() if k[0] == 50)
    assert {t: r["PICK"] for t, r in upstream.items()} == {"ENST1.3": "1", "ENST2.1": "", "ENST3.1": ""}
    assert info[1]["PICK_FEATURE"] == "ENST1.3" and info[1]["PICK_IMPACT"] == "MODIFIER"
    # Nothing within 5 kb but GENEC's downstream window: 900 is 150 bases after it.
    assert info[2]["PICK_CONSEQUENCE"] == "downstream_gene_variant"
    header = [h for h in out.read_text().splitlines() if h.startswith("##INFO=<ID=")]
    assert (
        f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from GAS. Format: {CSQ_FIELDS}">'
        in header
    )
    assert any(h.startswith("##INFO=<ID=PICK_HGVSP,Number=A,") for h in header)
    table = pq.read_table(out.with_name(out.name.replace(".annot.vcf", ".variants.parquet"))).to_pylist()
    assert [(r["alt"], r["consequence"], r["hgvsp"], r["impact"]) for r in table[:3]] == [
        ("T", "stop_gained", "ENSP1:p.Lys2Ter", "HIGH"),
        ("G", "missense_variant", "ENSP1:p.Lys2Glu", "MODERATE"),
        ("<DEL>", table[2]["consequence"], None, None),
    ]
    # Every term of the ALT over its transcripts (GENEC's upstream and GENEB's downstream windows too).
    assert table[0]["consequences"] == ["stop_gained", "upstream_gene_variant", "downstream_gene_variant"]
    assert len(table[0]["transcript_consequences"]) == 3


def test_alts_without_entries_keep_their_gene_level_terms(bundle: tuple[Path, Path]) -> None:
    """A record the CSQ stage does not annotate (a REF that is not sequence) has no entries; its
    table row keeps the gene-level terms (the table's terms are then not the transcripts')."""
    out, err = run(bundle, f"chr1\t114\t.\tR\tT\t.\t.\t.\nchr1\t114\t.\t{ref(114)}\tT\t.\t.\t.\n")
    assert out.name, err
    table = pq.read_table(out.with_name(out.name.replace(".annot.vcf", ".variants.parquet"))).to_pylist()
    # gene-level: in GENEA's CDS, GENEB's downstream and GENEC's upstream windows
    gene_level = ["coding_sequence_variant", "upstream_gene_variant", "downstream_gene_variant"]
    assert [(r["consequence"], r["consequences"], r["transcript_consequences"]) for r in table[:1]] == [
        ("coding_sequence_variant", gene_level, None)
    ]
    assert (table[1]["consequence"], table[1]["consequences"]) == ("stop_gained", ["stop_gained", *gene_level[1:]])


def test_input_csq_is_kept_as_csq_input(bundle: tuple[Path, Path]) -> None:
    header = HEADER.replace("#CHROM", '##INFO=<ID=CSQ,Number=.,Type=String,Description="VEP. Format: Allele">\n#CHROM')
    out, err = run(bundle, "chr1\t114\t.\tA\tT\t.\t.\tCSQ=T;DP=3\n", header=header)
    assert out.name, err
    text = out.read_text()
    assert '##INFO=<ID=CSQ_INPUT,Number=.,Type=String,Description="VEP. Format: Allele">' in text
    assert "##GAS_renamed=<From=CSQ,To=CSQ_INPUT" in text
    record = text.splitlines()[-1].split("\t")[7]
    assert "CSQ_INPUT=T;DP=3;" in record and ";CSQ=T|stop_gained|" in record
    # Re-annotating GAS's output keeps one CSQ (ours, rewritten) and one set of PICK_* fields.
    again, err = run(bundle, text[text.index("chr1\t114") :], header=text[: text.index("chr1\t114")])
    assert again.name, err
    record = again.read_text().splitlines()[-1].split("\t")[7]
    assert record.count(";CSQ=") == 1 and record.count("PICK_HGVSP=") == 1 and record.count("CSQ_INPUT=") == 1
    assert again.read_text().count("##INFO=<ID=CSQ_INPUT,") == 1


def test_ref_mismatches_are_counted_and_a_foreign_file_is_refused(bundle: tuple[Path, Path]) -> None:
    good = "".join(f"chr1\t{p}\t.\t{ref(p)}\t{'C' if ref(p) != 'C' else 'G'}\t.\t.\t.\n" for p in range(300, 320))
    wrong = "chr1\t301\t.\t" + ("A" if ref(301) != "A" else "T") + "\tG\t.\t.\t.\n"
    out, err = run(bundle, good + wrong)
    assert out.name, err
    log = out.with_name(out.name.replace(".annot.vcf", ".count.log")).read_text()
    assert "ref_mismatches\t1\tof 21 REF alleles differ from the FASTA" in log
    summary = json.loads(out.with_name(out.name.replace(".annot.vcf", ".summary.json")).read_text())
    assert summary["ref_check"] == {"checked": 21, "mismatches": 1, "first_mismatch_line": 23}
    assert sum(summary["transcript_consequences"].values()) == 21 == sum(summary["impacts"].values())
    foreign = "".join(f"chr1\t{p}\t.\t{'A' if ref(p) != 'A' else 'T'}\tG\t.\t.\t.\n" for p in range(300, 330))
    out, err = run(bundle, foreign)
    assert not out.name
    assert "30 of 30 REF alleles differ from its FASTA (genome.fa), the first on line 3" in err
    out, err = run(bundle, foreign, "--allow-assembly-mismatch")
    assert out.name, err


def test_bundle_jobs_read_small_blocks(bundle: tuple[Path, Path]) -> None:
    """A bundle's CSQ text is ~100x its input line, so its blocks (one Parquet row group each)
    start at 4 KB and grow to 128 KB only (reader.BUNDLE_BLOCK_BYTES): the blocks in flight
    stay bounded and the first records are written after ~150 records' work."""
    line = f"chr1\t114\t.\t{ref(114)}\tC\t.\t.\t.\n"  # 26 bytes
    records = (300 << 10) // len(line)
    out, err = run(bundle, line * records)
    assert out.name, err
    meta = pq.ParquetFile(out.with_name(out.name.replace(".annot.vcf", ".variants.parquet"))).metadata
    rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(rows) == records
    sizes = [n * len(line) for n in rows]  # bytes of input lines per block
    assert sizes[0] <= 4 << 10 and max(sizes) <= 2 * (128 << 10) and len(sizes) >= 4, sizes


def test_a_value_with_a_comma_is_escaped_in_its_entry(tmp_path: Path) -> None:
    """CSQ entries are escaped together when no value holds a ',' of its own (one replace chain per
    record), one by one when one does: a gene named 'GENE,C=x' (GFF3 %2C, %3D) is written escaped
    and the record keeps one entry per transcript."""
    paths = write_inputs(tmp_path / "in")
    paths["gff3"].write_text(GFF3.replace("Name=GENEC", "Name=GENE%2CC%3Dx"))
    proc = build("comma", tmp_path / "db", "--gff3", paths["gff3"], "--fasta", paths["fasta"])
    assert proc.returncode == 0, proc.stderr
    vcf = tmp_path / "c.vcf"
    vcf.write_text(HEADER + f"chr1\t50\t.\t{ref(50)}\t{'C' if ref(50) != 'C' else 'G'}\t.\t.\t.\n")
    proc = annotate(vcf, "comma", tmp_path / "db", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    out = Path(proc.stdout.splitlines()[0])
    line = next(x for x in out.read_text().splitlines() if not x.startswith("#"))
    value = re.search(r"(?:^|;)CSQ=([^;]*)", line.split("\t")[7])
    assert value is not None
    entries = value.group(1).split(",")
    assert [e.split("|")[3] for e in entries] == ["GENEA", "GENEB", "GENE%2CC%3Dx"], entries
    rows = csq(out)
    assert {r["SYMBOL"] for r in next(iter(rows.values())).values()} == {"GENEA", "GENEB", "GENE,C=x"}
