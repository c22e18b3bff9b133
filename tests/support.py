"""Helpers shared by the tests (fixtures live in conftest.py). `tests/` and `local/` are
on sys.path through pytest's `pythonpath` option (pyproject.toml)."""

from __future__ import annotations

import json
import urllib.request

from devstack import ROOT, SAMPLES  # noqa: F401 - re-exported for the tests
from processes import BIN, free_port, spawn, stop, wait_http  # noqa: F401 - the one way to run processes


def sent_emails(moto_url: str) -> list[dict]:
    """Emails moto's SES has accepted, read through moto's own API."""
    with urllib.request.urlopen(f"{moto_url}/moto-api/data.json") as resp:
        return json.load(resp)["ses"].get("Message", [])
