"""Fixtures of the image tests: every image built (tools/images/build.py, cached by input
hash), the chart rendered with its dev values (the pod specs the images run under)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "chart"))

import chartlib  # noqa: E402
from runc_support import Rendered  # noqa: E402


def built_images() -> dict[str, dict]:
    """Build what is missing (`make test` built them already: then this only hashes inputs)."""
    proc = subprocess.run(
        ["python3", str(ROOT / "tools" / "images" / "build.py"), "--json"], capture_output=True, text=True
    )
    if proc.returncode != 0:  # a failed build fails the tests, never skips them
        pytest.fail(f"tools/images/build.py failed:\n{proc.stderr[-4000:]}")
    sys.stderr.write(proc.stderr)
    return {image["name"]: image for image in json.loads(proc.stdout)}


@pytest.fixture(scope="session")
def images() -> dict[str, dict]:
    return built_images()


@pytest.fixture(scope="session")
def rendered() -> Rendered:
    why = chartlib.install_tools()
    if why:
        pytest.fail(why)
    return Rendered(chartlib.objects(chartlib.render([ROOT / "k8s" / "values-dev.yaml"]).stdout))
