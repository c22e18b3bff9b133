"""Differential test: GAS's per-transcript consequences against `bcftools csq` on a generated bundle.

The bundle (tests/annotator/bundle_gen.py) is written as Ensembl GFF3 and as GENCODE GTF; GAS
builds a database from each through `gas-annotation-db build` and annotates 50,000 boundary
variants through `gas-annotate`, both as a user runs them. The two outputs must be identical,
and consequence terms and amino-acid changes must agree on >= 99.5% of variant x transcript pairs
(issue 24's goal) with bcftools csq, or, for the classes of change the two tools define differently,
with VEP's own rules computed by the oracle from the variant and the transcript model (the map, the
rules and the classes: docs/annotation-engine.md, "Transcript consequences: differential test").
The summary table of disagreement classes is printed.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import hgvs.exceptions
import hgvs.parser
import numpy as np
import pytest
from bundle_gen import Gene, Transcript, Written, cds_positions, describe, write_bundle
from effects_oracle import (
    BIOTYPE_BCFTOOLS,
    PROTEIN_TERMS,
    VEP_TO_BCFTOOLS,
    Call,
    Key,
    Resolver,
    TxModel,
    compare,
    read_bcsq,
    read_csq,
    run_bcftools_csq,
    with_vep_rules,
)
from engine_support import needs_bcftools

pytestmark = [
    pytest.mark.bcftools,
    needs_bcftools,
]

BIN = Path(sys.executable).parent
AGREEMENT = 0.995  # issue 24's goal for terms and amino-acid changes together
# Reached on seed 1: 99.56% (101,909 of 102,355 pairs), bcftools' calls with VEP's own rules for the
# classes the two tools define differently (effects_oracle.with_vep_rules); the classes of difference
# left are in docs/annotation-engine.md ("Where GAS and bcftools csq still differ").
THREE_LETTER = set(
    "Ala Arg Asn Asp Cys Gln Glu Gly His Ile Leu Lys Met Phe Pro Ser Thr Trp Tyr Val Sec Pyl Ter".split()
)
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


@pytest.fixture(scope="module")
def bcf_calls(bundle: Written, bcftools_csq: Path) -> dict[Key, Call]:
    return read_bcsq(bcftools_csq, _resolver(bundle))


def _phased_start(bundle: Written) -> Callable[[str], bool]:
    """cds_start_NF transcripts whose CDS starts with a partial codon (phase 1 or 2): VEP counts that
    codon as 1 (`X`), bcftools 1.16 numbers the first complete codon 1, so residues are not compared."""
    ids = {t.id for g in bundle.bundle.genes for t in g.transcripts if t.start_nf and t.first_phase}
    return lambda feature: feature in ids


def _models(bundle: Written) -> dict[str, TxModel]:
    """The generator's transcripts as the oracle's VEP rules see them."""
    return {
        t.id: TxModel(
            tuple(t.exons),
            1 if g.strand == "+" else -1,
            t.cds,
            t.start_nf,
            t.end_nf,
            t.biotype == "nonsense_mediated_decay",
            _cds_seq(bundle, g, t),
            t.first_phase,
        )
        for g in bundle.bundle.genes
        for t in g.transcripts
    }


def _cds_seq(bundle: Written, g: Gene, t: Transcript) -> str:
    """The CDS's bases in transcript order, from the generated genome."""
    if not t.cds:
        return ""
    seq = bundle.bundle.contigs[g.chrom]
    bases = "".join(seq[p - 1] for p in cds_positions(t, g.strand))
    return bases if g.strand == "+" else bases.translate(str.maketrans("ACGT", "TGCA"))


def _ignored_by_bcftools(bundle: Written) -> Callable[[str], bool]:
    ids = {t.id for g in bundle.bundle.genes for t in g.transcripts if t.biotype in BCFTOOLS_IGNORED_BIOTYPES}
    return lambda feature: feature in ids


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


