"""Helpers for the benchmarks: the local stack and the site client, as the tests use them."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import statistics
import subprocess
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


def options(**defaults: float | str) -> argparse.Namespace:
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


def compile_bytecode() -> None:
    """Compile the Python modules this checkout runs (the .venv's packages, libs/core and every
    service), as the image does (UV_COMPILE_BYTECODE=1, docs/kubernetes.md). A ``uv sync`` .venv
    holds no bytecode, and with PYTHONDONTWRITEBYTECODE set (as in the image) every start would
    compile them again: ~0.15 s of CPU for numpy's and pyarrow's, ~0.05 s for GAS's own, that a
    figure would count and the image does not spend (baseline_dir's trees are compiled too, so
    a comparison is fair). Once per venv (~40 s); later runs only compare timestamps."""
    site = [p for p in sys.path if p.endswith("site-packages")]
    code = [ROOT / "libs" / "core" / "src", *sorted((ROOT / "services").glob("*/src"))]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *site, *map(str, code)], check=True)


def baseline_dir(ref: str, work: Path) -> Path:
    """The sources (libs/core and every service) of git revision ``ref``, exported once into
    ``work`` with its C kernels compiled (git archive has no build products; as hatch_build.py)
    and its modules to bytecode, for before/after figures in one run."""
    tree = work / f"baseline-{ref.replace('/', '_')}"
    if not tree.exists():
        part = tree.with_name(tree.name + ".part")
        subprocess.run(["rm", "-rf", str(part)], check=True)
        part.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "libs/core/src", "services"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(part)], input=archive, check=True)
        engine = part / "services" / "annotator" / "src" / "gas" / "annotator" / "engine"
        if (engine / "native.c").exists():
            cflags = ["-O3", "-std=c11", "-Wall", "-Wextra", "-fPIC", "-shared"]
            subprocess.run(["cc", *cflags, "-o", str(engine / "_native.so"), str(engine / "native.c")], check=True)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(part)], check=True)
        part.rename(tree)
    return tree


def baseline_env(ref: str, work: Path) -> dict[str, str]:
    """The environment that runs revision ``ref``'s code with this .venv's packages: its
    sources first on PYTHONPATH, so the ``gas`` namespace package finds its modules before
    this checkout's (the editable install's paths come after PYTHONPATH). The .venv's scripts
    (gas-web, gas-annotator, ...) then run the baseline's code."""
    tree = baseline_dir(ref, work)
    paths = [tree / "libs" / "core" / "src", *sorted((tree / "services").glob("*/src"))]
    return {"PYTHONPATH": os.pathsep.join(map(str, paths))}


def baseline_command(ref: str, python: str, work: Path) -> str:
    """A shell command running the engine of git revision ``ref``."""
    return f"PYTHONPATH={baseline_env(ref, work)['PYTHONPATH']} {python} -m gas.annotator.engine.cli"


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat), with ``children`` that
    of its children it waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            children += [int(p) for p in (task / "children").read_text().split()]
    return children


def children_cpu() -> float:
    """CPU seconds of this process's children it waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stack_cpu(stack: DevStack) -> float:
    """CPU seconds of every process of a local stack so far (web master and workers, moto,
    every queue worker), reaped children included."""
    total = 0.0
    for proc in stack.procs.values():
        with contextlib.suppress(FileNotFoundError):  # ended meanwhile
            for pid in [proc.pid, *child_pids(proc.pid)]:
                total += cpu_seconds(pid, children=True)
    return total
