"""Compile the engine's C kernels (src/gas/annotator/engine/native.c) into _native.so.

A plain shared library loaded with ctypes, not a CPython extension: no Python headers, no
Python ABI, so the wheel's tag names the platform only (py3-none-linux_x86_64). Built for
the standard wheel (shipped as an artifact: the .so is git-ignored) and the editable one
(`uv sync`: the editable install points at src/, so the .so is written next to native.c).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "src/gas/annotator/engine/native.c"
LIBRARY = "src/gas/annotator/engine/_native.so"
# -O3: the byte loops of the line split vectorise (twice as fast as -O2); no -march, so the
# library runs on any x86-64 the image does.
CFLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"]


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        cc = shlex.split(os.environ.get("CC", "cc"))
        if not cc or shutil.which(cc[0]) is None:
            raise SystemExit(
                f"gas-annotator: no C compiler {cc[0] if cc else ''!r} ($CC, default cc) to build {SOURCE}:"
                " install one (Debian: apt-get install gcc libc6-dev) or set CC"
            )
        root = Path(self.root)
        tmp = root / (LIBRARY + ".tmp")
        argv = [*cc, *CFLAGS, "-o", str(tmp), str(root / SOURCE)]
        if subprocess.run(argv).returncode != 0:
            raise SystemExit(f"gas-annotator: compiling {SOURCE} failed: {shlex.join(argv)}")
        os.replace(tmp, root / LIBRARY)  # a process that has the old one loaded keeps it
        if version == "standard":
            build_data["artifacts"].append(LIBRARY)
            build_data["pure_python"] = False
            build_data["tag"] = "py3-none-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")
