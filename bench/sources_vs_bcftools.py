"""Benchmark: gas-annotate --sources against bcftools annotate on the same source files.

    .venv/bin/python bench/sources_vs_bcftools.py [--variants 1000000] [--source-records 10000000]
        [--intervals 100000] [--repeats 3] [--workdir DIR] [--baseline-ref REF --baseline-python PY]

Issue 25: 1M input variants against a gnomAD-like VCF source of 10M records and a BED of 100k
intervals. Generated once (cached in ``--workdir``), deterministic:
  * the input: ``annotate_vs_bcftools.make_vcf`` (known GRCh37 sites and shifted copies),
    bgzipped and tabix-indexed (``bcftools annotate -a`` reads the input by index; GAS reads
    the same .vcf.gz);
  * the VCF source: ten records per input variant (positions POS+0..POS+9, sorted): at POS the
    input's own allele in a multi-allelic record (first or second ALT) with an insertion beside
    it, elsewhere SNVs (some multi-allelic), deletions and insertions; ``AF`` is ``Number=A``;
  * the BED: non-overlapping intervals (100 to 3,000 bases) around random input variants, a
    name each.
The sources are compiled (decision 126) before anything is timed, their build time and size
printed. Then, interleaved and ``--repeats`` times each:
  * gas-annotate --sources (AF copied as AF, the BED's names as PANEL), with and without the
    Parquet table (the whole job: gene-level annotation too);
  * bcftools annotate -a src.vcf.gz -c INFO/AF | bcftools annotate -a bed.gz
    -c CHROM,FROM,TO,INFO/PANEL -h hdr (uncompressed BCF between the two, VCF out);
  * optionally a baseline engine's gas-annotate --sources (with the table): ``--baseline-ref``
    names a git revision exported by ``_common.baseline_dir`` and run with ``--baseline-python``
    (default: this interpreter); its annotated VCF and table must equal this engine's.
It prints the median wall time, CPU time (user + system of every process), peak RSS (the
largest process) and the throughput ratio against bcftools, and compares AF and PANEL of every
record of the two outputs.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import baseline_command  # noqa: E402
from annotate_vs_bcftools import make_vcf, time_commands  # noqa: E402

from gas.annotator.engine.build import ensure_database  # noqa: E402
from gas.annotator.engine.sources import load_sources  # noqa: E402
from gas.core.databases import compiled_files  # noqa: E402

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
PANEL_HEADER = '##INFO=<ID=PANEL,Number=.,Type=String,Description="Names of the panel regions overlapping the REF">\n'


def sort_vcf(path: Path) -> None:
    """Sort the data lines by contig (header order) and position: make_vcf writes its shifted
    copies one after the other, and an indexed (tabix) input must be sorted."""
    header, rows = [], []
    order: dict[str, int] = {}
    with open(path) as fh:
        for line in fh:
            if line.startswith("#"):
                header.append(line)
                if line.startswith("##contig=<ID="):
                    order[line[13:].split(",", 1)[0]] = len(order)
            else:
                chrom, pos, _ = line.split("\t", 2)
                rows.append((order[chrom], int(pos), line))
    rows.sort(key=lambda r: (r[0], r[1]))
    with open(path, "w") as out:
        out.writelines(header)
        out.writelines(r[2] for r in rows)


def read_input(path: Path) -> tuple[np.ndarray, np.ndarray, list[str], list[str], list[str]]:
    """(contig index, POS, contig names, REF, ALT) of the input's records."""
    names: dict[str, int] = {}
    cid, pos, ref, alt = [], [], [], []
    with open(path) as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            c, p, _, r, a, _ = line.split("\t", 5)
            cid.append(names.setdefault(c, len(names)))
            pos.append(int(p))
            ref.append(r)
            alt.append(a)
    return np.array(cid, dtype=np.int64), np.array(pos, dtype=np.int64), list(names), ref, alt


def write_lines(out: Any, columns: list[Any]) -> None:
    """Tab-joined rows, one per line, written from the joined array's buffer."""
    line = pc.binary_join_element_wise(*columns, "\t")
    line = pc.binary_join_element_wise(line, "", "\n")
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32, count=len(line) + 1, offset=line.offset * 4)
    out.write(memoryview(line.buffers()[2])[offsets[0] : offsets[-1]])


