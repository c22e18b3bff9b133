from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chartlib  # noqa: E402


@pytest.fixture(scope="session")
def chart_tools():
    """helm + gas-k8s-validate, built by tools/install-helm.sh (cached in .cache/bin)."""
    why = chartlib.install_tools()
    if why:  # `make test` installs them first: a missing tool is a failure, not a skip
        pytest.fail(why)
    return chartlib


@pytest.fixture(scope="session")
def rendered(chart_tools):
    """The chart rendered with each values set: name -> manifest text."""
    return {name: chart_tools.render(files, minimal=False).stdout for name, files in chart_tools.VALUE_SETS.items()}
