"""The annotation databases a deployment offers, and what a job names.

A job's ``database`` (decision 80) is ``None`` for the genes-only database of its
``assembly`` (every job recorded before bundles, and every client that does not say), or
the name of a **bundle**: a gene model and its FASTA compiled by ``gas-annotation-db build
--name NAME`` into the annotation database directory (``GAS_ANNOTATION_DB_DIR``). What is
deployed is what that directory's bundle manifests say: the web lists them on its form, API
and CLI, the annotator serves them all from the one queue. Read on every call (a glob and
a few small JSON files), so a bundle built into the directory is offered without a restart.

Standard library only: the web and the CLI import it without the engine's dependencies.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gas.core.job_record import ASSEMBLIES, GENES_ONLY

# The engine's file layout (gas.annotator.engine.bundle / database): one schema at a time.
SCHEMA_VERSION = 2
COMPILED_FORMAT = 1  # the layout of an annotation source's compiled form (gas.annotator.engine.sources)


def compiled_files(file: str) -> tuple[str, str]:
    """An annotation source's compiled form and its manifest, beside its data file ``file``."""
    return f"{file}.gasc", f"{file}.gasc.json"


_MANIFEST = re.compile(rf"^gas-bundle-(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{{0,63}})-v{SCHEMA_VERSION}\.manifest\.json$")


@dataclass(frozen=True)
class DatabaseInfo:
    """One database a job can be annotated against."""

    name: str  # what a job's `database` holds; an assembly's name for the genes-only ones
    kind: Literal["genes", "bundle"]
    assembly: str  # the human assembly it is on; "" for a bundle of any other genome
    label: str  # what a form shows: "GRCh38 — gencode44 transcripts"
    sources: str  # "genes only", or the bundle's name and its sources' sha256

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "kind": self.kind,
            "assembly": self.assembly,
            "label": self.label,
            "sources": self.sources,
        }


def default_db_dir() -> Path:
    """The engine's own default (gas.annotator.engine.database.default_db_dir)."""
    env = os.environ.get("GAS_ANNOTATION_DB_DIR")
    return Path(env) if env else Path.home() / ".cache" / "gas" / "annotation-db"


def genes_only(assembly: str) -> DatabaseInfo:
    return DatabaseInfo(assembly, "genes", assembly, f"{assembly} — genes only", GENES_ONLY)


def database_sources(manifest: dict[str, Any] | None) -> str:
    """A bundle's name and its sources (its manifest), as the job page and exports name
    them; "genes only" for the genes-only databases (None)."""
    if manifest is None:
        return GENES_ONLY
    source = manifest.get("source", {})
    model, fasta = source.get("gene_model", {}), source.get("fasta", {})
    return (
        f"bundle {manifest.get('name')}: {model.get('format', '?').upper()} {model.get('file')} "
        f"(sha256 {model.get('sha256')}), FASTA {fasta.get('file')} (sha256 {fasta.get('sha256')})"
    )


def _bundle(manifest: dict[str, Any]) -> DatabaseInfo:
    name = str(manifest["name"])
    assembly = str(manifest.get("assembly") or "")
    model = manifest.get("source", {}).get("gene_model", {}).get("file", "")
    label = f"{assembly or 'other genome'} — {name} transcripts ({model})"
    return DatabaseInfo(name, "bundle", assembly, label, database_sources(manifest))


def deployed(db_dir: Path | None = None) -> list[DatabaseInfo]:
    """The genes-only databases (always offered: the annotator builds them at start), then
    the bundles whose manifests are in `db_dir`, by name. A bundle named like an assembly,
    or whose manifest cannot be read, is not offered (a build writes its manifest last)."""
    db_dir = db_dir or default_db_dir()
    found = [genes_only(a) for a in ASSEMBLIES]
    try:
        entries = sorted(os.listdir(db_dir))
    except OSError:
        return found
    for entry in entries:
        match = _MANIFEST.match(entry)
        if not match or match["name"] in ASSEMBLIES:
            continue
        try:
            manifest = json.loads((db_dir / entry).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("kind") == "bundle" and manifest.get("name") == match["name"]:
            found.append(_bundle(manifest))
    return found


def find(name: str, db_dir: Path | None = None) -> DatabaseInfo | None:
    """The deployed database of that name (an assembly's name: its genes-only one)."""
    return next((d for d in deployed(db_dir) if d.name == name), None)


def unknown_message(name: str, db_dir: Path | None = None) -> str:
    names = ", ".join(d.name for d in deployed(db_dir))
    return f"Unknown database {name!r}; this deployment has: {names}."
