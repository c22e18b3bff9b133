"""gas-annotate INPUT [-o DIR] [--assembly GRCh37|GRCh38]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gas.annotator.engine.database import ASSEMBLIES, default_db_dir, ensure_database
from gas.annotator.engine.vcf import VcfFormatError, annotate_vcf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gas-annotate", description="Annotate a VCF with GENCODE genes, regions and known variants."
    )
    parser.add_argument("input", type=Path, help="VCF 4.0-4.3, plain, gzip or bgzip")
    parser.add_argument("-o", "--out-dir", type=Path, default=None, help="output folder (default: next to the input)")
    parser.add_argument("--assembly", default="GRCh37", choices=ASSEMBLIES, help="default GRCh37")
    parser.add_argument("--db-dir", type=Path, default=None, help=f"database folder (default {default_db_dir()})")
    args = parser.parse_args(argv)
    if not args.input.is_file():
        print(f"gas-annotate: {args.input}: no such file", file=sys.stderr)
        return 2
    try:
        db = ensure_database(args.assembly, args.db_dir)
    except (RuntimeError, OSError) as exc:
        print(f"gas-annotate: annotation database: {exc}", file=sys.stderr)
        return 3
    try:
        result = annotate_vcf(args.input, args.out_dir, db)
    except VcfFormatError as exc:
        print(f"gas-annotate: {args.input.name}: {exc}", file=sys.stderr)
        return 1
    print(result.annotated_vcf)
    print(result.count_log)
    print(result.summary_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
