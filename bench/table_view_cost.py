"""What the footer view costs the job (decision 105): gas-annotate on the same VCF with the
engine's `parquet.TableView.add` as written, and with it a no-op (the job before the view:
the peer), alternated, wall and CPU of each run.

    .venv/bin/python bench/table_view_cost.py [--variants 1000000] [--rounds 2] [--workdir DIR]

The VCF is made as bench/annotate_vs_bcftools.py makes it (the database's known variants).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from annotate_vs_bcftools import make_vcf

from gas.annotator.engine.build import ensure_database

RUN = """
import sys
from gas.annotator.engine import parquet
if sys.argv[1] == "without":
    parquet.TableView.add = lambda self, *columns: None
from gas.annotator.engine.cli import main
sys.exit(main([sys.argv[2], "-o", sys.argv[3]]))
"""


def run(mode: str, vcf: Path, out: Path) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN, mode, str(vcf), str(out)], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def view_alone(table: Path) -> tuple[float, float, int]:
    """CPU seconds of TableView over the table's row groups (best of 3; the batches the
    writer gave it), and of the VariantsWriter writing them again; row groups."""
    import pyarrow.parquet as pq

    from gas.annotator.engine.parquet import TableView, VariantsWriter

    source = pq.ParquetFile(table)
    batches = [source.read_row_group(g).combine_chunks().to_batches()[0] for g in range(source.num_row_groups)]
    best = float("inf")
    for _ in range(3):
        view, started = TableView(), time.process_time()
        for b in batches:
            view.add(b.column("chrom"), b.column("pos"), b.column("consequence"), b.column("impact"))
        best = min(best, time.process_time() - started)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.process_time()
        writer = VariantsWriter(Path(tmp) / "again.parquet", {})
        for b in batches:
            writer.write(b, 0)
        writer.close()
        write = time.process_time() - started
    return best, write, len(batches)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "gas" / "bench-table-view")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    vcf = args.workdir / f"bench_{args.variants}.vcf"
    if not vcf.exists():
        make_vcf(ensure_database("GRCh37"), args.variants, vcf)
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    for round_ in range(args.rounds):
        for mode in ("without", "with"):
            wall, used = run(mode, vcf, args.workdir / f"out-{mode}")
            cpu[mode].append(used)
            load = os.getloadavg()[0]
            print(
                f"round {round_} {mode:7} the view: {wall:6.2f} s wall, {used:5.2f} s CPU (load {load:.1f})", flush=True
            )
    (table,) = (args.workdir / "out-with").glob("*.variants.parquet")
    alone, write, groups = view_alone(table)
    print(f"TableView alone over the {groups} row groups: {alone * 1000:.0f} ms CPU (writing them: {write:.2f} s)")
    for name, pick in (("best", min), ("median", statistics.median)):
        extra = pick(cpu["with"]) - pick(cpu["without"])
        print(f"the view's extra CPU ({name} of each): {extra * 1000:+.0f} ms on {pick(cpu['without']):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
