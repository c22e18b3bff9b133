"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))

from devstack import BIN, free_port, wait_http  # noqa: E402,F401

SAMPLES = Path(os.environ.get("GAS_SAMPLE_VCF_DIR", ROOT.parent / "shared" / "data" / "vcf"))


def sent_emails(moto_url: str) -> list[dict]:
    """Emails moto's SES has accepted, read through moto's own API."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json") as resp:
        return json.load(resp)["ses"].get("Message", [])
