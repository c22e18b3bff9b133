"""Benchmark: gas-annotate --db against bcftools csq on a human-scale bundle (issue 24's speed target).

    .venv/bin/python bench/effects_human.py [--workdir DIR] [--seed 1] [--genes 60000] [--scale 10]
        [--variants 1000000] [--every N] [--repeats 3] [--rebuild] [--baseline-ref REF --baseline-python PY]

Generates (once per workdir) a bundle with bench/human_bundle.py: contigs 1-22, X, Y at
GRCh38's lengths / ``--scale`` (10: 309 Mb), ~60k genes and ~250k transcripts written as
Ensembl GFF3, and a VCF of variants spread over the whole genome. Then:

* builds it with ``gas-annotation-db build --gff3`` (wall, CPU, peak RSS; bcftools csq needs
  no build: it parses the GFF3 on every run, which its figures below include);
* runs, interleaved and ``--repeats`` times each, ``gas-annotate VCF --db NAME`` as a job runs
  it (every file it writes: the VCF, the Parquet table, the summary and log; the headline),
  the same with ``--no-parquet`` beside it, and ``bcftools csq --local-csq -f genome.fa -g
  genes.gff3 -Ov`` on the same VCF, each writing into the workdir (one filesystem for all);
  and a baseline engine at git revision ``--baseline-ref`` both ways, for before/after figures
  in one run; printing the median wall time, CPU time (user + system) and peak RSS of each
  and each one's throughput ratio to bcftools csq;
* measures process start to the first annotated record written (median of 3, on the VCF's
  first 5,000 lines; ``--repeats 0`` measures only this).

``--every N`` annotates every Nth variant only (on a loaded machine GAS's 1M take long).

The issue's targets: GAS at least 2x bcftools csq's throughput, peak RSS at most 1 GiB, first
record within 1 s, build within 10 minutes. Python modules are compiled to bytecode first,
as in the image.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _common import baseline_command, compile_bytecode  # noqa: E402
from annotate_vs_bcftools import first_record, run, time_commands  # noqa: E402
from human_bundle import write  # noqa: E402

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gas-effects-human"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--genes", type=int, default=60_000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--every", type=int, default=1, help="annotate every Nth variant of the VCF (still spread over the genome)"
    )
    parser.add_argument("--rebuild", action="store_true", help="build the bundle even if the workdir has it")
    parser.add_argument("--baseline-ref", default=None, help="git revision of a baseline engine (e.g. main)")
    parser.add_argument("--baseline-python", default=None, help="interpreter with the baseline's dependencies")
    args = parser.parse_args()
    work = args.workdir / f"seed{args.seed}-g{args.genes}-s{args.scale}-v{args.variants}"
    src = work / "bundle"
    fasta, gff3, vcf = src / "genome.fa", src / "genes.gff3", src / "variants.vcf"
    if not vcf.exists():
        t0, c0 = time.perf_counter(), time.process_time()
        described = write(src, args.seed, args.genes, args.scale, args.variants)
        print(f"generated {described} in {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")
    if args.every > 1:
        sample = work / f"variants.every{args.every}.vcf"
        if not sample.exists():
            with vcf.open() as f, sample.open("w") as out:
                n = 0
                for line in f:
                    if line.startswith("#") or n % args.every == 0:
                        out.write(line)
                    n += not line.startswith("#")
        vcf = sample
    baseline = None
    if args.baseline_ref:
        baseline = baseline_command(args.baseline_ref, args.baseline_python or sys.executable, work)
    compile_bytecode()
    q = shlex.quote
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    records = sum(1 for line in vcf.open() if not line.startswith("#"))
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in (fasta, gff3, vcf))
    print(f"bundle: {sizes}; {records:,} variants")
    db = work / "db"
    if args.rebuild or not (db / "gas-bundle-human-v2.gasdb").exists():
        build = f"{q(str(BIN / 'gas-annotation-db'))} build --name human --gff3 {q(str(gff3))} "
        build += f"--fasta {q(str(fasta))} --db-dir {q(str(db))} > /dev/null"
        seconds, peak, cpu = run(build)
        size = (db / "gas-bundle-human-v2.gasdb").stat().st_size / 1e6
        print(
            f"gas-annotation-db build: {seconds:.1f} s wall, {cpu:.1f} s CPU, peak RSS {peak // 1024} MiB, "
            f"file {size:.0f} MB (load average {os.getloadavg()[0]:.1f})"
        )
    gas = f"{q(str(BIN / 'gas-annotate'))} {q(str(vcf))} --db human --db-dir {q(str(db))}"
    engines = {"gas-annotate --db": gas}
    if baseline:
        engines[f"baseline ({args.baseline_ref})"] = f"{baseline} {q(str(vcf))} --db human --db-dir {q(str(db))}"
    commands = {}
    for (name, cmd), out in zip(engines.items(), ("out", "base"), strict=False):
        commands[name] = f"{cmd} -o {q(str(work / out))} > /dev/null"
        commands[f"{name} --no-parquet"] = f"{cmd} --no-parquet -o {q(str(work / (out + '-vcf')))} > /dev/null"
    commands["bcftools csq"] = (
        f"bcftools csq --local-csq -f {q(str(fasta))} -g {q(str(gff3))} "
        f"-Ov -o {q(str(work / 'bcftools.vcf'))} {q(str(vcf))} 2> /dev/null"
    )
    if args.repeats:  # (0: start to first record only)
        time_commands(commands, args.repeats, records, peer="bcftools csq")
    # Start to first record on the VCF's first 5,000 lines: the engine reads the bundle and
    # writes its first (64 KB) block the same way whatever follows, and the helper waits for
    # the process to end.
    head = work / "variants.head.vcf"
    with vcf.open() as f, head.open("w") as out:
        out.writelines(islice(f, 5_000))  # the header and the first records
    gas_head = f"{q(str(BIN / 'gas-annotate'))} {q(str(head))} --db human --db-dir {q(str(db))}"
    first_cmd = f"{gas_head} -o {q(str(work / 'first'))} > /dev/null"
    firsts = [round(first_record(first_cmd, work / "first"), 3) for _ in range(3)]
    median = statistics.median(firsts)
    print(f"process start to first record written, gas-annotate --db: median {median:.3f} s (runs {firsts})")


if __name__ == "__main__":
    main()
