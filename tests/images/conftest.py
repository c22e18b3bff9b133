"""Fixtures of the image tests: every image built (tools/images/build.py, cached by input
hash), the chart rendered with its dev values (the pod specs the images run under; no
API server there, so no deletion cost)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "chart"))

import chartlib  # noqa: E402
from images_support import built_images  # noqa: E402
from runc_support import Rendered  # noqa: E402


@pytest.fixture(scope="session")
def images() -> dict[str, dict]:
    return built_images()


@pytest.fixture(scope="session")
def rendered() -> Rendered:
    why = chartlib.install_tools()
    if why:
        pytest.fail(why)
    # No API server in the runc pod: the workers' deletion cost (which talks to one) is off
    # here; tests/operator and tests/cluster run it against real API servers.
    dev = chartlib.render([ROOT / "k8s" / "values-dev.yaml"], ["workerDefaults.podDeletionCost=false"], minimal=False)
    return Rendered(chartlib.objects(dev.stdout))
