"""Helpers for the engine tests: parsing annotated VCF records, writing test VCFs."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from support import needs_bcftools  # noqa: F401 - re-exported for the engine tests

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def parse_info(info: str) -> dict[str, str | bool]:
    out: dict[str, str | bool] = {}
    for item in info.split(";"):
        key, eq, value = item.partition("=")
        out[key] = value if eq else True
    return out


def records(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        rows.append(
            {
                "chrom": f[0],
                "pos": int(f[1]),
                "id": f[2],
                "ref": f[3],
                "alt": f[4],
                "qual": f[5],
                "filter": f[6],
                "info": parse_info(f[7]),
                "rest": f[8:],
            }
        )
    return rows


def consequences(record: dict) -> dict[tuple[str, str], set[str]]:
    """CONSEQUENCE of a record as {(allele, gene): {terms}}."""
    out: dict[tuple[str, str], set[str]] = {}
    value = record["info"].get("CONSEQUENCE")
    if not isinstance(value, str):
        return out
    for entry in value.split(","):
        allele, gene, _gene_type, terms = entry.split("|")
        out.setdefault((allele, gene), set()).update(terms.split("&"))  # two gene rows may share a name
    return out


def bgzip(path: Path) -> Path:
    subprocess.run(["bgzip", "-f", str(path)], check=True)
    return path.with_name(path.name + ".gz")


def gzip_file(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data))
    return path


def run_cli_measured(args: list[str], timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run gas-annotate in a child process: (completed process, seconds, peak RSS in KiB).

    The child is started from a tiny launcher so its ru_maxrss is its own (Linux keeps the
    parent's maximum across fork)."""
    launcher = (
        "import os, subprocess, sys, time\n"
        "t0 = time.perf_counter()\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n"
        "out, err = p.communicate()\n"
        "ru = __import__('resource').getrusage(__import__('resource').RUSAGE_CHILDREN)\n"
        "sys.stdout.write(f'{time.perf_counter() - t0} {ru.ru_maxrss} {p.returncode}\\n')\n"
        "sys.stdout.write(out)\n"
        "sys.stderr.write(err)\n"
    )
    cmd = [sys.executable, "-c", launcher, sys.executable, "-m", "gas.annotator.engine.cli", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    first, _, rest = proc.stdout.partition("\n")
    seconds, rss, code = first.split()
    return subprocess.CompletedProcess(args, int(code), rest, proc.stderr), float(seconds), int(rss)


def change_disagreements(fx: Any, pairs: Iterable[tuple[int, int, str, str]]) -> tuple[int, list[str], Counter[str]]:
    """Effects.one of changes inside a transcript (transcript row, global start, REF, ALT: the
    minimal change, REF empty for an insertion) by the C kernel (gas_change_effect) and by the
    Python rules (``native=False``): (pairs compared, a description of each whose entries
    differ, the Python entries' terms counted)."""
    n, differ, terms = 0, [], Counter[str]()
    for i, s, ref, alt in pairs:
        tx = fx._tx(i)
        mine, rules = fx.one(tx, 0, alt, s, ref, alt), fx.one(tx, 0, alt, s, ref, alt, native=False)
        n += 1
        terms.update(rules.terms)
        if (mine.terms, mine.fields, mine.pick_key) != (rules.terms, rules.fields, rules.pick_key):
            differ.append(f"{tx.tx_id} {s} {ref}>{alt}: C {mine.fields} rules {rules.fields}")
    return n, differ, terms


def minimal_change(ref: str, alt: str) -> tuple[int, str, str]:
    """VEP's minimal form, the oracle of effects.changes_of: shared leading, then shared trailing
    bases removed (bases dropped at the start, REF, ALT)."""
    p = 0
    while p < min(len(ref), len(alt)) and ref[p] == alt[p]:
        p += 1
    r, a = ref[p:], alt[p:]
    q = 0
    while q < min(len(r), len(a)) and r[-1 - q] == a[-1 - q]:
        q += 1
    return p, r[: len(r) - q], a[: len(a) - q]


def vep_allele(ref: str, alt: str) -> str:
    """VEP's allele string: the first base shared by REF and ALT dropped when their lengths
    differ; '-' when nothing is left."""
    if len(ref) != len(alt) and ref[:1] == alt[:1]:
        alt = alt[1:]
    return alt or "-"
