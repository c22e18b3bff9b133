"""A pytest plugin (``-p sanitized_kernels``): the engine calls the build of native.c named by
GAS_SANITIZED_KERNELS (AddressSanitizer and UBSan, built by test_native_sanitized.py) instead
of the package's _native.so. Loaded at start-up, before any test imports the engine."""

from __future__ import annotations

import os
from pathlib import Path

from gas.annotator.engine import textops

LIBRARY = Path(os.environ["GAS_SANITIZED_KERNELS"])
textops._NATIVE = textops.load_kernels(LIBRARY)


def pytest_report_header(config: object) -> str:
    return f"kernels: {textops._native()._name}"
