"""The annotator's compiled kernels in its image: the builder stage (BUILDER_IMAGE, a base with
gcc) builds the wheel, whose hook (services/annotator/hatch_build.py) compiles native.c; the
runtime image carries _native.so from that wheel and no compiler, nor does any GAS image."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import pytest
from runc_support import Pod, Rendered, unpack

SITE = "opt/venv/lib/python3.11/site-packages"
NATIVE = f"{SITE}/gas/annotator/engine/_native.so"
# C compiler drivers by name (cc is Debian's alternative for gcc), and gcc's compiler proper
DRIVERS = ("cc", "c89", "c99", "gcc", "gcc-*", "*-gcc", "*-gcc-*", "clang", "clang-*", "tcc")
PROPER = ("usr/lib/gcc/*/*/cc1", "usr/libexec/gcc/*/*/cc1")


def compilers(root: Path, path: str) -> list[str]:
    """Every C compiler in the root filesystem: a driver on `path` (the image's PATH), or cc1."""
    found = set()
    for directory in path.split(":"):
        where = root / directory.lstrip("/")
        for entry in where.iterdir() if where.is_dir() else ():
            if any(fnmatch.fnmatch(entry.name, pattern) for pattern in DRIVERS):
                found.add(f"/{entry.relative_to(root)}")
    for pattern in PROPER:
        found.update(f"/{p.relative_to(root)}" for p in root.glob(pattern))
    return sorted(found)


def image_path(config: dict) -> str:
    env = dict(e.split("=", 1) for e in config.get("Env") or [])
    return env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")


def test_the_annotator_image_has_the_library_from_its_wheel(images):
    root, _ = unpack(images["gas-annotator"])
    library = root / NATIVE
    assert library.is_file(), f"/{NATIVE} missing"
    header = library.read_bytes()[:18]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[16:18], "little") == 3, header  # ET_DYN
    (dist_info,) = (root / SITE).glob("gas_annotator-*.dist-info")
    # installed from the wheel the hook built (not an editable link to /src)
    assert "gas/annotator/engine/_native.so," in (dist_info / "RECORD").read_text()
    assert "Tag: py3-none-any" not in (dist_info / "WHEEL").read_text()
    assert not list((root / SITE).glob("*.pth")), "an editable install points outside the image"


@pytest.mark.parametrize("image", ["gas-annotator", "gas-web", "gas-notifier", "gas-archiver", "gas-operator"])
def test_no_runtime_image_has_a_compiler(images, image):
    root, config = unpack(images[image])
    assert compilers(root, image_path(config)) == []


def test_the_compiler_check_finds_one(tmp_path):
    """What the check above would see in an image built on the builder's base (gcc-12, and cc
    as a link through /etc/alternatives that does not resolve outside the image)."""
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/gcc-12").write_bytes(b"\x7fELF")
    os.symlink("/etc/alternatives/cc", tmp_path / "usr/bin/cc")
    (tmp_path / "usr/lib/gcc/x86_64-linux-gnu/12").mkdir(parents=True)
    (tmp_path / "usr/lib/gcc/x86_64-linux-gnu/12/cc1").write_bytes(b"")
    assert compilers(tmp_path, "/opt/venv/bin:/usr/bin") == [
        "/usr/bin/cc",
        "/usr/bin/gcc-12",
        "/usr/lib/gcc/x86_64-linux-gnu/12/cc1",
    ]


def test_the_library_loads_in_the_annotator_pod_and_no_compiler_is_on_its_path(tmp_path, images, rendered: Rendered):
    """As the chart runs the annotator (UID 10001, read-only root): the engine's library
    loads with ctypes, and neither cc nor gcc is on the container's PATH."""
    pod_spec = rendered.pod("annotator")
    (container,) = pod_spec["containers"]
    code = (
        "import ctypes, pathlib, shutil, gas.annotator.engine as engine\n"
        "library = pathlib.Path(engine.__file__).with_name('_native.so')\n"
        "ctypes.CDLL(str(library)).gas_gather\n"
        "print(library)\n"
        "print([c for c in ('cc', 'gcc', 'c99') if shutil.which(c)])\n"
    )
    pod = Pod(tmp_path / "pod", "gas-native-test")
    try:
        proc = pod.run("native", *unpack(images["gas-annotator"]), {**container, "command": ["python3", "-c", code]},
                       pod_spec, rendered.env(container), timeout=60)  # fmt: skip
    finally:
        pod.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [f"/{NATIVE}", "[]"], proc.stdout + proc.stderr
