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


def change_disagreements(
    fx: Any, pairs: Iterable[tuple[int, int, str, str]], batch: int = 20_000
) -> tuple[int, list[str], Counter[str]]:
    """The entries ``Effects.entries`` writes (gas_tx_entries, through gas_change_effect) for
    changes inside a transcript (transcript row, global start, REF, ALT: the minimal change, REF
    empty for an insertion) against the Python rules' (``Effects.one``): each pair's entry field
    for field, each change's pick (the least of its entries' pick keys, the rank of an entry's
    most severe term) and terms (its entries'). Returns (pairs compared, a description of each
    disagreement, the Python entries' terms counted)."""
    from gas.annotator.engine.effects import term_mask
    from gas.core.vocab import RANK

    row_of = {fx.tx_strings[i][0]: i for i in range(fx.tables.start.size)}
    by_change: dict[tuple[int, str, str], list[int]] = {}
    for i, s, ref, alt in pairs:
        by_change.setdefault((s, ref, alt), []).append(i)
    items = list(by_change.items())
    n, differ, terms = 0, [], Counter[str]()
    for lo in range(0, len(items), batch):
        chunk = items[lo : lo + batch]
        # a record whose minimal change is (s, ref, alt): an indel or delins behind a padding base
        records = [(s, r, a) if len(r) == len(a) else (s - 1, "A" + r, "A" + a) for (s, r, a), _ in chunk]
        got = fx.entries(changes_batch(records))
        raw, off, first = got.text.raw.tobytes().decode(), got.text.entry_off.tolist(), got.text.change_entry.tolist()
        for q, ((s, ref, alt), rows) in enumerate(chunk):
            entries = {f[6]: f for f in (raw[off[e] : off[e + 1]].split("|") for e in range(first[q], first[q + 1]))}
            allele = vep_allele(records[q][1], records[q][2])
            for i in rows:
                tx = fx._tx(i)
                rules, mine = fx.one(tx, 0, allele, s, ref, alt), entries.get(tx.tx_id)
                n += 1
                terms.update(rules.terms)
                if mine is None or mine[:21] + mine[22:] != rules.fields[:21] + rules.fields[22:]:
                    differ.append(f"{tx.tx_id} {s} {ref}>{alt}: C {mine} rules {rules.fields}")

            def key(f: list[str]) -> tuple[object, ...]:
                tx = fx._tx(row_of[f[6]])
                return (*tx.pick_head, RANK[f[1].split("&")[0]], *tx.pick_tail)

            picked = [f for f in entries.values() if f[21] == "1"]
            if [f[6] for f in picked] != [min(entries.values(), key=key)[6]]:
                differ.append(f"{s} {ref}>{alt}: pick {[f[6] for f in picked]}")
            if got.terms[q] != term_mask(t for f in entries.values() for t in f[1].split("&")):
                differ.append(f"{s} {ref}>{alt}: terms {got.terms[q]}")
    return n, differ, terms


def changes_batch(records: list[tuple[int, str, str]]) -> Any:
    """effects.changes_of of records (global position, REF, ALT column), through a block of
    their text as CsqStage passes it (upper-cased)."""
    import numpy as np

    from gas.annotator.engine import textops
    from gas.annotator.engine.effects import changes_of

    text = "".join(f"{r}\t{a}\t" for _, r, a in records).encode()
    u = textops.UPPER[np.frombuffer(text, dtype=np.uint8)]
    starts, at = [], 0
    for _, r, a in records:
        starts.append((at, len(r), at + len(r) + 1, len(a)))
        at += len(r) + len(a) + 2
    cols = [np.array([s[k] for s in starts], dtype=np.int64) for k in range(4)]
    return changes_of(u, np.array([g for g, _, _ in records], dtype=np.int64), *cols)


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
