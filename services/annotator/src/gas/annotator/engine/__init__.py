"""GAS annotation engine: GENCODE genes, regions and known variants for VCF files."""

from gas.annotator.engine.database import AnnotationDatabase, ensure_database, export_tracks
from gas.annotator.engine.vcf import AnnotationResult, VcfFormatError, annotate_vcf

__all__ = [
    "AnnotationDatabase",
    "AnnotationResult",
    "VcfFormatError",
    "annotate_vcf",
    "ensure_database",
    "export_tracks",
]
