"""Helpers for the benchmarks: the local stack and the site client, as the tests use them."""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))
SAMPLES = ROOT.parent / "shared" / "data" / "vcf"

from devstack import DevStack, free_port  # noqa: E402,F401
from siteclient import User, job_id_of  # noqa: E402,F401


def options(**defaults: float) -> argparse.Namespace:
    """The command line's `--name N` options, one for each default (`_` written `-`), read as
    the default's type."""
    parser = argparse.ArgumentParser()
    for name, default in defaults.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    return parser.parse_args()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(values: list[float]) -> str:
    return (
        f"n={len(values)} median={statistics.median(values):.3f}s "
        f"p95={percentile(values, 95):.3f}s min={min(values):.3f}s max={max(values):.3f}s"
    )


@contextmanager
def bench_stack(**env: str) -> Iterator[DevStack]:
    """A local stack on free ports (quiet: warnings only), stopped on the way out."""
    with tempfile.TemporaryDirectory() as logs:
        stack = DevStack(
            web_port=free_port(),
            moto_port=free_port(),
            prefix=f"bench{uuid.uuid4().hex[:6]}",
            log_dir=Path(logs),
            extra_env={"GAS_LOG_LEVEL": "WARNING", **env},
        )
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


def make_token(user: User) -> str:
    """An API token (read, submit) made on the user's profile page, as a user does."""
    resp = user.http.post(
        user.base + "/profile/tokens",
        data={"csrf_token": user.csrf_token("/profile"), "name": "bench", "scopes": ["read", "submit"], "days": "7"},
        timeout=30,
    )
    match = re.search(r'id="new-token">([^<]+)<', resp.text)
    assert match, resp.text[:500]
    return match.group(1)


def moto_client(moto_url: str, service: str) -> Any:
    """A boto3 client on a local moto server."""
    import boto3

    creds = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return boto3.client(service, endpoint_url=moto_url, region_name="us-east-1", **creds)
