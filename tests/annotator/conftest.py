"""Shared fixtures: the databases are built once (cached in GAS_ANNOTATION_DB_DIR or ~/.cache)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from engine_support import HEADER, records
from support import SAMPLES

from gas.annotator.engine import AnnotationResult, annotate_vcf, ensure_database
from gas.annotator.engine.database import AnnotationDatabase, default_db_dir


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def db_dir() -> Path:
    return default_db_dir()


@pytest.fixture(scope="session")
def db(db_dir: Path) -> AnnotationDatabase:
    return ensure_database("GRCh37", db_dir)


@pytest.fixture(scope="session")
def db38(db_dir: Path) -> AnnotationDatabase:
    return ensure_database("GRCh38", db_dir)


@pytest.fixture
def annotate(tmp_path: Path, db: AnnotationDatabase) -> Callable[..., tuple[AnnotationResult, list[dict]]]:
    """Annotate VCF text (data lines after a minimal header) and return the result and records."""

    def run(body: str, header: str = HEADER, name: str = "case.vcf", **options) -> tuple[AnnotationResult, list[dict]]:
        path = tmp_path / name
        path.write_text(header + body)
        result = annotate_vcf(path, tmp_path / "out", db, **options)
        return result, records(result.annotated_vcf)

    return run
