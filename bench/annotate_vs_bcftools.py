"""Benchmark: gas-annotate against a bcftools annotate pipeline on the same tracks.

    .venv/bin/python bench/annotate_vs_bcftools.py [--variants 1000000 10000000] [--repeats 3]
        [--workdir DIR] [--baseline-ref REF --baseline-python PY] [--no-compile-bytecode]

For each size, generates a deterministic VCF from the database's known variants (the
original site plus shifted copies, so about a third of the records hit an RSID), exports the
database's tracks, then runs, one after the other and ``--repeats`` times each:
  * gas-annotate with everything (GENE, GENE_TYPE, REGION, NEAREST, RSID, CPG, REPEAT,
    BLACKLIST, VC, TSTV, CONSEQUENCE, MOST_SEVERE) and the variants Parquet file;
  * the same without the Parquet file (--no-parquet);
  * bcftools annotate x5, piped as uncompressed BCF (GENE, RSID, CPG, REPEAT, BLACKLIST);
  * optionally a baseline engine: ``--baseline-ref`` names a git revision whose sources are
    exported (``_common.baseline_dir``) and run with ``--baseline-python`` (an interpreter with
    that revision's dependencies; default this one), for before/after figures in the same run.
It prints the median wall time, variants/second, peak RSS (os.wait4 rusage; the largest
process of a pipeline), CPU time (user + system of every process of it: on a shared machine
the wall time depends on the load, the CPU time much less) and the throughput ratio
against bcftools, plus the time from process
start to the first annotated record written. The Python modules are compiled to bytecode
first, as in the image (``--no-compile-bytecode`` measures the .venv as it is).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import baseline_command, compile_bytecode

from gas.annotator.engine.build import ensure_database
from gas.annotator.engine.database import export_tracks

ROOT = Path(__file__).resolve().parents[1]


def make_vcf(db, n: int, path: Path) -> None:
    a = db.arrays
    base_pos = a["known_pos"]
    copies = -(-n // base_pos.size)
    # Copy k sits k*7 bases to the right of the known site; copy 0 is the known variant itself.
    shift = np.repeat(np.arange(copies, dtype=np.int64) * 7, base_pos.size)
    gpos = np.tile(base_pos, copies) + shift
    ref = np.tile(np.array(db.packed("known_ref").tolist()), copies)
    alt = np.tile(np.array(db.packed("known_alt").tolist()), copies)
    order = np.argsort(gpos, kind="stable")[:n]
    order.sort()
    gpos, ref, alt = gpos[order], ref[order], alt[order]
    cid = gpos >> 32
    pos = gpos - a["contig_offsets"][cid] + 1
    names = np.array([db.contig_name(i, "plain") for i in range(len(db.contig_names))])
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
print(time.perf_counter() - t0, usage.ru_maxrss, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime)
"""

# Time from process start to the first annotated record on disk: the launcher starts the
# command and polls the output folder for a temporary file holding a line that is not header.
FIRST_RECORD = """
import os, subprocess, sys, time
out = sys.argv[2]
t0 = time.perf_counter()
p = subprocess.Popen(["bash", "-c", sys.argv[1]])
seen = None
while seen is None and p.poll() is None:
    for name in os.listdir(out):
        if name.endswith(".annot.vcf") or (name.startswith(".") and ".annot.vcf." in name):
            try:
                with open(os.path.join(out, name), "rb") as f:
                    data = f.read(1 << 20)
            except FileNotFoundError:
                continue
            if b"\\n#CHROM" in data and data.split(b"\\n#CHROM", 1)[1].count(b"\\n") >= 2:
                seen = time.perf_counter() - t0
    time.sleep(0.002)
p.wait()
print(seen if seen is not None else -1)
"""