def make_source(path: Path, n_records: int, cid: np.ndarray, pos: np.ndarray, names: list[str],
                ref: list[str], alt: list[str], lengths: dict[str, int]) -> None:  # fmt: skip
    """The gnomAD-like VCF source (plain text; bgzipped and indexed by the caller)."""
    rng = np.random.default_rng(25)
    per = max(1, -(-n_records // pos.size))
    letters = pa.array(["A", "C", "G", "T"])
    af_text = pa.array([f"{k / 10000:.4g}" for k in range(1, 10000)])
    ac_text = pa.array([str(k) for k in range(1, 1000)])
    in_ref, in_alt = pa.array(ref, pa.string()), pa.array(alt, pa.string())
    with open(path, "wb") as out:
        out.write(b"##fileformat=VCFv4.2\n")
        out.write(b'##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency">\n')
        out.write(b'##INFO=<ID=AC,Number=A,Type=Integer,Description="Alternate allele count">\n')
        for name in names:
            out.write(f"##contig=<ID={name},length={lengths[name]}>\n".encode())
        out.write(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        out.flush()
        written = 0
        for c in range(len(names)):  # per contig, sorted by position
            mine = np.flatnonzero(cid == c)
            if not mine.size or written >= n_records:
                continue
            k = min(per, -(-(n_records - written) // mine.size))
            d = np.tile(np.arange(k, dtype=np.int64), mine.size)
            owner = np.repeat(mine, k)
            p = pos[owner] + d
            order = np.argsort(p, kind="stable")
            p, d, owner = p[order], d[order], owner[order]
            m = p.size
            # Bases: b1 the REF, b2 another, b3 a third (all distinct).
            i1 = rng.integers(0, 4, size=m)
            i2 = (i1 + 1 + rng.integers(0, 3, size=m)) % 4
            i3 = np.where((i2 + 1) % 4 != i1, (i2 + 1) % 4, (i2 + 2) % 4)
            b1, b2, b3 = (pc.take(letters, pa.array(i)) for i in (i1, i2, i3))
            kind = rng.integers(0, 10, size=m)  # 0-4 SNV, 5 two SNVs, 6-7 deletion, 8-9 insertion
            deletion = pa.array((kind == 6) | (kind == 7))
            refs = pc.if_else(deletion, pc.binary_join_element_wise(b1, b2, ""), b1)
            alts = pc.if_else(
                deletion,
                b1,
                pc.if_else(
                    pa.array(kind == 5),
                    pc.binary_join_element_wise(b2, b3, ","),
                    pc.if_else(
                        pa.array(kind == 8),
                        pc.binary_join_element_wise(b1, b2, ""),
                        pc.if_else(pa.array(kind == 9), pc.binary_join_element_wise(b1, b2, b3, ""), b2),
                    ),
                ),
            )
            two = kind == 5
            # At the input's POS: its allele in a multi-allelic record, first or second ALT.
            at = d == 0
            mine_ref, mine_alt = pc.take(in_ref, pa.array(owner)), pc.take(in_alt, pa.array(owner))
            extra = pc.binary_join_element_wise(mine_ref, "GT", "")
            first = pa.array(rng.integers(0, 2, size=m).astype(bool))
            joined = pc.if_else(
                first,
                pc.binary_join_element_wise(mine_alt, extra, ","),
                pc.binary_join_element_wise(extra, mine_alt, ","),
            )
            refs = pc.if_else(pa.array(at), mine_ref, refs)
            alts = pc.if_else(pa.array(at), joined, alts)
            two = pa.array(two | at)
            af = pc.if_else(
                two,
                pc.binary_join_element_wise(
                    pc.take(af_text, pa.array(rng.integers(0, len(af_text), size=m))),
                    pc.take(af_text, pa.array(rng.integers(0, len(af_text), size=m))),
                    ",",
                ),
                pc.take(af_text, pa.array(rng.integers(0, len(af_text), size=m))),
            )
            ac1 = pc.take(ac_text, pa.array(rng.integers(0, len(ac_text), size=m)))
            ac = pc.if_else(two, pc.binary_join_element_wise(ac1, ac1, ","), ac1)
            info = pc.binary_join_element_wise("AF=", af, ";AC=", ac, "")
            n = m
            write_lines(
                out,
                [
                    pa.array(np.full(n, names[c], dtype=object), pa.string()),
                    pc.cast(pa.array(p), pa.string()),
                    pa.array(np.full(n, ".", dtype=object), pa.string()),
                    refs,
                    alts,
                    pa.array(np.full(n, ".", dtype=object), pa.string()),
                    pa.array(np.full(n, "PASS", dtype=object), pa.string()),
                    info,
                ],
            )
            written += m


def make_bed(path: Path, n: int, cid: np.ndarray, pos: np.ndarray, names: list[str]) -> None:
    """Non-overlapping intervals around random input variants, sorted, one name each."""
    rng = np.random.default_rng(26)
    pick = np.sort(rng.choice(pos.size, size=min(n, pos.size), replace=False))
    c, p = cid[pick], pos[pick]
    start = np.maximum(0, p - rng.integers(0, 1500, size=pick.size))
    end = start + rng.integers(100, 3000, size=pick.size)
    order = np.lexsort((start, c))
    c, start, end = c[order], start[order], end[order]
    same = np.append(c[1:] == c[:-1], False)
    end = np.where(same, np.minimum(end, np.append(start[1:], 0)), end)  # up to the next start
    keep = end > start
    with open(path, "w") as out:
        for i, (ci, s, e) in enumerate(zip(c[keep].tolist(), start[keep].tolist(), end[keep].tolist(), strict=True)):
            out.write(f"{names[ci]}\t{s}\t{e}\tregion{i}\n")


def prepare(work: Path, n_variants: int, n_records: int, n_intervals: int) -> dict[str, Path]:
    db = ensure_database("GRCh37")
    lengths = {db.contig_name(i, "plain"): int(db.arrays["contig_lengths"][i]) for i in range(len(db.contig_names))}
    vcf = work / f"input_{n_variants}.vcf"
    files = {
        "input": work / f"input_{n_variants}.vcf.gz",
        "source": work / f"source_{n_records}.vcf.gz",
        "bed": work / f"panel_{n_intervals}.bed.gz",
    }
    if all(p.exists() for p in files.values()):
        return files
    t0 = time.perf_counter()
    if not vcf.exists():
        make_vcf(db, n_variants, vcf)
        sort_vcf(vcf)
    cid, pos, names, ref, alt = read_input(vcf)
    if not files["input"].exists():
        subprocess.run(f"bgzip -c {vcf} > {files['input']}.tmp && mv {files['input']}.tmp {files['input']}",
                       shell=True, check=True)  # fmt: skip
        subprocess.run(["tabix", "-f", "-p", "vcf", str(files["input"])], check=True)
    if not files["source"].exists():
        plain = work / f"source_{n_records}.vcf"
        make_source(plain, n_records, cid, pos, names, ref, alt, lengths)
        subprocess.run(["bgzip", "-f", "-@", "2", str(plain)], check=True)
        subprocess.run(["tabix", "-f", "-p", "vcf", str(files["source"])], check=True)
    if not files["bed"].exists():
        plain = work / f"panel_{n_intervals}.bed"
        make_bed(plain, n_intervals, cid, pos, names)
        subprocess.run(["bgzip", "-f", str(plain)], check=True)
        subprocess.run(["tabix", "-f", "-p", "bed", str(files["bed"])], check=True)
    print(f"generated inputs in {work} in {time.perf_counter() - t0:.1f}s")
    return files


def info_values(path: Path, keys: tuple[str, ...]) -> list[tuple[str | None, ...]]:
    """Per data line of a VCF, the values of the INFO ``keys`` (None when absent)."""
    out = []
    with open(path) as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            info = line.rstrip("\n").split("\t", 8)[7]
            items: dict[str, str] = {}
            for kv in info.split(";"):
                key, _, value = kv.partition("=")
                items[key] = value
            out.append(tuple(items.get(k) for k in keys))
    return out


def compare(gas_vcf: Path, bcf_vcf: Path) -> None:
    gas = info_values(gas_vcf, ("AF", "PANEL"))
    bcf = info_values(bcf_vcf, ("AF", "PANEL"))
    if len(gas) != len(bcf):
        print(f"!! record counts differ: gas {len(gas)}, bcftools {len(bcf)}")
        return
    for k, name in enumerate(("AF", "PANEL")):
        both = sum(1 for g, b in zip(gas, bcf, strict=True) if g[k] is not None and b[k] is not None)
        same = sum(1 for g, b in zip(gas, bcf, strict=True) if g[k] == b[k])
        only_gas = sum(1 for g, b in zip(gas, bcf, strict=True) if g[k] is not None and b[k] is None)
        only_bcf = sum(1 for g, b in zip(gas, bcf, strict=True) if g[k] is None and b[k] is not None)
        print(
            f"{name}: {len(gas):,} records, equal {same:,}, set in both {both:,}, "
            f"GAS only {only_gas:,}, bcftools only {only_bcf:,}, differing {len(gas) - same:,}"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--source-records", type=int, default=10_000_000)
    parser.add_argument("--intervals", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-compare", action="store_true", help="skip the AF/PANEL comparison with bcftools")
    parser.add_argument("--baseline-ref", default=None, help="git revision of a baseline engine (e.g. main)")
    parser.add_argument("--baseline-python", default=None, help="interpreter with the baseline's dependencies")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gas-sources-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    files = prepare(work, args.variants, args.source_records, args.intervals)
    spec = work / "sources.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {"name": "gnomadlike", "kind": "vcf", "path": str(files["source"]), "version": "bench",
                     "fields": {"AF": "AF"}},
                    {"name": "panel", "kind": "bed", "path": str(files["bed"]), "version": "bench",
                     "fields": {"name": "PANEL"}},
                ]
            }
        )
    )  # fmt: skip
    # The sources' compiled forms (decision 126), built once here so that no timed run builds them.
    for source in load_sources(spec, compile_missing=True).sources:
        manifest = json.loads(source.path.with_name(compiled_files(source.path.name)[1]).read_text())
        print(
            f"compiled form of {source.name}: {manifest['size'] / 2**20:,.1f} MiB, {manifest['entries']:,} entries "
            f"from {manifest['rows']:,} rows, built in {manifest['build_seconds']} s"
        )
    hdr = work / "panel.hdr"
    hdr.write_text(PANEL_HEADER)
    gas = str(Path(sys.executable).parent / "gas-annotate")
    stem = files["input"].name.removesuffix(".vcf.gz")
    gas_cmd = f"{gas} {files['input']} --assembly GRCh37 --sources {spec}"
    commands = {
        "gas-annotate --sources": f"{gas_cmd} -o {work / 'gas'} > /dev/null",
        "gas-annotate --sources --no-parquet": f"{gas_cmd} -o {work / 'gas-np'} --no-parquet > /dev/null",
        "bcftools annotate x2": (
            f"bcftools annotate -a {files['source']} -c INFO/AF -Ou {files['input']}"
            f" | bcftools annotate -a {files['bed']} -c CHROM,FROM,TO,INFO/PANEL -h {hdr} -Ov -o {work / 'bcf.vcf'}"
        ),
    }
    if args.baseline_ref:
        base = baseline_command(args.baseline_ref, args.baseline_python or sys.executable, work)
        commands[f"baseline ({args.baseline_ref}) --sources"] = (
            f"{base} {files['input']} --assembly GRCh37 --sources {spec} -o {work / 'base'} > /dev/null"
        )
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
        f"{args.variants:,} variants, {args.source_records:,} source records, {args.intervals:,} intervals"
    )
    time_commands(commands, args.repeats, args.variants, peer="bcftools annotate x2")
    if not args.skip_compare:
        compare(work / "gas" / f"{stem}.annot.vcf", work / "bcf.vcf")
    if args.baseline_ref:
        same_vcf = filecmp.cmp(work / "gas" / f"{stem}.annot.vcf", work / "base" / f"{stem}.annot.vcf", shallow=False)
        tables = [pq.read_table(work / d / f"{stem}.variants.parquet") for d in ("gas", "base")]
        print(
            f"against {args.baseline_ref}: annotated VCF byte-identical {same_vcf}, "
            f"table equal {tables[0].equals(tables[1])} ({tables[0].num_rows:,} rows)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
