"""A many-sample VCFv3.3 file for the sample tests (engine, web, Chromium).

No Debian package's test or example data holds a many-sample v3.3 file (the packages the
corpus was drawn from have three at most, docs/annotation-engine.md), so the tests write
one like the 1000 Genomes pilot's: 107 samples, GRCh37 positions on 1-22 and X, FORMAT
GT:GQ:DP in varying orders (and GT alone), v3.3 habits (QUAL -1, FILTER 0, `0\\1`, DP -1,
`D`/`I` indel alleles), multi-allelic sites, phased and unphased, no-calls (`./.`, `.`,
`./1`), haploid calls on X, a few triploid calls and two-digit allele numbers. Seeded, so
every run writes the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

SAMPLES = [f"NA{19000 + 7 * i}" for i in range(107)]
RECORDS = 3431
_CHROMS = [(str(c), 240_000_000 - 9_000_000 * (c - 1)) for c in range(1, 23)] + [("X", 150_000_000)]


def _genotype(rng: random.Random, n_alts: int, haploid: bool) -> str:
    roll = rng.random()
    if roll < 0.03:
        return rng.choice(["./.", ".", "./1", "1/."] if not haploid else [".", "."])
    if haploid:
        return str(rng.choice([0, 0, 0, 1] + list(range(1, n_alts + 1))))
    if roll < 0.035:
        return rng.choice(["0/0/1", "1/1/1", "0/1/2"]) if n_alts > 1 else rng.choice(["0/0/1", "1/1/1"])
    weights = [0.55, 0.3, 0.15]
    alleles = [rng.choices([0, 1, *range(2, n_alts + 1)], weights=[*weights[:2], *([weights[2]] * (n_alts - 1))]
                           if n_alts > 1 else weights[:2])[0] for _ in range(2)]  # fmt: skip
    sep = rng.choice(["/", "/", "|", "\\"])
    return f"{alleles[0]}{sep}{alleles[1]}"


def write_v33(path: Path, records: int = RECORDS, samples: list[str] | None = None, seed: int = 26) -> Path:
    names = samples or SAMPLES
    rng = random.Random(seed)
    lines = [
        "##fileformat=VCFv3.3",
        "##source=GAS sample-test generator (1000 Genomes pilot style)",
        '##INFO=DP,1,Integer,"Total Depth"',
        '##FILTER=q10,"Quality below 10"',
        '##FORMAT=GT,1,String,"Genotype"',
        '##FORMAT=GQ,1,Integer,"Genotype Quality"',
        '##FORMAT=DP,1,Integer,"Read Depth"',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *names]),
    ]
    per_chrom = records // len(_CHROMS) + 1
    written = 0
    for chrom, length in _CHROMS:
        positions = sorted(rng.sample(range(1_000_000, length - 1_000_000, 997), per_chrom))
        for pos in positions:
            if written == records:
                break
            written += 1
            ref = rng.choice("ACGT")
            kind = rng.random()
            if kind < 0.04:
                alts = [rng.choice(["D1", "D2", "IA", "ITG"])]
            elif kind < 0.07 and chrom != "X":
                alts = [b for b in "ACGT" if b != ref][: rng.choice([2, 3])]
            elif kind < 0.075:
                alts = [b for b in "ACGT" if b != ref] + ["D1", "IAC"] + [f"I{'ACGT' * k}" for k in range(1, 7)]
            else:
                alts = [rng.choice([b for b in "ACGT" if b != ref])]
            fmt = rng.choice(["GT:GQ:DP", "GT:GQ:DP", "GT:DP:GQ", "GT"])
            haploid = chrom == "X"
            cells = []
            for i in range(len(names)):
                gt = _genotype(rng, len(alts), haploid and i % 2 == 0)
                if len(alts) > 9 and rng.random() < 0.1:
                    gt = f"{rng.randint(0, 11)}/{rng.randint(10, 11)}"
                values = {"GT": gt, "GQ": str(rng.randint(1, 99)), "DP": str(rng.choice([-1, *range(1, 60)]))}
                cells.append(":".join(values[k] for k in fmt.split(":")))
            qual = rng.choice(["-1", "12", "50.5", "99"])
            lines.append("\t".join([chrom, str(pos), ".", ref, ",".join(alts), qual, rng.choice(["0", "q10"]),
                                    f"DP={rng.randint(10, 999)}", fmt, *cells]))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path
