"""Build ``gas/core/data/rsid_positions.bin``: each known rsID's position on GRCh37 and GRCh38.

The table lets ``gas.core.assembly.detect`` (standard library only: the web service uses it
without the databases) weigh rsIDs in column 3 as assembly evidence. It is made from the two
annotation databases' known variants and committed; ``tests/annotator/test_assembly.py``
checks it still equals what the databases give::

    python -m gas.annotator.engine.rsid_table [--db-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gas.annotator.engine.build import ensure_database
from gas.core.assembly import RSID_TABLE, encode_rsid_table


def rsid_positions(db_dir: Path | None = None) -> bytes:
    """The table's bytes: rsID number, chromosome (1-22, X=23, Y=24, MT=25), 1-based POS on each."""
    by_assembly = {}
    for assembly in ("GRCh37", "GRCh38"):
        db = ensure_database(assembly, db_dir)
        names = [name.removeprefix("chr") for name in db.contig_names]
        chrom_code = np.array([_CODES.get(name, 0) for name in names], dtype=np.uint8)
        ids = db.packed("known_id").tolist()
        gpos = db.arrays["known_pos"]
        rs = np.array([int(i[2:]) if i.startswith("rs") and i[2:].isdigit() else 0 for i in ids], dtype=np.uint32)
        cid = (gpos >> 32).astype(np.int64)
        by_assembly[assembly] = (rs, chrom_code[cid], (gpos & 0xFFFFFFFF).astype(np.uint32) + 1)
    rs37, chrom37, pos37 = by_assembly["GRCh37"]
    rs38, chrom38, pos38 = by_assembly["GRCh38"]
    numbers = np.union1d(rs37[rs37 > 0], rs38[rs38 > 0])
    chrom = np.zeros(numbers.size, dtype=np.uint8)
    p37 = np.zeros(numbers.size, dtype=np.uint32)
    p38 = np.zeros(numbers.size, dtype=np.uint32)
    for rs, c, p, out in ((rs38, chrom38, pos38, p38), (rs37, chrom37, pos37, p37)):
        keep = rs > 0
        at = np.searchsorted(numbers, rs[keep])
        out[at] = p[keep]
        chrom[at] = c[keep]  # GRCh37's chromosome wins where they differ
    return encode_rsid_table(numbers.tolist(), chrom.tolist(), p37.tolist(), p38.tolist())


_CODES = {**{str(i): i for i in range(1, 23)}, "X": 23, "Y": 24, "M": 25, "MT": 25}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gas.annotator.engine.rsid_table")
    parser.add_argument("--db-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RSID_TABLE)
    args = parser.parse_args(argv)
    args.out.write_bytes(rsid_positions(args.db_dir))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
