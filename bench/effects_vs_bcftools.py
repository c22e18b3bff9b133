"""Benchmark: gas-annotate --db (transcript consequences) against bcftools csq on the same bundle.

    .venv/bin/python bench/effects_vs_bcftools.py [--variants 50000] [--seed 1] [--repeats 3] [--workdir DIR]

Generates a bundle with the differential test's generator (tests/annotator/bundle_gen.py:
random genome, ~100 genes / ~210 transcripts per seed, variants dense at every boundary),
builds it once with ``gas-annotation-db build --gff3`` (timed), then runs, one after the
other and ``--repeats`` times each, ``gas-annotate VCF --db NAME --no-parquet`` and
``bcftools csq --local-csq -f genome.fa -g genes.gff3`` on the same VCF. Prints the median
wall time, CPU time (user + system) and peak RSS of each, and the throughput ratio. This is
not the issue's human-scale benchmark (60k genes, 1M variants): it measures the per-variant
cost on boundary-dense input, where every variant meets one or more transcripts.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "annotator"))
sys.path.insert(0, str(ROOT / "bench"))

from annotate_vs_bcftools import run  # noqa: E402
from bundle_gen import write_bundle  # noqa: E402

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-effects-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = write_bundle(work / "bundle", seed=args.seed, n_variants=args.variants)
    q = shlex.quote
    db = work / "db"
    build = f"{q(str(BIN / 'gas-annotation-db'))} build --name bench --gff3 {q(str(bundle.gff3))} "
    build += f"--fasta {q(str(bundle.fasta))} --db-dir {q(str(db))} > /dev/null"
    seconds, peak, cpu = run(build)
    records = sum(1 for line in bundle.vcf.read_text().splitlines() if not line.startswith("#"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(
        f"bundle: seed {args.seed}, {records} variants; build {seconds:.2f} s wall, {cpu:.2f} s CPU, {peak // 1024} MiB"
    )
    commands = {
        "gas-annotate --db": f"{q(str(BIN / 'gas-annotate'))} {q(str(bundle.vcf))} --db bench --db-dir {q(str(db))} "
        f"-o {q(str(work / 'out'))} --no-parquet > /dev/null",
        "bcftools csq": f"bcftools csq --local-csq -f {q(str(bundle.fasta))} -g {q(str(bundle.gff3))} "
        f"-Ov -o {q(str(work / 'bcftools.vcf'))} {q(str(bundle.vcf))} 2> /dev/null",
    }
    wall: dict[str, float] = {}
    for name, cmd in commands.items():
        results = [run(cmd) for _ in range(args.repeats)]
        wall[name] = statistics.median(r[0] for r in results)
        used = statistics.median(r[2] for r in results)
        rss = max(r[1] for r in results) // 1024
        print(
            f"{name:18s} wall {wall[name]:7.2f} s  CPU {used:7.2f} s  peak RSS {rss:5d} MiB  "
            f"{records / wall[name]:9.0f} variants/s"
        )
    ratio = wall["bcftools csq"] / wall["gas-annotate --db"]
    print(f"gas-annotate --db / bcftools csq throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
