"""gas-annotate INPUT [-o DIR] [--assembly GRCh37|GRCh38 | --db BUNDLE] [--sources FILE] [--allow-assembly-mismatch]
[--no-parquet]"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Before numpy is imported: the engine calls no BLAS routine, and OpenBLAS starts a thread per
# core at load that spins a while (~40 ms of CPU of every gas-annotate run).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from gas.annotator.engine.allocator import tune_allocator  # noqa: E402
from gas.annotator.engine.annotate import annotate_vcf  # noqa: E402
from gas.annotator.engine.build import ensure_database  # noqa: E402
from gas.annotator.engine.database import ASSEMBLIES, default_db_dir, load_bundle  # noqa: E402
from gas.annotator.engine.reader import EngineLimits, VcfFormatError  # noqa: E402
from gas.annotator.engine.sources import SOURCES_ENV, SourceError, load_sources  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gas-annotate",
        description="Annotate a VCF with GENCODE genes, regions, consequences and known variants.",
    )
    parser.add_argument("input", type=Path, help="VCF 3.3 or 4.0-4.5, plain, gzip or bgzip")
    parser.add_argument("-o", "--out-dir", type=Path, default=None, help="output folder (default: next to the input)")
    parser.add_argument("--assembly", default="GRCh37", choices=ASSEMBLIES, help="default GRCh37 (genes only)")
    parser.add_argument(
        "--db", default=None, metavar="NAME", help="a bundle built by gas-annotation-db build --name NAME (transcripts)"
    )
    parser.add_argument("--db-dir", type=Path, default=None, help=f"database folder (default {default_db_dir()})")
    parser.add_argument(
        "--allow-assembly-mismatch",
        action="store_true",
        help="annotate even when the file looks like another assembly (no lift-over is done)",
    )
    parser.add_argument("--no-parquet", action="store_true", help="do not write <name>.variants.parquet")
    parser.add_argument(
        "--sources",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"annotation sources to add (YAML or JSON; default ${SOURCES_ENV} when set)",
    )
    parser.add_argument("--max-line-bytes", type=int, default=EngineLimits.max_line_bytes)
    parser.add_argument("--max-decompressed-bytes", type=int, default=EngineLimits.max_decompressed_bytes)
    args = parser.parse_args(argv)
    tune_allocator()  # this process is the engine's
    if not args.input.is_file():
        print(f"gas-annotate: {args.input}: no such file", file=sys.stderr)
        return 2
    try:
        db = load_bundle(args.db, args.db_dir) if args.db else ensure_database(args.assembly, args.db_dir)
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"gas-annotate: annotation database: {exc}", file=sys.stderr)
        return 3
    try:
        sources = load_sources(args.sources, compile_missing=True)  # built once, beside the file
    except SourceError as exc:
        print(f"gas-annotate: annotation sources: {exc}", file=sys.stderr)
        return 3
    try:
        result = annotate_vcf(
            args.input,
            args.out_dir,
            db,
            limits=EngineLimits(args.max_line_bytes, args.max_decompressed_bytes),
            allow_assembly_mismatch=args.allow_assembly_mismatch,
            variants_table=not args.no_parquet,
            sources=sources,
        )
    except VcfFormatError as exc:
        print(f"gas-annotate: {args.input.name}: {exc}", file=sys.stderr)
        return 1
    print(result.annotated_vcf)
    print(result.count_log)
    print(result.summary_json)
    if result.variants_parquet:
        print(result.variants_parquet)
    if result.genotypes_parquet:
        print(result.genotypes_parquet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
