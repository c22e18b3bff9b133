"""Generated inputs of the custom annotation sources' tests: a reference, ClinVar-like and
gnomAD-like source VCFs (multi-allelic records, indels written with extra shared bases so they
need normalising, Number=A/R/1/. fields), a BED and an input VCF spelling the same alleles
differently, and the sources' declaration. Standard library only (and yaml), so other test
directories import it too (`from annotator.sources_gen import make_inputs`)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

CONTIG = "22"
LENGTH = 40_000
BASES = "ACGT"


def run(*cmd: str | Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw)


def bgzip_index(path: Path, preset: str = "vcf") -> Path:
    run("bgzip", "-f", path)
    out = Path(f"{path}.gz")
    run("tabix", "-f", "-p", preset, out)
    return out


def _alleles(rng: random.Random, seq: str, p: int) -> list[tuple[str, str]]:
    """(REF, ALT) spellings at 0-based p: SNVs, deletions and insertions that normalising
    by trimming fully normalises (no shift inside a repeat), some with extra shared bases."""
    out: list[tuple[str, str]] = []
    base = seq[p]
    for alt in rng.sample([b for b in BASES if b != base], rng.randint(1, 2)):
        out.append((base, alt))
    for _ in range(rng.randint(0, 2)):
        n = rng.randint(1, 4)
        deleted = seq[p + 1 : p + 1 + n]
        if deleted[-1] != seq[p] and deleted[0] != seq[p + 1 + n]:  # not shiftable either way
            out.append((seq[p : p + 1 + n], seq[p]))
    for _ in range(rng.randint(0, 2)):
        ins = "".join(rng.choice(BASES) for _ in range(rng.randint(1, 3)))
        if ins[-1] != seq[p] and ins[0] != seq[p + 1]:
            out.append((seq[p], seq[p] + ins))
    return list(dict.fromkeys(out))


def _record(seq: str, p: int, alleles: list[tuple[str, str]], pad: int) -> tuple[str, list[str]]:
    """One VCF record's REF and ALTs for the alleles, all on the longest REF plus pad shared bases."""
    ref_len = max(len(r) for r, _ in alleles) + pad
    ref = seq[p : p + ref_len]
    return ref, [a + ref[len(r) :] for r, a in alleles]


def _write_vcf(path: Path, header: list[str], rows: list[str], length: int = LENGTH) -> None:
    path.write_text(
        "\n".join(
            [
                "##fileformat=VCFv4.2",
                f"##contig=<ID={CONTIG},length={length}>",
                *header,
                "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
                *rows,
            ]
        )
        + "\n"
    )


