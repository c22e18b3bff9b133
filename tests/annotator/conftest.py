"""Shared fixtures: the GRCh37 database is built once (cached in GAS_ANNOTATION_DB_DIR or ~/.cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import SAMPLES

from gas.annotator.engine import annotate_vcf, ensure_database
from gas.annotator.engine.database import default_db_dir

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def db_dir() -> Path:
    return default_db_dir()


@pytest.fixture(scope="session")
def db(db_dir):
    return ensure_database("GRCh37", db_dir)


def parse_info(info: str) -> dict[str, str]:
    out = {}
    for item in info.split(";"):
        key, _, value = item.partition("=")
        out[key] = value if _ else True
    return out


def records(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        rows.append({"chrom": f[0], "pos": int(f[1]), "id": f[2], "ref": f[3], "alt": f[4], "info": parse_info(f[7])})
    return rows


@pytest.fixture
def annotate(tmp_path, db):
    """Annotate VCF text (data lines after a minimal header) and return the records."""

    def run(body: str, header: str = HEADER, name: str = "case.vcf"):
        path = tmp_path / name
        path.write_text(header + body)
        result = annotate_vcf(path, tmp_path / "out", db)
        return result, records(result.annotated_vcf)

    return run
