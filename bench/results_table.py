"""The variant table of a 1,000,000-variant result through the web tier (issue 12).

    .venv/bin/python bench/results_table.py [--variants 1000000] [--requests 40] [--first-view-only] [--workdir DIR]
        [--baseline-ref REF [--rounds N]]

Generates an N-variant VCF from the annotation database's known variants (as
bench/annotate_vs_bcftools.py does), annotates it with gas-annotate (the annotated VCF and
the Parquet table), stores both as a COMPLETED job's results on the local stack (moto
server, gunicorn with one worker) and measures over HTTP, as a browser asks:

  * the first view of the job after COMPLETED, by a worker that never saw it (decision 105:
    the engine's footer and first row group read from S3), its worker CPU and RSS, and when
    the local copy the worker then builds in the background is ready (and that build's CPU);
  * table pages with a gene filter (a different gene each request: no count is cached);
  * unfiltered pages at random offsets in the last tenth of the table;
  * the TSV export of the whole result (rows/s), and of one gene's rows;
  * table pages with a phenotype filter (a different HPO term each request, 10+ genes; the
    term's descendants included), and the TSV export of HP:0001250 "Seizure" (2,040 genes);
  * table pages with a numeric condition (`where=nearest_distance<=T`, a new T each request)
    and with a numeric sort (`sort=-nearest_distance`, under a new `where=pos>X` each request, so
    no order is cached), and the TSV export of `where=pos<T` (decision 103);
  * the web worker's peak RSS (VmHWM) over all of it.

Peer in the same run: `bcftools view -i 'INFO/GENE="G"' | bcftools query` producing the
same gene's TSV from the annotated VCF (the rows are compared), `bcftools query` over
the whole file, `bcftools view -i 'POS<T' | bcftools query` for the numeric condition (rows
compared) and `bcftools view -i 'POS>X' | bcftools query | sort` by NEAREST's distance for
the numeric sort. Goals: page p95 <= 300 ms (gene filter; deep offset), export >= 200,000
rows/s, worker peak RSS <= 300 MiB.

With ``--baseline-ref REF`` the same again for git revision REF (``_common.baseline_env``:
its engine writes its own table, its web serves it), then each figure's ratio; the phenotype
and numeric phases, which older revisions lack, are left out of both runs. Both stacks run at
once and the sides are measured in turn, ``--rounds N`` times (each figure: the median of its
rounds; a page's times: all of them), so a change of the machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import requests
from _common import (
    DevStack,
    User,
    baseline_env,
    bench_stack,
    child_pids,
    children_cpu,
    compile_bytecode,
    cpu_seconds,
    moto_client,
    percentile,
)
from annotate_vs_bcftools import make_vcf

from gas.annotator.engine.annotate import ENGINE_VERSION
from gas.annotator.engine.build import ensure_database
from gas.annotator.engine.database import SCHEMA_VERSION
from gas.core.dynamo import to_item
from gas.core.job_record import Job, JobStatus
from gas.core.phenotypes import load
from gas.core.timeutil import utc_now_iso

GOAL_PAGE_MS = 300
GOAL_EXPORT_ROWS = 200_000
GOAL_RSS_MIB = 300
GOAL_FIRST_VIEW_S = 1.0  # issue 26: first open after COMPLETED
PEER_FIELDS = "%CHROM\\t%POS\\t%REF\\t%ALT\\t%INFO/GENE\\t%INFO/REGION\\n"


def annotated(work: Path, variants: int, env: dict[str, str], name: str) -> tuple[Path, Path, Path]:
    """The annotated VCF, Parquet table and summary of an N-variant input by the engine that
    ``env`` runs (made once per workdir and ``name``)."""
    vcf = work / f"bench_{variants}.vcf"
    out = work / f"annotated-{name}"
    names = [out / f"bench_{variants}.{suffix}" for suffix in ("annot.vcf", "variants.parquet", "summary.json")]
    if all(p.exists() for p in names):
        return names[0], names[1], names[2]
    if not vcf.exists():
        make_vcf(ensure_database("GRCh37"), variants, vcf)
    gas = Path(sys.executable).parent / "gas-annotate"
    subprocess.run(
        [str(gas), str(vcf), "-o", str(out)], check=True, stdout=subprocess.DEVNULL, env={**os.environ, **env}
    )
    missing = [p.name for p in names if not p.exists()]
    if missing:
        sys.exit(f"gas-annotate wrote no {', '.join(missing)}: this engine does not write the Parquet table")
    return names[0], names[1], names[2]


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed_get(user: User, path: str) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    resp = user.get(path)
    elapsed = time.perf_counter() - started
    if resp.status_code != 200:
        sys.exit(f"{path}: {resp.status_code} {resp.text[:300]}")
    return elapsed, resp


def stream_rows(user: User, path: str) -> tuple[float, int, list[str]]:
    """Seconds to stream an export to the end, its data rows, and the first 5 columns of
    each row (chrom, pos, id, rsid, ref, alt -> kept as chrom pos ref alt)."""
    started = time.perf_counter()
    rows: list[str] = []
    with user.http.get(user.base + path, stream=True, timeout=600) as resp:
        resp.raise_for_status()
        rest = b""
        for chunk in resp.iter_content(1 << 20):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            rows += [line.decode() for line in lines]
    elapsed = time.perf_counter() - started
    data = rows[1:]
    keys = [f"{c[0]}\t{c[1]}\t{c[4]}\t{c[5]}" for c in (r.split("\t") for r in data)]
    return elapsed, len(data), keys


def shell(cmd: str) -> tuple[float, list[str]]:
    started = time.perf_counter()
    out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - started, out.splitlines()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--first-view-only", action="store_true", help="measure the first view and the local copy's build, then stop"
    )
    parser.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "gas" / "bench-results-table")
    parser.add_argument("--baseline-ref", default=None, help="git revision to measure in the same run (e.g. main)")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each side, in turn")
    args = parser.parse_args()
    if not shutil.which("bcftools"):
        sys.exit("bcftools is not installed (apt-get install bcftools)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    sides: dict[str, tuple[dict[str, str], str]] = {"GAS": ({}, f"engine{ENGINE_VERSION}-db{SCHEMA_VERSION}")}
    if args.baseline_ref:
        ref = args.baseline_ref
        sides[f"baseline ({ref})"] = (baseline_env(ref, args.workdir), ref.replace("/", "_"))
    compile_bytecode()  # as the image is, and the baseline's tree
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    inputs = {}
    for side, (env, name) in sides.items():
        t0 = time.perf_counter()
        vcf, parquet, summary_path = annotated(args.workdir, args.variants, env, name)
        rows_total = pq.ParquetFile(parquet).metadata.num_rows
        size = parquet.stat().st_size / 1e6
        took = time.perf_counter() - t0
        print(f"{side}: {args.variants:,} records, {rows_total:,} rows, {size:.0f} MB Parquet ({took:.1f} s)")
        genes = pc.unique(pc.list_flatten(pq.read_table(parquet, columns=["genes"]).column(0))).to_pylist()
        top_gene = json.loads(summary_path.read_text())["top_genes"][0]["gene"]
        inputs[side] = (vcf, parquet, summary_path, genes, top_gene, rows_total)
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    with ExitStack() as stacks:
        started = {}
        for side, (env, _) in sides.items():
            cache_dir = stacks.enter_context(tempfile.TemporaryDirectory())
            stack = stacks.enter_context(bench_stack(GAS_RESULT_CACHE_DIR=cache_dir, GAS_WEB_WORKERS="1", **env))
            started[side] = (stack, Path(cache_dir))
        for round_ in range(args.rounds):
            for side, (stack, cache) in started.items():
                print(f"== {side}, round {round_ + 1} of {args.rounds}", flush=True)
                rng = random.Random(12 + round_)  # new genes and offsets each round: no count cached
                runs[side].append(measure(stack, args, *inputs[side], cache, rng))
    results = {side: merged(figures) for side, figures in runs.items()}
    for side in sides:
        print(f"== {side}" + (f": each figure the median of {args.rounds} rounds" if args.rounds > 1 else ""))
        report(results[side], args, inputs[side][-1])
    if args.baseline_ref:
        compare(results["GAS"], results[f"baseline ({args.baseline_ref})"], args.baseline_ref)
    return 0


def completed_job(stack: DevStack, results: dict[str, Path]) -> tuple[User, str]:
    """A signed-in user and the id of a finished job of theirs whose results are these files
    (a Job key field -> the file, `result_key` the annotated VCF), stored as the annotator
    leaves them: the files in the results bucket, the record COMPLETED."""
    user = User(stack.url).sign_in()
    s3, ddb = moto_client(stack.moto_url, "s3"), moto_client(stack.moto_url, "dynamodb")
    user_id = next(
        i["user_id"]["S"] for i in ddb.scan(TableName=f"{stack.prefix}-users")["Items"] if i["email"]["S"] == user.email
    )
    job_id = str(uuid.uuid4())
    bucket = f"{stack.prefix}-results"
    keys: dict[str, Any] = {}
    for field, path in results.items():
        keys[field] = f"{user_id}/{job_id}/{path.name}"
        s3.upload_file(str(path), bucket, keys[field])
    vcf = results["result_key"]
    # The record as the annotator leaves a finished job (gas.core.job_record.Job).
    job = Job(
        job_id=job_id,
        user_id=user_id,
        submitted_at=utc_now_iso(),
        input_file_name=vcf.name,
        input_bucket=f"{stack.prefix}-inputs",
        input_key=f"inputs/{user_id}/{job_id}~{vcf.name}",
        input_size=vcf.stat().st_size,
        status=JobStatus.COMPLETED,
        completed_at=utc_now_iso(),
        result_bucket=bucket,
        **keys,
    )
    ddb.put_item(TableName=f"{stack.prefix}-jobs", Item=to_item(job.to_record()))
    return user, job_id


def merged(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One set of figures from several rounds': every time of a page, the worker's RSS at the
    start and its peak, whether every round's rows were the same, each other number's median
    (the first views of later rounds are of a worker that has served pages)."""
    out: dict[str, Any] = {}
    for key, value in rounds[0].items():
        values = [r[key] for r in rounds]
        if isinstance(value, list):
            out[key] = [v for vs in values for v in vs]
        elif key == "rss_start":
            out[key] = value
        elif key == "rss_peak":
            out[key] = max(values)
        elif isinstance(value, bool):
            out[key] = all(values)
        elif isinstance(value, float):
            out[key] = statistics.median(values)
        else:
            out[key] = value
    return out