def run(cmd: str) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB, largest process of the pipeline) and CPU seconds (user +
    system, every process of the pipeline) of a shell command."""
    out = subprocess.run([sys.executable, "-c", LAUNCHER, cmd], capture_output=True, text=True, check=True)
    elapsed, rss, code, cpu = out.stdout.split()
    if int(code) != 0:
        sys.exit(f"failed: {cmd}")
    return float(elapsed), int(rss), float(cpu)


Runs = dict[str, list[float]]  # per command, a figure of each run


def interleaved(commands: dict[str, str], repeats: int) -> tuple[Runs, Runs, dict[str, int]]:
    """Each command `repeats` times, interleaved so that a change of load hits every command
    alike: per command the wall and CPU seconds of each run and the peak RSS (KiB)."""
    walls: Runs = {k: [] for k in commands}
    cpus: Runs = {k: [] for k in commands}
    rss: dict[str, int] = {k: 0 for k in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            seconds, peak, cpu_seconds = run(cmd)
            walls[name].append(seconds)
            cpus[name].append(cpu_seconds)
            rss[name] = max(rss[name], peak)
    return walls, cpus, rss


def time_commands(commands: dict[str, str], repeats: int, variants: int, peer: str | None = None) -> dict[str, float]:
    """Runs the commands (`interleaved`) and prints, per command, the medians of wall and CPU
    time with the peak RSS and each run's wall time; with a `peer` among them, each other
    command's throughput against it. The median wall seconds by command."""
    walls, cpus, rss = interleaved(commands, repeats)
    print(f"-- median of {repeats}, load average {os.getloadavg()[0]:.1f} at the end")
    wall = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    width = max(map(len, commands))
    for name in commands:
        runs = " ".join(f"{t:.2f}" for t in walls[name])
        print(
            f"{name:{width}s}  {wall[name]:7.2f} s  {variants / wall[name]:12,.0f} variants/s  "
            f"peak RSS {rss[name] / 1024:7.1f} MiB  CPU {cpu[name]:6.2f} s "
            f"({cpu[name] / variants * 1e6:.2f} us/variant)  runs: {runs}"
        )
    for name in commands:
        if peer in commands and name != peer:
            print(
                f"ratio {name} / {peer} (throughput): wall {wall[peer] / wall[name]:.2f}, "
                f"CPU {cpu[peer] / cpu[name]:.2f}"
            )
    return wall


def first_record(cmd: str, out_dir: Path) -> float:
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", FIRST_RECORD, cmd, str(out_dir)], capture_output=True, text=True)
    return float(out.stdout.strip() or -1)