def make_inputs(tmp: Path, seed: int = 1, seq: str | None = None, n_sites: int = 600) -> dict[str, Path]:
    """The sources and an input over a random contig CONTIG, or over `seq` (a generated
    bundle's, so that a job uses the bundle and the sources together: tests/web)."""
    rng = random.Random(seed)
    seq = seq or "".join(rng.choice(BASES) for _ in range(LENGTH))
    length = len(seq)
    fasta = tmp / "ref.fa"
    fasta.write_text(f">{CONTIG}\n" + "\n".join(seq[i : i + 60] for i in range(0, length, 60)) + "\n")
    sites = sorted(rng.sample(range(200, length - 200, 7), n_sites))
    clin, gnomad, inp = [], [], []
    sigs = [
        "Pathogenic",
        "Likely_pathogenic",
        "Benign",
        "Uncertain_significance",
        "Pathogenic|risk_factor",
        "Uncertain_significance,_risk_factor",
    ]
    for n, p in enumerate(sites):
        alleles = _alleles(rng, seq, p)
        known = [a for a in alleles if rng.random() < 0.7]
        if known and rng.random() < 0.8:  # gnomAD: one multi-allelic record
            ref, alts = _record(seq, p, known, rng.choice([0, 0, 1, 2]))
            an = rng.randint(1000, 150000)
            acs = [rng.randint(1, 500) for _ in alts]
            afs = [f"{ac / an:.4g}" for ac in acs]
            dp = [rng.randint(0, 99) for _ in range(len(alts) + 1)]
            info = (
                f"AC={','.join(map(str, acs))};AN={an};AF={','.join(afs)};"
                f"nhomalt={','.join(str(rng.randint(0, 9)) for _ in alts)};DPR={','.join(map(str, dp))}"
                + (";lcr" if rng.random() < 0.3 else "")
            )
            gnomad.append(f"{CONTIG}\t{p + 1}\t.\t{ref}\t{','.join(alts)}\t.\tPASS\t{info}")
        for a in known:  # ClinVar: mostly one record per allele, its own padding
            if rng.random() < 0.5:
                ref, alts = _record(seq, p, [a], rng.choice([0, 1]))
                info = (
                    f"ALLELEID={rng.randint(1, 10**6)};CLNSIG={rng.choice(sigs)};CLNREVSTAT=criteria_provided,_single"
                )
                clin.append(f"{CONTIG}\t{p + 1}\t.\t{ref}\t{alts[0]}\t.\t.\t{info}")
        # the input: the site's alleles (known and novel) in a random grouping and padding
        rng.shuffle(alleles)
        cut = rng.randint(1, len(alleles))
        for k, group in enumerate((alleles[:cut], alleles[cut:])):
            if group:
                ref, alts = _record(seq, p, group, rng.choice([0, 0, 1]))
                idx = ",".join(str(i) for i in range(len(alts)))
                inp.append(f"{CONTIG}\t{p + 1}\tr{n}_{k}\t{ref}\t{','.join(alts)}\t50\tPASS\tIDX={idx}")
    _write_vcf(
        tmp / "gnomad.vcf",
        [
            '##INFO=<ID=AC,Number=A,Type=Integer,Description="Alternate allele count">',
            '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles">',
            '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency">',
            '##INFO=<ID=nhomalt,Number=A,Type=Integer,Description="Homozygous individuals">',
            '##INFO=<ID=DPR,Number=R,Type=Integer,Description="Depth per allele">',
            '##INFO=<ID=lcr,Number=0,Type=Flag,Description="Low-complexity region">',
        ],
        gnomad,
        length,
    )
    _write_vcf(
        tmp / "clinvar.vcf",
        [
            '##INFO=<ID=ALLELEID,Number=1,Type=Integer,Description="ClinVar allele id">',
            '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">',
            '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="Review status">',
        ],
        clin,
        length,
    )
    _write_vcf(tmp / "input.vcf", ['##INFO=<ID=IDX,Number=A,Type=Integer,Description="ALT index">'], inp, length)
    bed = []
    start = 100
    for i in range(60):  # non-overlapping panel regions
        start += rng.randint(50, 600)
        end = start + rng.randint(1, 400)
        bed.append(f"{CONTIG}\t{start}\t{end}\tregion{i}")
        start = end
    (tmp / "panel.bed").write_text("\n".join(bed) + "\n")
    return {
        "fasta": fasta,
        "gnomad": bgzip_index(tmp / "gnomad.vcf"),
        "clinvar": bgzip_index(tmp / "clinvar.vcf"),
        "bed": bgzip_index(tmp / "panel.bed", "bed"),
        "input": tmp / "input.vcf",
    }


def sources_file(tmp: Path, files: dict[str, Path]) -> Path:
    spec = {
        "sources": [
            {
                "name": "gnomad",
                "kind": "vcf",
                "path": str(files["gnomad"]),
                "version": "4.1-test",
                "fields": {
                    "AF": "GNOMAD_AF",
                    "AC": "GNOMAD_AC",
                    "AN": "GNOMAD_AN",
                    "DPR": "GNOMAD_DPR",
                    "lcr": "GNOMAD_LCR",
                },
            },
            {
                "name": "clinvar",
                "kind": "vcf",
                "path": str(files["clinvar"]),
                "version": "2026-11",
                "fields": {"CLNSIG": "CLNSIG", "ALLELEID": "CLINVAR_ID"},
            },
            {"name": "panel", "kind": "bed", "path": str(files["bed"]), "version": "v3", "fields": {"name": "PANEL"}},
            {
                "name": "panelflag",
                "kind": "bed",
                "path": str(files["bed"]),
                "version": "v3",
                "fields": {"overlap": "IN_PANEL"},
            },
        ]
    }
    path = tmp / "sources.yaml"
    import yaml

    path.write_text(yaml.safe_dump(spec))
    return path
