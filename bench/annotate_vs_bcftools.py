"""Benchmark: gas-annotate against a bcftools annotate pipeline on the same tracks.

    .venv/bin/python bench/annotate_vs_bcftools.py [--variants 1000000] [--workdir DIR]

Generates a deterministic VCF from the database's known variants (the original site plus
shifted copies, so about a third of the records hit an RSID), exports the database's
tracks, then runs, one after the other:
  * gas-annotate (GENE, GENE_TYPE, REGION, NEAREST, RSID, CPG, REPEAT, BLACKLIST, VC, TSTV)
  * bcftools annotate x5, piped as uncompressed BCF (GENE, RSID, CPG, REPEAT, BLACKLIST)
and prints variants/second, their ratio and each one's peak RSS (os.wait4 rusage).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gas.annotator.engine.database import ensure_database, export_tracks


def make_vcf(db, n: int, path: Path) -> None:
    a = db.arrays
    base_pos = a["var_pos"]
    copies = -(-n // base_pos.size)
    # Copy k sits k*7 bases to the right of the known site; copy 0 is the known variant itself.
    shift = np.repeat(np.arange(copies, dtype=np.int64) * 7, base_pos.size)
    gpos = np.tile(base_pos, copies) + shift
    ref = np.tile(a["var_ref"], copies)
    alt = np.tile(a["var_alt"], copies)
    order = np.argsort(gpos, kind="stable")[:n]
    order.sort()
    gpos, ref, alt = gpos[order], ref[order], alt[order]
    cid = gpos >> 32
    pos = gpos - a["contig_offsets"][cid] + 1
    names = np.array([db.contig_name(i, "plain") for i in range(len(a["contig_names"]))])
    with open(path, "w") as out:
        out.write("##fileformat=VCFv4.2\n")
        out.write('##INFO=<ID=DP,Number=1,Type=Integer,Description="Read depth">\n')
        for i, name in enumerate(names):
            out.write(f"##contig=<ID={name},length={int(a['contig_lengths'][i])}>\n")
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        step = 500_000
        for s in range(0, n, step):
            sl = slice(s, s + step)
            cols = [names[cid[sl]], pos[sl].astype(str), ref[sl], alt[sl]]
            rows = np.char.add(np.char.add(np.char.add(np.char.add(cols[0], "\t"), cols[1]), "\t.\t"), ref[sl])
            rows = np.char.add(np.char.add(np.char.add(rows, "\t"), alt[sl]), "\t50\tPASS\tDP=30\n")
            out.write("".join(rows.tolist()))


# Linux keeps ru_maxrss across fork, so a child forked from this (large) process would report
# at least our own peak. A small launcher process forks the command and reports its rusage.
LAUNCHER = """
import os, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.Popen(["bash", "-o", "pipefail", "-c", sys.argv[1]])
_, status, usage = os.wait4(p.pid, 0)
print(time.perf_counter() - t0, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run(cmd: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB, largest process of the pipeline) of a shell command."""
    out = subprocess.run([sys.executable, "-c", LAUNCHER, cmd], capture_output=True, text=True, check=True)
    elapsed, rss, code = out.stdout.split()
    if int(code) != 0:
        sys.exit(f"failed: {cmd}")
    return float(elapsed), int(rss)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--assembly", default="GRCh37")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-bcftools", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = ensure_database(args.assembly)
    vcf = work / f"bench_{args.variants}.vcf"
    if not vcf.exists():
        t0 = time.perf_counter()
        make_vcf(db, args.variants, vcf)
        print(
            f"generated {vcf} ({args.variants} variants, {vcf.stat().st_size / 1e6:.0f} MB)"
            f" in {time.perf_counter() - t0:.1f}s"
        )
    n = args.variants
    gas = shutil.which("gas-annotate") or str(Path(sys.executable).parent / "gas-annotate")
    out = work / "gas"
    t_gas, rss_gas = run(f"{gas} {vcf} -o {out} --assembly {args.assembly} > /dev/null")
    print(f"gas-annotate : {t_gas:7.2f} s  {n / t_gas:12,.0f} variants/s  peak RSS {rss_gas / 1024:7.1f} MiB")
    if args.skip_bcftools:
        return 0
    tracks = export_tracks(db, work / "tracks", "plain")
    cmd = (
        f"bcftools annotate -a {tracks['genes']} -c CHROM,FROM,TO,GENE -l GENE:unique -h {tracks['headers']} -Ou {vcf}"
        f" | bcftools annotate -a {tracks['known']} -c CHROM,POS,REF,ALT,RSID -Ou"
        f" | bcftools annotate -a {tracks['cpg']} -c CHROM,FROM,TO,CPG -Ou"
        f" | bcftools annotate -a {tracks['repeats']} -c CHROM,FROM,TO,REPEAT -Ou"
        f" | bcftools annotate -a {tracks['blacklist']} -c CHROM,FROM,TO,BLACKLIST -Ov -o {work / 'bcftools.vcf'}"
    )
    t_bcf, rss_bcf = run(cmd)
    print(f"bcftools x5  : {t_bcf:7.2f} s  {n / t_bcf:12,.0f} variants/s  peak RSS {rss_bcf / 1024:7.1f} MiB")
    print(f"ratio gas/bcftools (throughput): {t_bcf / t_gas:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
