"""The engine's compiled kernels are built by the package itself (services/annotator/hatch_build.py):
the wheel carries _native.so and a platform tag, the editable install (uv sync) has it next to
native.c, an edit to the C file or the hook re-syncs, and a missing compiler is named."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

from support import ROOT

import gas.annotator.engine

ANNOTATOR = ROOT / "services" / "annotator"
UV = shutil.which("uv") or str(ROOT / ".venv" / "bin" / "uv")


def build_wheel(out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [UV, "build", "--wheel", "--package", "gas-annotator", "-o", str(out)],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_wheel_carries_the_library_and_a_platform_tag(tmp_path):
    proc = build_wheel(tmp_path)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("gas_annotator-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        assert "gas/annotator/engine/_native.so" in whl.namelist()
        (info,) = [n for n in whl.namelist() if n.endswith(".dist-info/WHEEL")]
        metadata = whl.read(info).decode()
        whl.extract("gas/annotator/engine/_native.so", tmp_path / "x")
    tags = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Tag: ")]
    assert tags and "py3-none-any" not in tags and not wheel.name.endswith("-py3-none-any.whl"), metadata
    assert "Root-Is-Purelib: false" in metadata
    # a ctypes library for this platform: loads, and exports the kernel textops.py calls
    library = ctypes.CDLL(str(tmp_path / "x/gas/annotator/engine/_native.so"))
    assert library.gas_gather


def test_a_missing_compiler_fails_the_build_naming_it(tmp_path):
    proc = build_wheel(tmp_path, CC="gas-no-such-cc")
    assert proc.returncode != 0
    assert "no C compiler 'gas-no-such-cc'" in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("*.whl"))


def test_the_editable_install_has_the_library_next_to_its_source():
    engine = Path(gas.annotator.engine.__file__).parent
    assert engine == ANNOTATOR / "src/gas/annotator/engine"  # uv sync installs workspace members editable
    library = engine / "_native.so"
    assert library.is_file() and (engine / "native.c").is_file()
    assert ctypes.CDLL(str(library)).gas_gather


def test_uv_sync_rebuilds_when_the_c_file_or_the_hook_changes():
    config = tomllib.loads((ANNOTATOR / "pyproject.toml").read_text())
    keys = {key["file"] for key in config["tool"]["uv"]["cache-keys"] if "file" in key}
    assert {"pyproject.toml", "hatch_build.py", "src/gas/annotator/engine/native.c"} <= keys
    for key in keys:
        assert (ANNOTATOR / key).is_file(), key  # a misspelt key would never change
    hooks = config["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]
    assert "custom" in hooks and (ANNOTATOR / hooks["custom"].get("path", "hatch_build.py")).is_file()


def test_the_library_is_never_committed():
    library = "services/annotator/src/gas/annotator/engine/_native.so"
    proc = subprocess.run(["git", "check-ignore", "-q", library], cwd=ROOT)
    assert proc.returncode == 0, f"{library} is a build product: .gitignore must name it"