def first_open(user: User, base: str, worker: int, cache: Path) -> dict[str, Any]:
    """The first view of a job the worker never saw (wall, the worker's CPU during it, its
    RSS after), then the wait for the local copy built in the background (the cache
    directory's index.json) and that build's CPU; later figures are taken once it is there."""
    copies = len(list(cache.glob("*/index.json"))) + 1
    cpu0 = cpu_seconds(worker)
    first, _ = timed_get(user, base)
    first_cpu = cpu_seconds(worker) - cpu0
    rss = vm_hwm_mib(worker)
    started = time.perf_counter()
    while len(list(cache.glob("*/index.json"))) < copies and time.perf_counter() - started < 600:
        time.sleep(0.05)
    return {
        "first_view_s": first,
        "first_view_cpu_s": first_cpu,
        "first_view_rss": rss,
        "local_copy_s": first + time.perf_counter() - started,
        "local_copy_cpu_s": cpu_seconds(worker) - cpu0 - first_cpu,
    }


def measure(
    stack: DevStack,
    args: argparse.Namespace,
    vcf: Path,
    parquet: Path,
    summary_path: Path,
    genes: list[str],
    top_gene: str,
    rows_total: int,
    cache: Path,
    rng: random.Random,
) -> dict[str, Any]:
    user, job_id = completed_job(stack, {"result_key": vcf, "variants_key": parquet, "summary_key": summary_path})
    base = f"/annotations/{job_id}/variants"
    master = stack.procs["web"].pid
    (worker,) = child_pids(master)
    rss_start = vm_hwm_mib(worker)

    first_view = first_open(user, base, worker, cache)
    report_first_view(first_view)
    # The same for a second job (the same files, other keys) once the worker has served
    # pages: what a long-running worker does for a job it never saw.
    other_user, other_job = completed_job(
        stack, {"result_key": vcf, "variants_key": parquet, "summary_key": summary_path}
    )
    warm = first_open(other_user, f"/annotations/{other_job}/variants", worker, cache)
    report_first_view(warm, "a second job, warm worker")
    first_view |= {f"warm_{k}": v for k, v in warm.items()}
    if args.first_view_only:
        return first_view | {"rss_start": rss_start, "rss_peak": vm_hwm_mib(worker)}
    cpu0 = cpu_seconds(worker)
    gene_ms = []
    for gene in rng.sample(genes, args.requests):
        elapsed, resp = timed_get(user, f"{base}?gene={gene}")
        assert 'id="matched"' in resp.text
        gene_ms.append(elapsed * 1000)
    gene_cpu_ms = (cpu_seconds(worker) - cpu0) * 1000 / args.requests
    cpu0 = cpu_seconds(worker)
    deep_ms = []
    for _ in range(args.requests):
        offset = rng.randint(int(rows_total * 0.9), rows_total - 50)
        elapsed, resp = timed_get(user, f"{base}?offset={offset}")
        assert resp.text.count("<tr data-record=") == 50
        deep_ms.append(elapsed * 1000)
    deep_cpu_ms = (cpu_seconds(worker) - cpu0) * 1000 / args.requests
    combined_ms = []
    for gene in rng.sample(genes, args.requests // 2):
        elapsed, _ = timed_get(user, f"{base}?gene={gene[:3]}*&region=CDS,UTR,intron&known=novel&offset=0")
        combined_ms.append(elapsed * 1000)

    cpu0 = cpu_seconds(worker)
    export_s, export_rows, _ = stream_rows(user, f"{base}.tsv")
    export_cpu_s = cpu_seconds(worker) - cpu0
    gene_export_s, gene_rows, gene_keys = stream_rows(user, f"{base}.tsv?gene={top_gene}")
    rss_peak = vm_hwm_mib(worker)

    peer_gene_s, peer_lines = shell(
        f"bcftools view -i 'INFO/GENE=\"{top_gene}\"' {vcf} 2>/dev/null | bcftools query -f '{PEER_FIELDS}'"
    )
    peer_keys = ["\t".join(line.split("\t")[:4]) for line in peer_lines]
    peer_all_s, peer_all = shell(f"bcftools query -f '{PEER_FIELDS}' {vcf} 2>/dev/null | wc -l")
    figures = first_view | {
        "gene_ms": gene_ms,
        "deep_ms": deep_ms,
        "combined_ms": combined_ms,
        "export_s": export_s,
        "export_rows": export_rows,
        "gene_export_s": gene_export_s,
        "gene_rows": gene_rows,
        "same_rows": sorted(gene_keys) == sorted(peer_keys),
        "peer_gene_s": peer_gene_s,
        "peer_rows": len(peer_keys),
        "peer_all_s": peer_all_s,
        "peer_all_rows": int(peer_all[0]),
        "top_gene": top_gene,
        "rss_start": rss_start,
        "rss_peak": rss_peak,
        "gene_cpu_ms": gene_cpu_ms,
        "deep_cpu_ms": deep_cpu_ms,
        "export_cpu_s": export_cpu_s,
    }
    if args.baseline_ref:  # older revisions lack the phases below
        return figures
    newer = newer_filters(user, base, worker, vcf, parquet, rng, args.requests)
    return figures | newer | {"rss_peak": vm_hwm_mib(worker)}


def newer_filters(
    user: User, base: str, worker: int, vcf: Path, parquet: Path, rng: random.Random, requests: int
) -> dict[str, Any]:
    """The phenotype filter and export, numeric conditions and sorts (with their peers)."""
    # Phenotype filter: terms with 10+ genes, each a new filter (its gene set and counts uncached).
    hpo = load()
    terms = [t for t in rng.sample(hpo.term_ids, 2000) if len(hpo.genes_for(t) or ()) >= 10][:requests]
    cpu0 = cpu_seconds(worker)
    pheno_ms = []
    for term in terms:
        elapsed, resp = timed_get(user, f"{base}?phenotype={term}")
        assert 'id="matched"' in resp.text
        pheno_ms.append(elapsed * 1000)
    pheno_cpu_ms = (cpu_seconds(worker) - cpu0) * 1000 / len(terms)
    cpu0 = cpu_seconds(worker)
    seizure_s, seizure_rows, seizure_keys = stream_rows(user, f"{base}.tsv?phenotype=HP:0001250")
    seizure_cpu_s = cpu_seconds(worker) - cpu0
    # GRCh37's names for the genes: the symbols and the older names joined by id/alias (decision 114)
    names = hpo.names_for(hpo.genes_for("HP:0001250") or (), "GRCh37")
    expression = " || ".join(f'INFO/GENE="{g}"' for g in sorted(names))
    cpu0 = children_cpu()
    peer_seizure_s, peer_seizure_lines = shell(
        f"bcftools view -i '{expression}' {vcf} 2>/dev/null | bcftools query -f '{PEER_FIELDS}'"
    )
    peer_seizure_cpu_s = children_cpu() - cpu0
    peer_seizure_keys = ["\t".join(line.split("\t")[:4]) for line in peer_seizure_lines]

    # Numeric conditions and sorts (decision 103): each request a new filter, nothing cached.
    positions = sorted(int(p) for p in pq.read_table(parquet, columns=["pos"]).column(0).to_numpy()[::997])
    where_ms = []
    for _ in range(requests):
        elapsed, resp = timed_get(user, f"{base}?where=nearest_distance%3C%3D{rng.randint(1, 200_000)}")
        assert 'id="matched"' in resp.text
        where_ms.append(elapsed * 1000)
    cpu0 = cpu_seconds(worker)
    sort_ms = []
    for _ in range(requests):
        low = rng.choice(positions[: len(positions) // 10])
        elapsed, resp = timed_get(user, f"{base}?sort=-nearest_distance&where=pos%3E{low}")
        assert 'id="matched"' in resp.text
        sort_ms.append(elapsed * 1000)
    sort_cpu_ms = (cpu_seconds(worker) - cpu0) * 1000 / requests
    low = positions[len(positions) // 20]
    cpu0 = children_cpu()
    peer_sort_s, _ = shell(
        f"bcftools view -i 'POS>{low}' {vcf} 2>/dev/null | bcftools query -f '{PEER_FIELDS[:-2]}\\t%INFO/NEAREST\\n'"
        " | sort -t'|' -k2,2nr -s"
    )
    peer_sort_cpu_s = children_cpu() - cpu0
    limit = positions[len(positions) // 2]
    cpu0 = cpu_seconds(worker)
    pos_s, pos_rows, pos_keys = stream_rows(user, f"{base}.tsv?where=pos%3C{limit}")
    pos_cpu_s = cpu_seconds(worker) - cpu0
    cpu0 = children_cpu()
    peer_pos_s, peer_pos_lines = shell(
        f"bcftools view -i 'POS<{limit}' {vcf} 2>/dev/null | bcftools query -f '{PEER_FIELDS}'"
    )
    peer_pos_cpu_s = children_cpu() - cpu0
    peer_pos_keys = ["\t".join(line.split("\t")[:4]) for line in peer_pos_lines]

    return {
        "pheno_ms": pheno_ms,
        "pheno_cpu_ms": pheno_cpu_ms,
        "seizure_s": seizure_s,
        "seizure_cpu_s": seizure_cpu_s,
        "seizure_rows": seizure_rows,
        "seizure_same": sorted(seizure_keys) == sorted(peer_seizure_keys),
        "peer_seizure_s": peer_seizure_s,
        "peer_seizure_cpu_s": peer_seizure_cpu_s,
        "peer_seizure_rows": len(peer_seizure_keys),
        "where_ms": where_ms,
        "sort_ms": sort_ms,
        "sort_cpu_ms": sort_cpu_ms,
        "peer_sort_s": peer_sort_s,
        "peer_sort_cpu_s": peer_sort_cpu_s,
        "pos_s": pos_s,
        "pos_cpu_s": pos_cpu_s,
        "pos_rows": pos_rows,
        "pos_same": sorted(pos_keys) == sorted(peer_pos_keys),
        "peer_pos_s": peer_pos_s,
        "peer_pos_cpu_s": peer_pos_cpu_s,
        "peer_pos_rows": len(peer_pos_keys),
    }


def report_first_view(f: dict[str, Any], which: str = "the worker's first table") -> None:
    print(
        f"first view after COMPLETED ({which}; footer + first row group from S3): {f['first_view_s']:.2f} s wall, "
        f"worker CPU {f['first_view_cpu_s']:.2f} s, worker RSS after {f['first_view_rss']:.0f} MiB "
        f"(goal <= {GOAL_FIRST_VIEW_S:.0f} s: {'met' if f['first_view_s'] <= GOAL_FIRST_VIEW_S else 'NOT met'})"
    )
    print(
        f"  local copy built in the background: ready {f['local_copy_s']:.2f} s after the request, "
        f"worker CPU {f['local_copy_cpu_s']:.2f} s; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def export_and_peer(f: dict[str, Any], key: str, what: str, peer: str) -> None:
    """A TSV export's figures (f[key_rows], f[key_s], f[key_cpu_s]) and its bcftools peer's
    (f[peer_key_...]), with whether both gave the same rows (f[key_same])."""
    print(f"TSV export, {what}: {f[key + '_rows']:,} rows in {f[key + '_s'] * 1000:.0f} ms", end="")
    print(f" (worker CPU {f[key + '_cpu_s'] * 1000:.0f} ms)")
    print(f"  peer {peer}: {f['peer_' + key + '_rows']:,} rows in {f['peer_' + key + '_s'] * 1000:.0f} ms", end="")
    print(f" (CPU {f['peer_' + key + '_cpu_s'] * 1000:.0f} ms); same rows: {'yes' if f[key + '_same'] else 'NO'}")


def report(f: dict[str, Any], args: argparse.Namespace, rows_total: int) -> None:
    def ms(values: list[float]) -> str:
        return f"p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f} ms  max {max(values):6.1f} ms"

    if args.first_view_only:
        print(f"web worker peak RSS (VmHWM): {f['rss_peak']:.0f} MiB (after start {f['rss_start']:.0f} MiB)")
        return
    gene_p95, deep_p95 = percentile(f["gene_ms"], 95), percentile(f["deep_ms"], 95)
    rate = f["export_rows"] / f["export_s"]
    print(f"table page, gene filter ({args.requests} genes)      : {ms(f['gene_ms'])}", end="")
    print(f"  worker CPU {f['gene_cpu_ms']:.1f} ms a page")
    print(f"table page, unfiltered, offset in the last 10%    : {ms(f['deep_ms'])}", end="")
    print(f"  worker CPU {f['deep_cpu_ms']:.1f} ms a page")
    print(f"table page, gene prefix + regions + novel         : {ms(f['combined_ms'])}")
    print(f"TSV export, whole result : {f['export_rows']:,} rows in {f['export_s']:.2f} s = {rate:,.0f} rows/s", end="")
    print(f" (worker CPU {f['export_cpu_s']:.2f} s)")
    peer_rate = f["peer_all_rows"] / f["peer_all_s"]
    peer_all = f"{f['peer_all_rows']:,} records in {f['peer_all_s']:.2f} s = {peer_rate:,.0f}/s"
    print(f"  peer bcftools query, whole file : {peer_all}")
    print(f"TSV export, gene {f['top_gene']}: {f['gene_rows']:,} rows in {f['gene_export_s'] * 1000:.0f} ms")
    same = "yes" if f["same_rows"] else "NO"
    peer_gene = f"{f['peer_rows']:,} rows in {f['peer_gene_s'] * 1000:.0f} ms; same rows: {same}"
    print(f"  peer bcftools view -i + query   : {peer_gene}")
    goals = [
        ("page p95 <= 300 ms, gene filter", gene_p95 <= GOAL_PAGE_MS),
        ("page p95 <= 300 ms, deep offset", deep_p95 <= GOAL_PAGE_MS),
        ("TSV export >= 200,000 rows/s", rate >= GOAL_EXPORT_ROWS),
        ("worker peak RSS <= 300 MiB", f["rss_peak"] <= GOAL_RSS_MIB),
        ("gene export = bcftools rows", f["same_rows"]),
    ]
    if "pheno_ms" in f:  # not measured beside a baseline
        print(f"table page, phenotype filter ({len(f['pheno_ms'])} terms): {ms(f['pheno_ms'])}", end="")
        print(f"  worker CPU {f['pheno_cpu_ms']:.1f} ms a page")
        export_and_peer(f, "seizure", "phenotype HP:0001250", "bcftools view -i (2,040 genes) + query")
        print(f"table page, where=nearest_distance<=T ({args.requests} T)  : {ms(f['where_ms'])}")
        print(f"table page, sort=-nearest_distance, where=pos>X   : {ms(f['sort_ms'])}", end="")
        print(f"  worker CPU {f['sort_cpu_ms']:.1f} ms a page")
        print(
            f"  peer bcftools view -i 'POS>X' + query + sort by distance: {f['peer_sort_s'] * 1000:.0f} ms"
            f" (CPU {f['peer_sort_cpu_s'] * 1000:.0f} ms)"
        )
        export_and_peer(f, "pos", "where=pos<T", "bcftools view -i 'POS<T' + query")
        goals += [
            ("page p95 <= 300 ms, phenotype filter", percentile(f["pheno_ms"], 95) <= GOAL_PAGE_MS),
            ("phenotype export = bcftools rows", f["seizure_same"]),
            ("page p95 <= 300 ms, numeric condition", percentile(f["where_ms"], 95) <= GOAL_PAGE_MS),
            ("page p95 <= 300 ms, numeric sort", percentile(f["sort_ms"], 95) <= GOAL_PAGE_MS),
            ("numeric condition export = bcftools rows", f["pos_same"]),
        ]
    print(f"web worker peak RSS (VmHWM): {f['rss_peak']:.0f} MiB (after start {f['rss_start']:.0f} MiB)")
    for name, ok in goals:
        print(f"  goal {name}: {'met' if ok else 'NOT met'}")
    print(f"({rows_total:,} rows; 2 shared cores; moto server as S3; load average {os.getloadavg()[0]:.1f})")


def compare(gas: dict[str, Any], base: dict[str, Any], ref: str) -> None:
    """GAS's figure over the baseline's, for each figure both runs have (> 1: GAS takes more)."""
    print(f"-- ratio GAS / baseline ({ref}) (> 1: GAS takes more time, CPU or memory)")
    for key, value in gas.items():
        other = base.get(key)
        if isinstance(value, list) and other:
            p50, p95 = (percentile(value, q) / percentile(other, q) for q in (50, 95))
            print(f"  {key:24s} p50 {p50:5.2f}  p95 {p95:5.2f}")
        elif isinstance(value, float) and other:
            print(f"  {key:24s} {value / other:5.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
