"""gas-annotation-db: build, verify and export annotation databases and bundles.

The command line of the database format (database.py) and of its two builds (build.py for the
genes-only databases, bundle.py for a gene model + FASTA); kept apart from the format so that
loading a database never imports a build.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gas.annotator.engine.build import build_database, ensure_database
from gas.annotator.engine.bundle import build_bundle
from gas.annotator.engine.database import (
    default_db_dir,
    export_tracks,
    load_bundle,
    load_database,
    normalise_assembly,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gas-annotation-db", description="Build and check GAS annotation databases.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("build", "build (if needed) and print the database path; with --name, compile a bundle"),
        ("verify", "recompute the sha256 and compare it with the manifest"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument(
            "--assembly", default=None, help="GRCh37 (default) or GRCh38; a bundle: the human assembly it is on, if any"
        )
        p.add_argument(
            "--db-dir", type=Path, default=None, help="default: $GAS_ANNOTATION_DB_DIR or ~/.cache/gas/annotation-db"
        )
        p.add_argument("--name", default=None, help="a bundle's name (gene model + FASTA: docs/annotation-engine.md)")
        if name == "build":
            p.add_argument("--force", action="store_true", help="rebuild even if a valid database exists")
            model = p.add_mutually_exclusive_group()
            model.add_argument("--gff3", type=Path, help="Ensembl GFF3 gene model (plain, gzip or BGZF)")
            model.add_argument("--gtf", type=Path, help="GENCODE GTF gene model (plain, gzip or BGZF)")
            p.add_argument("--fasta", type=Path, help="the genome's FASTA (plain, gzip or BGZF)")
    p = sub.add_parser("export", help="export bcftools-ready tracks")
    p.add_argument("--assembly", default="GRCh37")
    p.add_argument("--db-dir", type=Path, default=None)
    p.add_argument("--style", choices=("plain", "chr"), default="plain")
    p.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "build" and args.name:
            if args.fasta is None or (args.gff3 is None and args.gtf is None):
                parser.error("a bundle needs --fasta and one of --gff3 / --gtf")
            assembly = normalise_assembly(args.assembly) if args.assembly else None
            print(
                build_bundle(
                    args.name,
                    fasta=args.fasta,
                    gff3=args.gff3,
                    gtf=args.gtf,
                    assembly=assembly,
                    db_dir=args.db_dir or default_db_dir(),
                )
            )
        elif args.command == "build":
            if args.gff3 or args.gtf or args.fasta:
                parser.error("--gff3/--gtf/--fasta build a bundle: give it a --name")
            print(build_database(args.assembly or "GRCh37", args.db_dir, force=args.force))
        elif args.command == "verify" and args.name:
            db = load_bundle(args.name, args.db_dir, verify=True)
            print(f"{db.path} ok sha256={db.sha256}")
        elif args.command == "verify":
            assembly = normalise_assembly(args.assembly or "GRCh37")
            db = load_database(assembly, args.db_dir or default_db_dir(), verify=True)
            print(f"{db.path} ok sha256={db.sha256}")
        else:
            db = ensure_database(args.assembly, args.db_dir)
            for key, path in export_tracks(db, args.out_dir, args.style).items():
                print(f"{key}\t{path}")
    except (RuntimeError, FileNotFoundError, ValueError, OSError) as exc:
        # GeneModelError is a ValueError: its text is FILE:LINE: reason.
        print(f"gas-annotation-db: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
