"""GAS annotation engine: GENCODE genes, regions, consequences and known variants for VCF files.

The names below are imported on first use, so ``gas.core.assembly`` (standard
library only) can be imported without numpy or pyarrow, e.g. by the web service.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AnnotationDatabase": "gas.annotator.engine.database",
    "ensure_database": "gas.annotator.engine.build",
    "export_tracks": "gas.annotator.engine.database",
    "EngineLimits": "gas.annotator.engine.reader",
    "VcfFormatError": "gas.annotator.engine.reader",
    "AnnotationResult": "gas.annotator.engine.annotate",
    "AssemblyMismatchError": "gas.annotator.engine.annotate",
    "annotate_vcf": "gas.annotator.engine.annotate",
    "SourceError": "gas.annotator.engine.sources",
    "Sources": "gas.annotator.engine.sources",
    "load_sources": "gas.annotator.engine.sources",
}
__all__ = [
    "AnnotationDatabase",
    "AnnotationResult",
    "AssemblyMismatchError",
    "EngineLimits",
    "SourceError",
    "Sources",
    "VcfFormatError",
    "annotate_vcf",
    "ensure_database",
    "export_tracks",
    "load_sources",
]

if TYPE_CHECKING:
    from gas.annotator.engine.annotate import AnnotationResult, AssemblyMismatchError, annotate_vcf
    from gas.annotator.engine.build import ensure_database
    from gas.annotator.engine.database import AnnotationDatabase, export_tracks
    from gas.annotator.engine.reader import EngineLimits, VcfFormatError
    from gas.annotator.engine.sources import SourceError, Sources, load_sources


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
