"""Helpers for the benchmarks: the local stack and the site client, as the tests use them."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
SAMPLES = ROOT.parent / "shared" / "data" / "vcf"

from devstack import DevStack, free_port  # noqa: E402,F401
from siteclient import User, job_id_of  # noqa: E402,F401


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(values: list[float]) -> str:
    return (
        f"n={len(values)} median={statistics.median(values):.3f}s "
        f"p95={percentile(values, 95):.3f}s min={min(values):.3f}s max={max(values):.3f}s"
    )