def bad_input_figures(work: Path, gas: str, baseline: str | None) -> None:
    """Issue 9: a ~140 KB .vcf.gz whose CHROM inflates to 140 MiB, and a file with a 10 MB
    line: time to fail (or finish) and peak RSS, for this engine (free-tier line cap 1 MiB and
    the default 16 MiB) and the baseline engine if given."""
    import zlib

    header = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    bomb = work / "bomb.vcf.gz"
    if not bomb.exists():
        with open(bomb, "wb") as out:
            z = zlib.compressobj(9, zlib.DEFLATED, 31)
            out.write(z.compress(header))
            for _ in range(140):
                out.write(z.compress(b"A" * (1 << 20)))
            out.write(z.flush())
    wide = work / "wide.vcf"
    if not wide.exists():
        with open(wide, "w") as text:
            text.write(header.decode() + "1\t100\t.\tA\tG\t.\t.\t.\n")
            text.write("1\t200\t.\tA\tG\t.\t.\tX=" + "7" * (10 << 20) + "\n")
    print(f"-- bad input: {bomb.name} ({bomb.stat().st_size:,} bytes -> 140 MiB CHROM), {wide.name} (10 MB line)")
    cases = [
        ("gas-annotate --max-line-bytes 1MiB", f"{gas} {{}} -o {work / 'bad'} --max-line-bytes {1 << 20}"),
        ("gas-annotate (16 MiB default)", f"{gas} {{}} -o {work / 'bad'}"),
    ]
    if baseline:
        cases.append(("baseline", f"{baseline} {{}} -o {work / 'bad'}"))
    for label, template in cases:
        for path in (bomb, wide):
            cmd = template.format(path) + " > /dev/null 2>&1"
            proc = subprocess.run([sys.executable, "-c", LAUNCHER, cmd], capture_output=True, text=True, check=True)
            elapsed, rss, code, _ = proc.stdout.split()
            outcome = "annotated" if code == "0" else f"refused (exit {code})"
            figures = f"{float(elapsed):6.2f} s  peak RSS {int(rss) / 1024:7.1f} MiB"
            print(f"{label:36s} {path.name:14s} {figures}  {outcome}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--assembly", default="GRCh37")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-bcftools", action="store_true")
    parser.add_argument("--baseline-ref", default=None, help="git revision of a baseline engine (e.g. main)")
    parser.add_argument("--baseline-python", default=None, help="interpreter with the baseline's dependencies")
    parser.add_argument("--skip-bad-input", action="store_true", help="skip the bomb / 10 MB line figures")
    parser.add_argument(
        "--no-compile-bytecode", action="store_true", help="run from source as the .venv is (no compileall first)"
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = ensure_database(args.assembly)
    gas = shutil.which("gas-annotate") or str(Path(sys.executable).parent / "gas-annotate")
    tracks = None if args.skip_bcftools else export_tracks(db, work / "tracks", "plain")
    baseline = None
    if args.baseline_ref:
        baseline = baseline_command(args.baseline_ref, args.baseline_python or sys.executable, work)
    if not args.no_compile_bytecode:
        compile_bytecode()
    bytecode = "from source" if args.no_compile_bytecode else "compiled"
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; Python bytecode {bytecode}"
    )
    for n in args.variants:
        vcf = work / f"bench_{n}.vcf"
        if not vcf.exists():
            t0 = time.perf_counter()
            make_vcf(db, n, vcf)
            print(
                f"generated {vcf} ({n} variants, {vcf.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s"
            )
        gas_cmd = f"{gas} {vcf} --assembly {args.assembly}"
        commands = {
            "gas-annotate": f"{gas_cmd} -o {work / 'gas'} > /dev/null",
            "gas-annotate --no-parquet": f"{gas_cmd} -o {work / 'gas-np'} --no-parquet > /dev/null",
        }
        if baseline:
            commands[f"baseline ({args.baseline_ref})"] = (
                f"{baseline} {vcf} -o {work / 'base'} --assembly {args.assembly} > /dev/null"
            )
            # The engine alone on both sides: a change in the table's columns is told apart
            # from one in the engine.
            commands[f"baseline ({args.baseline_ref}) --no-parquet"] = (
                f"{baseline} {vcf} -o {work / 'base-np'} --assembly {args.assembly} --no-parquet > /dev/null"
            )
        if tracks:
            t = tracks
            commands["bcftools x5"] = (
                f"bcftools annotate -a {t['genes']} -c CHROM,FROM,TO,GENE -l GENE:unique -h {t['headers']} -Ou {vcf}"
                f" | bcftools annotate -a {t['known']} -c CHROM,POS,REF,ALT,RSID -Ou"
                f" | bcftools annotate -a {t['cpg']} -c CHROM,FROM,TO,CPG -Ou"
                f" | bcftools annotate -a {t['repeats']} -c CHROM,FROM,TO,REPEAT -Ou"
                f" | bcftools annotate -a {t['blacklist']} -c CHROM,FROM,TO,BLACKLIST -Ov -o {work / 'bcftools.vcf'}"
            )
        print(f"-- {n:,} variants ({vcf.stat().st_size / 1e6:.0f} MB)")
        medians = time_commands(commands, args.repeats, n, peer="bcftools x5" if tracks else None)
        if baseline:
            base = f"baseline ({args.baseline_ref})"
            print(f"ratio gas-annotate / {base} (throughput): {medians[base] / medians['gas-annotate']:.2f}")
            print(
                f"ratio gas-annotate --no-parquet / {base} --no-parquet (throughput): "
                f"{medians[base + ' --no-parquet'] / medians['gas-annotate --no-parquet']:.2f}"
            )
        first_cmds = {"gas-annotate": f"{gas} {vcf} -o {work / 'first'} --assembly {args.assembly} > /dev/null"}
        if baseline:
            first_cmds[f"baseline ({args.baseline_ref})"] = (
                f"{baseline} {vcf} -o {work / 'first'} --assembly {args.assembly} > /dev/null"
            )
        starts: dict[str, list[float]] = {k: [] for k in first_cmds}
        for _ in range(3):  # interleaved, like the runs above
            for name, cmd in first_cmds.items():
                starts[name].append(round(first_record(cmd, work / "first"), 3))
        for name, firsts in starts.items():
            print(
                f"process start to first record written, {name}: median {statistics.median(firsts):.3f} s "
                f"(runs {firsts}; load average {os.getloadavg()[0]:.1f})"
            )
    if not args.skip_bad_input:
        bad_input_figures(work, gas, baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