def test_bcftools_reads_the_generated_bundle(bcf_calls: dict[Key, Call]) -> None:
    calls = bcf_calls
    terms = {t for call in calls.values() for t in call.terms}
    # The variants reach every kind of boundary bcftools can name: the oracle's protein terms
    # (but start_retained and inframe_altering, which this check has never asked for) and the rest.
    protein = PROTEIN_TERMS - {"start_retained", "inframe_altering"}
    for term in (
        *sorted(protein),
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


def _calls_as_csq(calls: dict[Key, Call], vcf: Path, out: Path) -> Path:
    """Calls (bcftools' terms) written back as a VEP-layout CSQ, as GAS writes it."""
    to_vep: dict[str, str] = {}
    for vep, bcf in VEP_TO_BCFTOOLS.items():
        if bcf:
            to_vep.setdefault(bcf, vep)
    to_vep["inframe_altering"] = "protein_altering_variant"
    per_record: dict[tuple[str, int, str, str], list[str]] = {}
    for (chrom, pos, ref, alt, tid), call in calls.items():
        row = dict.fromkeys(CSQ_FORMAT.split("|"), "")
        row.update(Consequence="&".join(sorted(to_vep[t] for t in call.terms)), Feature_type="Transcript")
        row["Feature"] = f"{tid}.1"
        if call.aa:
            pos_aa, ref_aa, alt_aa = call.aa
            row.update(Protein_position=str(pos_aa), Amino_acids=ref_aa if ref_aa == alt_aa else f"{ref_aa}/{alt_aa}")
        per_record.setdefault((chrom, pos, ref, alt), []).append("|".join(row.values()))
    lines = []
    for line in vcf.read_text().splitlines():
        if line.startswith("#CHROM"):
            lines.append(f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Test. Format: {CSQ_FORMAT}">')
        if line.startswith("#"):
            lines.append(line)
            continue
        f = line.split("\t")
        entries = per_record.get((f[0], int(f[1]), f[3], f[4]))
        f[7] = "CSQ=" + ",".join(entries) if entries else "."
        lines.append("\t".join(f))
    out.write_text("\n".join(lines) + "\n")
    return out


def _resolver(bundle: Written) -> Resolver:
    """bcftools' transcript-less intron/non_coding calls -> the overlapping transcripts of that gene and biotype."""
    index: dict[tuple[str, str, str], list[tuple[int, int, str]]] = {}
    for g in bundle.bundle.genes:
        for t in g.transcripts:
            biotype = BIOTYPE_BCFTOOLS.get(t.biotype, t.biotype)
            index.setdefault((g.chrom, g.name, biotype), []).append((t.start, t.end, t.id))
    return lambda chrom, s, e, gene, biotype: [
        tid for a, b, tid in index.get((chrom, gene, biotype), []) if a <= e and b >= s
    ]


def test_harness_agrees_with_itself_and_catches_errors(
    bundle: Written, bcf_calls: dict[Key, Call], tmp_path: Path
) -> None:
    bcf = bcf_calls
    assert not [k for k in bcf if k[4].startswith("gene:")], "a transcript-less bcftools call was not resolved"
    # bcftools' own calls, written as a CSQ and read back, agree with themselves...
    same, _ = read_csq(_calls_as_csq(bcf, bundle.vcf, tmp_path / "same.vcf"))
    result = compare(same, bcf)
    assert result.pairs == len(bcf) and result.rate == 1.0, result.table()
    assert result.aa_compared > 5_000
    # ...and 1% of them made wrong (missense <-> synonymous) fail the bar, named in the table.
    rng = random.Random(5)
    wrong = dict(same)
    for key in rng.sample(sorted(same), len(same) // 100):
        flip = "synonymous" if same[key].terms == {"missense"} else "missense"
        wrong[key] = Call(frozenset({flip}), same[key].aa, flip)
    result = compare(wrong, bcf)
    print(result.table())
    rate = result.rate
    assert rate < AGREEMENT and "missense -> synonymous" in result.classes
    # The pairs whose expectation follows VEP's rules are compared too: the same calls written back agree,
    # and a splice region said or left out against VEP's rule on 2% of them counts against the figure.
    vep, classes = with_vep_rules(bcf, _models(bundle))
    ruled = sorted(k for k, c in vep.items() if "[VEP rule:" in c.raw)
    assert sum(classes.values()) >= len(ruled) > 10_000
    same, _ = read_csq(_calls_as_csq(vep, bundle.vcf, tmp_path / "vep.vcf"))
    assert compare(same, vep).rate == 1.0
    wrong = dict(vep)
    for key in ruled[::50]:
        wrong[key] = Call(frozenset(vep[key].terms ^ {"splice_region"}), vep[key].aa, "wrong")
    result = compare(wrong, vep)
    assert result.pairs - result.agree == len(ruled[::50])


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


def test_compiled_entries_are_the_python_rules_entries(bundle: Written, tmp_path: Path) -> None:
    """Every change of the 50,000 variants (SNVs, MNVs, indels, delins), in every transcript
    whose inside it touches, gets from the C kernel (gas_change_effect) the entry the Python
    rules give."""
    from engine_support import change_disagreements, minimal_change

    from gas.annotator.engine.bundle import build_bundle
    from gas.annotator.engine.database import load_bundle
    from gas.annotator.engine.effects import Effects

    build_bundle("change", fasta=bundle.fasta, gff3=bundle.gff3, db_dir=tmp_path)
    db = load_bundle("change", tmp_path)
    fx = Effects(db)
    t = fx.tables
    pairs, kinds = [], Counter[str]()
    for line in _records(bundle.vcf):
        chrom, pos, _, ref, alt = line.split("\t")[:5]
        p, r, a = minimal_change(ref.upper(), alt.upper())
        s = (db.alias[chrom] << 32) | (int(pos) - 1 + p)
        # Effects.one's inside of a transcript: a base of it, or (an insertion) between two
        inside = (t.start < s) & (t.end > s) if not r else (t.start < s + len(r)) & (t.end > s)
        found = np.flatnonzero(inside).tolist()
        kinds["snv" if len(r) == len(a) == 1 else "mnv" if len(r) == len(a) else "indel"] += len(found)
        pairs += [(i, s, r, a) for i in found]
    n, differ, _ = change_disagreements(fx, pairs)
    assert min(kinds.values()) > 1_000 and not differ, f"{len(differ)} of {n} entries differ, e.g. {differ[:3]}"


@pytest.fixture(scope="module")
def gas_csq(gas_outputs: dict[str, Path]) -> tuple[dict[Key, Call], dict[Key, dict[str, str]]]:
    return read_csq(gas_outputs["gff3"])


def test_consequences_agree_with_bcftools(
    bundle: Written, bcf_calls: dict[Key, Call], gas_csq: tuple[dict[Key, Call], dict[Key, dict[str, str]]]
) -> None:
    gas, _ = gas_csq
    # bcftools' calls, with VEP's own rules for the classes where the two tools decide differently by
    # definition (effects_oracle.vep_class; the classes and their counts are printed).
    bcf, vep_pairs = with_vep_rules(bcf_calls, _models(bundle))
    result = compare(gas, bcf, skip=_ignored_by_bcftools(bundle), skip_aa=_phased_start(bundle))
    print()
    print("pairs whose expected terms follow VEP's rules:", dict(vep_pairs.most_common()))
    print(result.table())
    # Every variant got GAS's CSQ (overlapping or within 5 kb of a transcript in this bundle, or none).
    assert result.pairs > 50_000
    rate = result.rate
    assert rate >= AGREEMENT, result.table()
    # Every amino-acid change both tools give agrees.
    assert result.aa_compared > 10_000 and result.aa_agree == result.aa_compared, result.table()


def test_every_hgvs_shape_parses(gas_csq: tuple[dict[Key, Call], dict[Key, dict[str, str]]]) -> None:
    """Every shape of HGVS string GAS wrote for the 50,000 variants (numbers and bases abstracted) parses."""
    _, rows = gas_csq
    shapes: dict[str, str] = {}
    residues: set[str] = set()
    for row in rows.values():
        for field in ("HGVSc", "HGVSp"):
            value = row.get(field, "")
            if value:
                body = re.sub(r"[0-9]+", "0", value.split(":", 1)[1])
                if field == "HGVSp":
                    residues.update(re.findall(r"[A-Z][a-z]{2}", body))
                    body = re.sub(r"(?:[A-Z][a-z]{2})+", "Aaa", body)
                shape = re.sub(r"[ACGT]+", "N", body) if field == "HGVSc" else body
                if len(value) < len(shapes.get(shape, value + " ")):  # the shortest example of each shape
                    shapes[shape] = value
    # Residues are abstracted from the shapes; each one written must be an amino acid's 3-letter code.
    assert residues and residues <= THREE_LETTER, sorted(residues - THREE_LETTER)
    assert len(shapes) > 40
    parser = hgvs.parser.Parser()
    bad = []
    for value in shapes.values():
        try:
            parser.parse_hgvs_variant(value)
        except hgvs.exceptions.HGVSParseError as exc:
            bad.append(f"{value}: {exc}")
    assert bad == [], f"{len(bad)} of {len(shapes)} shapes do not parse: {bad[:5]}"
