"""The sample filter of a many-sample result through the web tier (issue 26 item 3).

    .venv/bin/python bench/samples_filter.py [--variants 1000000] [--samples 100] [--requests 20]

Generates an N-variant VCF from the annotation database's known variants (as
bench/annotate_vs_bcftools.py does) with S samples (FORMAT GT:DP:GQ; 0/0, 0/1, 1/1 and ./.
drawn at random), annotates it with gas-annotate (CPU time printed with and without the
samples' columns: the genotypes file's cost), stores the results as a COMPLETED job on the
local stack (moto server, gunicorn with one worker) and measures over HTTP, as a browser
asks, the first page of `?sample=S&gt=carrier` for a different sample each request (so
every request reads its sample's column), and the same with `&chrom=1`. Peer in the same
run, for a few of the same samples: `bcftools view -s S | bcftools view -H -i 'GT="alt"' |
wc -l` on the annotated VCF (records; the web's count of those records is compared), wall
and CPU time. Goal (issue 26): p95 <= 300 ms; web worker peak RSS <= 512 MiB.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from _common import bench_stack, percentile
from annotate_vs_bcftools import make_vcf
from results_table import completed_job, first_open, report_first_view, timed_get, vm_hwm_mib, worker_pids

from gas.annotator.engine.annotate import ENGINE_VERSION
from gas.annotator.engine.build import ensure_database
from gas.annotator.engine.database import SCHEMA_VERSION

GOAL_MS = 300
GOAL_RSS_MIB = 512
CELLS = np.frombuffer(b"0/0:30:99\t0/1:25:60\t1/1:20:40\t./.:10:10\t", dtype=np.uint8).reshape(4, 10)


def with_samples(plain: Path, path: Path, samples: int, seed: int = 26) -> None:
    """`plain` (8 columns) with FORMAT GT:DP:GQ and `samples` columns of 10 bytes each."""
    rng = np.random.default_rng(seed)
    names = [f"S{i:03d}" for i in range(samples)]
    with open(plain, "rb") as src, open(path, "wb") as out:
        lines: list[bytes] = []

        def flush() -> None:
            codes = rng.choice(4, size=(len(lines), samples), p=[0.6, 0.25, 0.12, 0.03])
            block = CELLS[codes].reshape(len(lines), samples * 10)
            block[:, -1] = 10  # the last cell ends the line
            parts = []
            for line, cells in zip(lines, block, strict=True):
                parts += [line, b"\tGT:DP:GQ\t", cells.tobytes()]
            out.write(b"".join(parts))
            lines.clear()

        for line in src:
            if line.startswith(b"##"):
                out.write(line)
            elif line.startswith(b"#CHROM"):
                out.write(b'##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
                out.write(b'##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n')
                out.write(b'##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">\n')
                out.write(line.rstrip(b"\n") + b"\tFORMAT\t" + "\t".join(names).encode() + b"\n")
            else:
                lines.append(line.rstrip(b"\n"))
                if len(lines) == 50_000:
                    flush()
        if lines:
            flush()


def worker_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_timed(cmd: list[str] | str, shell: bool = False) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the children) and stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    bash = "/bin/bash" if shell else None
    out = subprocess.run(cmd, shell=shell, check=True, capture_output=True, text=True, executable=bash).stdout
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def annotate(work: Path, variants: int, samples: int) -> tuple[dict[str, Path], dict[str, float]]:
    out = work / f"annotated-engine{ENGINE_VERSION}-db{SCHEMA_VERSION}-{variants}x{samples}"
    stem = f"cohort_{variants}x{samples}"
    suffixes = {"vcf": "annot.vcf", "table": "variants.parquet", "genotypes": "genotypes.parquet"}
    files = {k: out / f"{stem}.{s}" for k, s in (suffixes | {"summary": "summary.json"}).items()}
    plain, vcf = work / f"plain_{variants}.vcf", work / f"{stem}.vcf"
    if not plain.exists():
        make_vcf(ensure_database("GRCh37"), variants, plain)
    if not vcf.exists():
        with_samples(plain, vcf, samples)
    gas = str(Path(sys.executable).parent / "gas-annotate")
    costs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        wall, cpu, _ = run_timed([gas, str(plain), "-o", scratch])
        costs["plain_wall"], costs["plain_cpu"] = wall, cpu
    wall, cpu, _ = run_timed([gas, str(vcf), "-o", str(out)])
    costs["samples_wall"], costs["samples_cpu"] = wall, cpu
    return files, costs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--peers", type=int, default=3, help="samples also counted by bcftools")
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "gas" / "bench-samples")
    args = parser.parse_args()
    if not shutil.which("bcftools"):
        sys.exit("bcftools is not installed (apt-get install bcftools)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    files, costs = annotate(args.workdir, args.variants, args.samples)
    rows = pq.ParquetFile(files["table"]).metadata.num_rows
    print(f"input: {args.variants:,} records x {args.samples} samples, {rows:,} table rows; genotypes file "
          f"{files['genotypes'].stat().st_size / 1e6:.0f} MB")  # fmt: skip
    print(f"gas-annotate without samples: {costs['plain_wall']:.2f} s wall, {costs['plain_cpu']:.2f} s CPU")
    wall, cpu = costs["samples_wall"], costs["samples_cpu"]
    print(f"gas-annotate with {args.samples} samples: {wall:.2f} s wall, {cpu:.2f} s CPU")
    with tempfile.TemporaryDirectory() as cache, bench_stack(GAS_WEB_WORKERS="1", GAS_RESULT_CACHE_DIR=cache) as stack:
        figures = measure(stack, args, files, Path(cache))
    report(figures)
    return 0


def measure(stack: Any, args: argparse.Namespace, files: dict[str, Path], cache: Path) -> dict[str, Any]:
    user, job_id = completed_job(
        stack,
        {"result_key": files["vcf"], "variants_key": files["table"], "genotypes_key": files["genotypes"],
         "summary_key": files["summary"]},
    )  # fmt: skip
    base = f"/annotations/{job_id}/variants"
    (worker,) = worker_pids(stack.procs["web"].pid)
    first_view = first_open(user, base, worker, cache)  # then waits for the local copy
    report_first_view(first_view)
    first_sample, _ = timed_get(user, f"{base}?sample=S000")  # fetches the genotypes file
    samples = random.Random(12).sample([f"S{i:03d}" for i in range(1, args.samples)], args.requests)
    carrier_ms, chrom_ms, matched = [], [], {}
    cpu_before = worker_cpu(worker)
    for sample in samples:
        elapsed, resp = timed_get(user, f"{base}?sample={sample}&gt=carrier")
        carrier_ms.append(elapsed * 1000)
        matched[sample] = int(resp.text.split('data-matched="', 1)[1].split('"', 1)[0])
    for sample in samples:
        elapsed, _ = timed_get(user, f"{base}?sample={sample}&gt=het&chrom=1&show={sample}")
        chrom_ms.append(elapsed * 1000)
    cpu_ms = (worker_cpu(worker) - cpu_before) * 1000 / (2 * len(samples))
    rss = vm_hwm_mib(worker)
    # The peer, on the annotated VCF; the web's matches are rows (one per ALT): with one ALT
    # per record here they are the records bcftools counts.
    peers = []
    for sample in samples[: args.peers]:
        cmd = f"bcftools view -s {sample} {files['vcf']} | bcftools view -H -i 'GT=\"alt\"' | wc -l"
        wall, cpu, out = run_timed(cmd, shell=True)
        peers.append((sample, wall, cpu, int(out), matched[sample]))
    return first_view | {"first_sample_s": first_sample, "carrier_ms": carrier_ms, "chrom_ms": chrom_ms,
            "rss": rss, "peers": peers, "cpu_ms": cpu_ms}  # fmt: skip


def report(f: dict[str, Any]) -> None:
    def ms(values: list[float]) -> str:
        return f"p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f} ms  max {max(values):6.1f} ms"

    print(f"first sample filter (fetch genotypes): {f['first_sample_s']:.2f} s")
    print(f"sample filter, carriers, a new sample each request : {ms(f['carrier_ms'])}")
    print(f"sample filter, het + chrom 1 + genotype column     : {ms(f['chrom_ms'])}")
    print(f"web worker CPU per sample-filter request (both kinds): {f['cpu_ms']:.1f} ms")
    for sample, wall, cpu, peer, ours in f["peers"]:
        same = "same count" if peer == ours else f"DIFFERENT (web {ours:,})"
        print(
            f"peer: bcftools view -s {sample} | view -i GT=alt: {wall:.2f} s wall, {cpu:.2f} s CPU, {peer:,} records,"
        )
        print(f"      {same}")
    p95 = percentile(f["carrier_ms"], 95)
    print(f"goal p95 <= {GOAL_MS} ms: {'met' if p95 <= GOAL_MS else 'NOT met'} ({p95:.0f} ms); web worker peak RSS "
          f"{f['rss']:.0f} MiB (goal <= {GOAL_RSS_MIB})")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
