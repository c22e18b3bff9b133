"""The kernels' tests and the engine tests that call them, run against native.c built with
AddressSanitizer and UBSan: an out-of-bounds read or write, a use after free or undefined
behaviour in the C code aborts the run with the sanitizer's report, where the normal build
would return wrong bytes or crash later (docs/annotation-engine.md, "Compiled kernels").

ASan's runtime must be the first library of the process, so the tests run in a Python started
with it preloaded (LD_PRELOAD); detect_leaks=0, as CPython keeps its objects at exit by design.
Tests that measure the process's memory are left out: ASan's shadow memory counts in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

import gas.annotator.engine

NATIVE_C = Path(gas.annotator.engine.__file__).with_name("native.c")
CC = os.environ.get("CC", "cc")
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]
TESTS = [
    "tests/annotator/test_native_kernels.py",
    "tests/annotator/test_annotate.py",
    "tests/annotator/test_formats.py",
    "tests/annotator/test_bad_input.py",
    "tests/annotator/test_sources.py",
    "tests/annotator/test_parquet_writer.py",
]


def _runtime() -> str:
    path = subprocess.run([CC, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(path):  # cc prints the bare name when it has no such file
        pytest.fail(f"{CC} has no AddressSanitizer runtime (Debian: libasan8, a dependency of gcc)")
    return path


def test_the_kernels_pass_their_tests_under_address_and_undefined_behaviour_sanitizers(tmp_path):
    library = tmp_path / "_native_sanitized.so"
    build = [CC, "-O1", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", *SANITIZE]
    subprocess.run([*build, "-o", str(library), str(NATIVE_C)], check=True)
    env = {
        **os.environ,
        "LD_PRELOAD": _runtime(),
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=86",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "GAS_SANITIZED_KERNELS": str(library),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        # --capture=sys: the sanitizers write their report to file descriptor 2 as the
        # process ends, which pytest's default capture (of the descriptors) would swallow
        [sys.executable, "-m", "pytest", "-p", "sanitized_kernels", "-p", "no:cacheprovider", "-x",
         "--capture=sys", "-k", "not memory", *TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert f"kernels: {library}" in out, out[-3000:]  # the sanitized build, not the package's
    report = [line for line in out.splitlines() if "Sanitizer" in line or "runtime error" in line]
    assert not report, out[out.find(report[0]) :][:6000]
    assert proc.returncode == 0, out[-3000:]
    assert " passed" in out.splitlines()[-1] and " failed" not in out.splitlines()[-1]
