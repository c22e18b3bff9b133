"""The charts of a filtered variant table (gas.web.variants.facets) on a large result.

    .venv/bin/python bench/filtered_charts.py [--variants 1000000] [--workdir DIR]

Generates an N-variant VCF from the annotation database's known variants (as
bench/annotate_vs_bcftools.py does), annotates it with the engine (annotated VCF and
Parquet table), builds the web's local Arrow copy, and measures, in this process, the
counts every chart of the job page draws for several filters: each first computed cold
(no cached counts; the local copy's index in memory, as on a worker that has opened the
table) and then served from the per-(copy, filter) cache; the process's CPU time and its
peak RSS (VmHWM) across all of it. The empty filter's counts are checked equal to the
engine's summary.

Peer in the same run, per filter: `bcftools query -i EXPR -f '%CHROM\\n' | sort | uniq -c`
on the annotated VCF, the records per chromosome of the same filter (one chart's worth;
the counts are compared). Goal: a cold filter's charts in <= 1 s at 1M variants.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl

from annotate_vs_bcftools import make_vcf
from werkzeug.datastructures import MultiDict

from gas.annotator.engine import annotate_vcf
from gas.annotator.engine.build import ensure_database
from gas.annotator.engine.database import default_db_dir
from gas.web.variants import VariantFilter, build_local_copy, facet_counts
from gas.web.variants.cache import _load_index, _Lru
from gas.web.variants.table import LocalTable

GOAL_COLD_S = 1.0
# (table query, the same question for bcftools -i)
FILTERS = [
    ("region=intron", 'INFO/REGION="intron"'),
    ("region=CDS,UTR", 'INFO/REGION="CDS" || INFO/REGION="UTR"'),
    ("chrom=17", 'CHROM="17"'),
    ("flag=REPEAT", "INFO/REPEAT=1"),
]


def vm_hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--measure", nargs=2, type=Path, help=argparse.SUPPRESS)  # the child: copy, VCF
    args = parser.parse_args()
    if args.measure:
        return measure(*args.measure)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-charts-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = ensure_database("GRCh37", default_db_dir())
    vcf = work / f"bench{args.variants}.vcf"
    if not vcf.exists():
        make_vcf(db, args.variants, vcf)
    out = work / f"out{args.variants}"
    started = time.perf_counter()
    result = annotate_vcf(vcf, out, db)
    print(f"annotated {args.variants:,} variants in {time.perf_counter() - started:.1f} s", flush=True)
    assert result.variants_parquet is not None
    entry = work / f"copy{args.variants}"
    entry.mkdir(exist_ok=True)
    build_local_copy(result.variants_parquet, entry)
    (entry / "summary.json").write_text(json.dumps(result.summary))
    # Measured in a process of its own, so its peak RSS is the charts' (not the engine's).
    return subprocess.run([sys.executable, __file__, "--measure", str(entry), str(result.annotated_vcf)]).returncode


def measure(entry: Path, annotated: Path) -> int:
    summary = json.loads((entry / "summary.json").read_text())
    table = LocalTable(entry, _load_index(entry), _Lru(4))
    variants = summary["variants"]["written"]
    rows: list[tuple[str, float, float, float, int, float, bool]] = []
    empty = facet_counts(table, VariantFilter()).summary()
    keys = ("regions", "consequences", "variant_classes", "known", "novel", "flags", "contigs", "top_genes")
    same_summary = all(empty[k] == summary[k] for k in keys)
    for query, expression in FILTERS:
        filt = VariantFilter.from_args(MultiDict(parse_qsl(query)))  # the table's own parser
        c0, t0 = cpu(), time.perf_counter()
        counts = facet_counts(table, filt)
        cold, cold_cpu = time.perf_counter() - t0, cpu() - c0
        t1 = time.perf_counter()
        facet_counts(table, filt)
        warm = time.perf_counter() - t1
        t2 = time.perf_counter()
        peer = subprocess.run(
            f"bcftools query -i '{expression}' -f '%CHROM\\n' {annotated} | sort | uniq -c",
            shell=True, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        peer_s = time.perf_counter() - t2
        peer_counts = Counter({c: int(n) for n, c in (line.split() for line in peer.splitlines())})
        rows.append((query, cold, cold_cpu, warm, counts.rows, peer_s, dict(peer_counts) == dict(counts.contigs)))
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\nfiltered charts over {variants:,} variants (load average {' '.join(load)})")
    print(f"  unfiltered counts == engine summary: {same_summary}")
    for query, cold, cold_cpu, warm, matched, peer_s, same in rows:
        print(
            f"  {query:<16} {matched:>9,} rows  cold {cold * 1000:7.0f} ms (CPU {cold_cpu * 1000:6.0f} ms)  "
            f"cached {warm * 1000:5.2f} ms  | peer bcftools query -i | sort | uniq -c: {peer_s * 1000:7.0f} ms; "
            f"same per-chromosome counts: {same}"
        )
    worst = max(cold for _, cold, *_ in rows)
    print(f"  peak RSS (VmHWM of the measuring process: index, counts, caches): {vm_hwm_mib():.0f} MiB")
    print(f"  goal cold <= {GOAL_COLD_S:.1f} s: {'met' if worst <= GOAL_COLD_S else 'NOT met'} (worst {worst:.2f} s)")
    return 0 if same_summary and all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
