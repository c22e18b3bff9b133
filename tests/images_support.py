"""The images every container test runs: built (or found cached) by tools/images/build.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import ROOT


def built_images() -> dict[str, dict]:
    """name -> manifest entry (ref, archive, size, build time). `make test` built them already:
    then this only hashes the inputs. A failed build fails the caller, never skips it."""
    proc = subprocess.run(
        ["python3", str(ROOT / "tools" / "images" / "build.py"), "--json"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.fail(f"tools/images/build.py failed:\n{proc.stderr[-4000:]}")
    sys.stderr.write(proc.stderr)
    return {image["name"]: image for image in json.loads(proc.stdout)}
