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


def run(mode: str, vcf: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", RUN, mode, str(vcf), out], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


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
            wall, used = run(mode, vcf)
            cpu[mode].append(used)
            load = os.getloadavg()[0]
            print(
                f"round {round_} {mode:7} the view: {wall:6.2f} s wall, {used:5.2f} s CPU (load {load:.1f})", flush=True
            )
    extra = min(cpu["with"]) - min(cpu["without"])
    print(f"the view's extra CPU (best of each): {extra * 1000:+.0f} ms on {min(cpu['without']):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
