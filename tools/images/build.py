#!/usr/bin/env python3
"""Build every container image GAS runs, on this machine, from Debian packages and PyPI only
(no registry): buildah (Debian) with `--isolation chroot`, as root.

  tools/images/build.py                 build what is missing; one line per image
  tools/images/build.py --json          ... then print the manifest (JSON) on stdout
  tools/images/build.py --only gas-web  just these (and the bases they need)

Images, each cached as a docker-archive tarball in ~/.cache/gas/images (GAS_IMAGES_CACHE)
named by the hash of its inputs, so a warm run builds nothing:

  base-python   Debian bookworm minbase + python3.11 (mmdebstrap), python at /usr/local/bin
                as in the official image: the PYTHON_IMAGE build arg of services/Dockerfile
  base-python-build
                the same + gcc and libc6-dev: the BUILDER_IMAGE build arg (the builder stage
                only; the annotator's build hook compiles its ctypes kernels)
  base-uv       /uv and /uvx from uv's PyPI wheel (sha256 pinned): the UV_IMAGE build arg
  gas-web, gas-notifier, gas-archiver, gas-operator, gas-annotator
                services/Dockerfile, unchanged (its defaults stay the public images); the
                annotator with --target annotator (its annotation database is compiled in)
  moto          motoserver/moto:<the chart's devMode.moto tag>: tools/images/moto.Dockerfile
  pause, coredns  FROM scratch + the binaries tools/install-controlplane.sh built
  traefik       FROM scratch + the binary tools/install-traefik.sh built (the one-node
                cluster's ingress controller)
  keda, keda-adapter
                FROM scratch + KEDA's operator and metrics server, built by tools/install-keda.sh
                (upstream's are distroless/static:nonroot, 65532; the cluster test reads moto
                over HTTP, so no CA bundle is needed)

Build-time network: the build's RUN steps reach PyPI like the host does: the host's CA
bundle and a uv config with system-certs are mounted into them (never into an image layer).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("GAS_IMAGES_CACHE", Path.home() / ".cache" / "gas" / "images"))
TOOLS_BIN = Path(os.environ.get("GAS_TOOLS_BIN", Path.home() / ".cache" / "gas" / "tools" / "bin"))
# Bump when the way an image is built changes without its inputs changing.
RECIPE = "1"

DEBIAN_SUITE = "bookworm"
# python3.11 (Debian's), passwd (useradd/groupadd of the runtime stage), CA certificates
BASE_PACKAGES = ("python3.11", "passwd", "ca-certificates")
# the builder stage's C compiler (services/annotator/hatch_build.py compiles native.c)
BUILD_PACKAGES = ("gcc", "libc6-dev")
UV_VERSION = "0.13.8"
UV_WHEEL = f"uv-{UV_VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
UV_WHEEL_SHA256 = "e18a57b8b352eb7c8feb317b9f6f533c8f0ad9673fd6cf34bbe3cf1a9f6a8984"
SERVICES = ("web", "annotator", "notifier", "archiver", "operator")
# What .dockerignore keeps out of the build context (and so out of the input hash).
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "node_modules", "tests"}


@dataclass
class Image:
    name: str  # gas-web, moto, base-python, ...
    ref: str  # the reference the archive carries (what the chart / containerd see)
    key: str  # hash of every input
    archive: str  # docker-archive tarball (a rootfs tarball for base-python)
    size_bytes: int = 0
    build_seconds: float = 0.0
    cached: bool = True


# ------------------------------------------------------------------ helpers


def sha256_bytes(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def tree_digest(paths: list[Path]) -> bytes:
    """Names and contents of every file under `paths` that a build context would carry."""
    lines = []
    for top in paths:
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            rel = f.relative_to(ROOT)
            if IGNORED_PARTS.intersection(rel.parts) or f.suffix in (".pyc", ".pyo", ".so") or ".egg-info" in str(rel):
                continue
            lines.append(f"{rel} {hashlib.sha256(f.read_bytes()).hexdigest()}")
    return "\n".join(lines).encode()


def run(argv: list[str], log: Path | None = None, **kw) -> subprocess.CompletedProcess:
    if log is None:
        return subprocess.run(argv, check=True, **kw)
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, **kw)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-40:]
        raise SystemExit(
            f"build-images: {' '.join(argv[:4])} ... failed ({proc.returncode}); {log}:\n" + "\n".join(tail)
        )
    return proc


def buildah(*args: str, log: Path | None = None, capture: bool = False) -> str:
    argv = ["buildah", "--root", str(CACHE / "buildah"), "--runroot", str(CACHE / "buildah-run")]
    argv += ["--storage-driver", "overlay", *args]
    if capture:
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()
    run(argv, log)
    return ""


def has_image(ref: str) -> bool:
    return bool(buildah("images", "--quiet", "--noheading", "--filter", f"reference={ref}", capture=True))


def app_version() -> str:
    match = re.search(r'^appVersion:\s*"?([^"\s]+)"?', (ROOT / "charts/gas/Chart.yaml").read_text(), re.M)
    assert match, "charts/gas/Chart.yaml has no appVersion"
    return match.group(1)


def moto_tag() -> str:
    """devMode.moto.image.tag of the chart's values: the image the dev-mode chart runs."""
    values = (ROOT / "charts/gas/values.yaml").read_text()
    match = re.search(r"repository:\s*motoserver/moto\s*\n(?:\s*#.*\n)*\s*tag:\s*\"?([\w.]+)\"?", values)
    assert match, "charts/gas/values.yaml: devMode.moto.image (motoserver/moto) has no tag"
    return match.group(1)


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """One build at a time per cache (worktrees share it)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def publish(image: Image, tmp: Path, started: float) -> Image:
    """Move a finished archive into place and record its figures next to it."""
    os.replace(tmp, image.archive)
    image.size_bytes = Path(image.archive).stat().st_size
    image.build_seconds = round(time.monotonic() - started, 1)
    image.cached = False
    Path(image.archive + ".json").write_text(json.dumps(asdict(image), indent=1))
    return image


def load_cached(image: Image) -> Image | None:
    meta = Path(image.archive + ".json")
    if Path(image.archive).exists() and meta.exists():
        os.utime(meta)  # last used: what `prune` goes by
        recorded = json.loads(meta.read_text())
        image.size_bytes, image.build_seconds = recorded["size_bytes"], recorded["build_seconds"]
        image.cached = True
        return image
    return None


def export(ref: str, image: Image, log: Path, started: float) -> Image:
    tmp = Path(image.archive + ".tmp")
    tmp.unlink(missing_ok=True)
    buildah("push", ref, f"docker-archive:{tmp}:{image.ref}", log=log)
    return publish(image, tmp, started)


# ------------------------------------------------------------------ the images


class Builder:
    def __init__(self) -> None:
        CACHE.mkdir(parents=True, exist_ok=True)
        self.logs = CACHE / "logs"
        self.logs.mkdir(exist_ok=True)
        self.done: dict[str, Image] = {}

    def log(self, name: str) -> Path:
        path = self.logs / f"{name}.log"
        path.write_text("")
        return path

    # -- bases ---------------------------------------------------------------

    def base_python(self) -> Image:
        return self._debian_python("base-python", "localhost/gas-base/python", BASE_PACKAGES)

    def base_python_build(self) -> Image:
        return self._debian_python(
            "base-python-build", "localhost/gas-base/python-build", BASE_PACKAGES + BUILD_PACKAGES
        )

    def _debian_python(self, name: str, repo: str, packages: tuple[str, ...]) -> Image:
        """A bookworm minbase with `packages` (mmdebstrap), python linked at /usr/local/bin."""
        hooks = [
            'ln -s /usr/bin/python3.11 "$1/usr/local/bin/python3.11"',
            'ln -s python3.11 "$1/usr/local/bin/python3"',
        ]
        sources = Path("/etc/apt/sources.list.d/debian.sources")
        key = sha256_bytes(RECIPE.encode(), DEBIAN_SUITE.encode(), " ".join(packages).encode(), *map(str.encode, hooks))
        image = Image(name, f"{repo}:{key[:16]}", key, str(CACHE / f"{name}-{key[:16]}.tar"))
        if not load_cached(image):
            started, log = time.monotonic(), self.log(name)
            tmp = Path(image.archive + ".tmp.tar")
            argv = ["mmdebstrap", "--variant=minbase", f"--include={','.join(packages)}"]
            for excluded in ("doc", "man", "locale", "info"):
                argv.append(f"--dpkgopt=path-exclude=/usr/share/{excluded}/*")
            argv += [f"--customize-hook={h}" for h in hooks]
            # the host's Debian sources (its mirror), or mmdebstrap's default mirror
            argv += [DEBIAN_SUITE, str(tmp)] + ([str(sources)] if sources.exists() else [])
            run(argv, log, stdin=subprocess.DEVNULL)
            publish(image, tmp, started)
        if not has_image(image.ref):
            ctr = buildah("from", "scratch", capture=True)
            mnt = buildah("mount", ctr, capture=True)
            run(["tar", "-C", mnt, "-xf", image.archive])
            buildah(
                "config",
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env",
                "LANG=C.UTF-8",
                "--cmd",
                "python3",
                ctr,
            )
            buildah("commit", "--quiet", ctr, image.ref, log=self.log(f"{name}-import"))
            buildah("rm", ctr, log=self.log(f"{name}-import"))
        return image

    def base_uv(self) -> Image:
        key = sha256_bytes(RECIPE.encode(), UV_WHEEL_SHA256.encode())
        image = Image(
            "base-uv", f"localhost/gas-base/uv:{UV_VERSION}-{key[:8]}", key, str(CACHE / f"base-uv-{key[:16]}.tar")
        )
        if load_cached(image) and has_image(image.ref):
            return image
        started, log = time.monotonic(), self.log("base-uv")
        with tempfile.TemporaryDirectory() as tmp:
            wheel = CACHE / UV_WHEEL
            if not wheel.exists() or hashlib.sha256(wheel.read_bytes()).hexdigest() != UV_WHEEL_SHA256:
                run(
                    [
                        "python3",
                        "-m",
                        "pip",
                        "download",
                        "--quiet",
                        "--no-deps",
                        "--only-binary=:all:",
                        "--platform",
                        "manylinux_2_17_x86_64",
                        "--python-version",
                        "3.11",
                        f"uv=={UV_VERSION}",
                        "-d",
                        tmp,
                    ],
                    log,
                )
                got = Path(tmp) / UV_WHEEL
                digest = hashlib.sha256(got.read_bytes()).hexdigest()
                if digest != UV_WHEEL_SHA256:
                    raise SystemExit(f"build-images: {UV_WHEEL} sha256 {digest} != pinned {UV_WHEEL_SHA256}")
                shutil.copy(got, wheel)
            with zipfile.ZipFile(wheel) as whl:
                for tool in ("uv", "uvx"):
                    target = Path(tmp) / tool
                    target.write_bytes(whl.read(f"uv-{UV_VERSION}.data/scripts/{tool}"))
                    target.chmod(0o755)
            ctr = buildah("from", "scratch", capture=True)
            buildah("copy", ctr, f"{tmp}/uv", f"{tmp}/uvx", "/", log=log)
            buildah("commit", "--quiet", ctr, image.ref, log=log)
            buildah("rm", ctr, log=log)
        return export(image.ref, image, log, started)

    # -- images from Dockerfiles -----------------------------------------------

    def build_args(self) -> list[str]:
        python, python_build, uv = self.base_python(), self.base_python_build(), self.base_uv()
        return ["--build-arg", f"PYTHON_IMAGE={python.ref}", "--build-arg", f"BUILDER_IMAGE={python_build.ref}",
                "--build-arg", f"UV_IMAGE={uv.ref}"]  # fmt: skip

    def bud(self, name: str, ref: str, key: str, context: Path, dockerfile: Path, args: list[str]) -> Image:
        image = Image(name, ref, key, str(CACHE / f"{name}-{key[:16]}.tar"))
        if load_cached(image):
            return image
        base_args = self.build_args()
        started, log = time.monotonic(), self.log(name)
        local = f"localhost/gas-build/{name}:{key[:16]}"
        with tempfile.TemporaryDirectory() as tmp:
            uv_toml = Path(tmp) / "uv.toml"
            uv_toml.write_text("system-certs = true\n")  # uv then trusts the CA bundle below
            ca = os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
            buildah(
                "bud", "--isolation", "chroot", "--layers", "--pull=never", "--format", "docker",
                "-v", f"{ca}:/etc/ssl/certs/ca-certificates.crt:ro", "-v", f"{uv_toml}:/etc/uv/uv.toml:ro",
                "-f", str(dockerfile), *base_args, *args, "-t", local, str(context),
                log=log,
            )  # fmt: skip
        return export(local, image, log, started)

    def gas_service(self, service: str) -> Image:
        python, python_build, uv = self.base_python(), self.base_python_build(), self.base_uv()
        inputs = [ROOT / "services/Dockerfile", ROOT / ".dockerignore", ROOT / "uv.lock", ROOT / "pyproject.toml"]
        inputs += [ROOT / "libs/core"] + sorted(ROOT.glob("services/*/pyproject.toml"))  # the Dockerfile copies all
        inputs += [ROOT / "services" / service]
        args = ["--build-arg", f"SERVICE={service}", "--build-arg", f"VERSION={app_version()}"]
        if service == "annotator":
            args += ["--target", "annotator"]
        key = sha256_bytes(RECIPE.encode(), python.key.encode(), python_build.key.encode(), uv.key.encode(),
                           " ".join(args).encode(), tree_digest(inputs))  # fmt: skip
        return self.bud(
            f"gas-{service}", f"gas-{service}:{app_version()}", key, ROOT, ROOT / "services/Dockerfile", args
        )

    def moto(self) -> Image:
        python, uv = self.base_python(), self.base_uv()
        tag = moto_tag()
        # moto's dependencies at the versions the workspace locks (moto itself: the chart's tag)
        uv_bin = shutil.which("uv") or str(ROOT / ".venv/bin/uv")
        exported = subprocess.run(
            [uv_bin, "export", "--frozen", "--no-hashes", "--all-packages", "--all-groups", "--no-emit-workspace",
             "--no-header", "--no-annotate", "--format", "requirements-txt"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        # moto pins py-partiql-parser exactly per release: that one follows moto, not the lock
        own = ("moto==", "py-partiql-parser==")
        constraints = "".join(line + "\n" for line in exported.splitlines() if not line.startswith(own))
        dockerfile = ROOT / "tools/images/moto.Dockerfile"
        args = ["--build-arg", f"MOTO_VERSION={tag}"]
        key = sha256_bytes(RECIPE.encode(), python.key.encode(), uv.key.encode(), " ".join(args).encode(),
                           dockerfile.read_bytes(), constraints.encode())  # fmt: skip
        with tempfile.TemporaryDirectory() as context:
            shutil.copy(dockerfile, Path(context) / "Dockerfile")
            (Path(context) / "constraints.txt").write_text(constraints)
            return self.bud("moto", f"motoserver/moto:{tag}", key, Path(context), Path(context) / "Dockerfile", args)

    # -- node images from binaries ---------------------------------------------

    def from_scratch(self, name: str, binary: Path, ref: str, config: list[str]) -> Image:
        if not binary.exists():
            raise SystemExit(f"build-images: {binary} missing: run `make tools`")
        key = sha256_bytes(RECIPE.encode(), binary.read_bytes(), " ".join(config).encode())
        image = Image(name, ref, key, str(CACHE / f"{name}-{key[:16]}.tar"))
        if load_cached(image):
            return image
        started, log = time.monotonic(), self.log(name)
        ctr = buildah("from", "scratch", capture=True)
        buildah("copy", "--chmod", "0755", ctr, str(binary), f"/{binary.name}", log=log)
        buildah("config", *config, ctr, log=log)
        local = f"localhost/gas-build/{name}:{key[:16]}"
        buildah("commit", "--quiet", "--format", "docker", ctr, local, log=log)
        buildah("rm", ctr, log=log)
        return export(local, image, log, started)

    def pause(self) -> Image:
        tag = (TOOLS_BIN / "pause.tag").read_text().strip() if (TOOLS_BIN / "pause.tag").exists() else "unknown"
        # upstream's image: FROM scratch, /pause, USER 65535:65535 (build/pause/Dockerfile)
        config = ["--entrypoint", '["/pause"]', "--user", "65535:65535"]
        return self.from_scratch("pause", TOOLS_BIN / "pause", f"localhost/gas/pause:{tag}", config)

    def coredns(self) -> Image:
        version = self._module_version(ROOT / "tools/coredns/go.mod", "github.com/coredns/coredns")
        # upstream's image: FROM scratch, /coredns, USER nonroot (65532), EXPOSE 53 53/udp
        config = ["--entrypoint", '["/coredns"]', "--user", "65532:65532", "--port", "53", "--port", "53/udp"]
        return self.from_scratch("coredns", TOOLS_BIN / "coredns", f"localhost/gas/coredns:{version}", config)

    def traefik(self) -> Image:
        version = self._module_version(ROOT / "tools/traefik/go.mod", "github.com/traefik/traefik/v3")
        # upstream's image runs /traefik as root; this one as a non-root user (the entry points
        # it is given listen above 1024)
        config = ["--entrypoint", '["/traefik"]', "--user", "65532:65532", "--port", "8000", "--port", "8443"]
        binary = TOOLS_BIN / "traefik"
        if not binary.exists():
            raise SystemExit(f"build-images: {binary} missing: run tools/install-traefik.sh")
        return self.from_scratch("traefik", binary, f"localhost/gas/traefik:{version}", config)

    def keda(self) -> Image:
        return self._keda("keda", ["--entrypoint", '["/keda", "--zap-log-level=info", "--zap-encoder=console"]'])

    def keda_adapter(self) -> Image:
        return self._keda("keda-adapter", ["--entrypoint", '["/keda-adapter", "--secure-port=6443"]'])

    def _keda(self, name: str, entrypoint: list[str]) -> Image:
        stamp = TOOLS_BIN / ".keda-adapter.version"  # tools/install-keda.sh: VERSION-GO-flags
        version = stamp.read_text().split("-")[0].lstrip("v") if stamp.exists() else "unknown"
        ref = f"localhost/gas/{name}:{version}"
        return self.from_scratch(name, TOOLS_BIN / name, ref, [*entrypoint, "--user", "65532:65532"])

    @staticmethod
    def _module_version(go_mod: Path, module: str) -> str:
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod.read_text(), re.M)
        assert match, f"{go_mod}: no {module}"
        return match.group(1).lstrip("v")

    def build(self, name: str) -> Image:
        if name not in self.done:
            if name.startswith("gas-"):
                self.done[name] = self.gas_service(name.removeprefix("gas-"))
            else:
                self.done[name] = {"base-python": self.base_python, "base-python-build": self.base_python_build,
                                   "base-uv": self.base_uv, "moto": self.moto, "pause": self.pause,
                                   "coredns": self.coredns, "traefik": self.traefik, "keda": self.keda,
                                   "keda-adapter": self.keda_adapter}[name]()  # fmt: skip
        return self.done[name]


ALL = [f"gas-{s}" for s in SERVICES] + ["moto", "pause", "coredns", "traefik", "keda", "keda-adapter"]
BASES = ("base-python", "base-python-build", "base-uv")
PRUNE_AFTER_DAYS = 2


def prune(current: list[Image]) -> None:
    """Drop archives (and their unpacked root filesystems) no build has used for two days:
    other worktrees share the cache, so a superseded hash is not dropped at once. In
    buildah's storage keep only the current images (and the bases): the step cache of
    older builds goes too (a rebuild costs tens of seconds; the storage would grow by
    GBs a week)."""
    keep = {Path(i.archive).name for i in current}
    wanted = {f"localhost/gas-build/{i.name}:{i.key[:16]}" for i in current}
    storage = ["buildah", "--root", str(CACHE / "buildah"), "--runroot", str(CACHE / "buildah-run")]
    storage += ["--storage-driver", "overlay"]
    with open(CACHE / "logs" / "prune.log", "w") as log:
        # working containers an interrupted build left (builds of this cache hold the lock)
        subprocess.run([*storage, "rm", "--all"], stdout=log, stderr=subprocess.STDOUT)
        for ref in buildah("images", "--noheading", "--format", "{{.Name}}:{{.Tag}}", capture=True).split():
            if ref.startswith("localhost/gas-build/") and ref not in wanted:
                subprocess.run([*storage, "rmi", ref], stdout=log, stderr=subprocess.STDOUT)
        subprocess.run([*storage, "rmi", "--prune"], stdout=log, stderr=subprocess.STDOUT)
    horizon = time.time() - PRUNE_AFTER_DAYS * 86400
    for meta in CACHE.glob("*.tar.json"):
        archive = meta.with_suffix("")
        if archive.name not in keep and meta.stat().st_mtime < horizon:
            archive.unlink(missing_ok=True)
            meta.unlink()
            shutil.rmtree(CACHE / "rootfs" / archive.name.removesuffix(".tar"), ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=ALL, help="build just this image (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("build-images: buildah --isolation chroot needs root", file=sys.stderr)
        return 1
    started = time.monotonic()
    images = []
    with locked():
        builder = Builder()
        for name in args.only or ALL:
            image = builder.build(name)
            images.append(image)
            how = "cached" if image.cached else "built"
            print(
                f"image {image.name:14} {image.ref:42} {image.size_bytes / 1e6:7.1f} MB  {how}"
                f" (build {image.build_seconds:.0f} s)  {Path(image.archive).name}",
                file=sys.stderr,
            )
        if not args.only and not all(i.cached for i in images):
            prune(images + [builder.done.get(n) or builder.build(n) for n in BASES])
    print(f"build-images: {len(images)} images in {time.monotonic() - started:.1f} s", file=sys.stderr)
    if args.json:
        print(json.dumps([asdict(i) for i in images], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
