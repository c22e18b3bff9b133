"""Reference data a deployment declares (transcript bundles, annotation sources), as the
chart ships it (decision 95): one mechanism for every large reference file.

The chart's `annotation.bundles` / `annotation.sources` values reach every step as one JSON
document (`GAS_REFERENCES_SPEC`). The build step (`gas-build-references`, in the annotator
image: it needs the engine) fetches each input by URL, checks its sha256, compiles a bundle
or checks a source, and stores the result in the references bucket under a key derived
from the inputs' checksums (**content-addressed**: the same inputs are built once, a new
version is a new key, and what was built before stays where it is). Every annotator's init
container (`gas-fetch-references`, here: standard library and boto3 only, so the web image
runs it too) waits until each declared item is built, downloads it into the pod's local
volume, checks it against the build's sha256 and only then lets the worker start; web
fetches the bundles' manifests only (what its form and API offer).

Layout of `<prefix>-references`:
    bundles/<key>/gas-bundle-<name>-v2.gasdb           the compiled bundle
    bundles/<key>/gas-bundle-<name>-v2.manifest.json   written last: "built"
    sources/<key>/<file>, <file>.tbi|.csi               the checked source and its index
    sources/<key>/<file>.gasc, <file>.gasc.json          the source's compiled form (decision 126)
    sources/<key>/source.json                           written last: "checked"
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import structlog
from botocore.exceptions import ClientError

from gas.core.aws import Aws
from gas.core.config import CoreSettings, load_settings
from gas.core.databases import COMPILED_FORMAT, SCHEMA_VERSION, compiled_files
from gas.core.names import ResourceNames
from gas.core.observability import configure_logging

log = structlog.get_logger()

SPEC_ENV = "GAS_REFERENCES_SPEC"
SOURCES_FILE = "sources.json"  # the fetched sources' declaration (GAS_ANNOTATION_SOURCES)
CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ReferenceError(RuntimeError):
    """A declared reference that cannot be built or fetched; the text names it and why."""


@dataclass(frozen=True)
class Remote:
    url: str  # https:// or s3://
    sha256: str

    @classmethod
    def parse(cls, what: str, item: Any) -> Remote:
        if not isinstance(item, dict):
            raise ReferenceError(f"{what}: expected {{url, sha256}}")
        url, digest = str(item.get("url", "")), str(item.get("sha256", "")).lower()
        if not url.startswith(("https://", "s3://")):
            raise ReferenceError(f"{what}: url must be https:// or s3://, not {url!r}")
        if not _SHA256.match(digest):
            raise ReferenceError(f"{what}: sha256 must be 64 hex digits")
        return cls(url, digest)

    @property
    def file_name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "download"


@dataclass(frozen=True)
class Bundle:
    name: str
    assembly: str | None
    model_format: str  # gff3 | gtf
    gene_model: Remote
    fasta: Remote

    @property
    def key(self) -> str:
        """What the result depends on: the inputs' content, never their URLs."""
        return _digest(
            {
                "schema": SCHEMA_VERSION,
                "name": self.name,
                "assembly": self.assembly,
                "format": self.model_format,
                "gene_model": self.gene_model.sha256,
                "fasta": self.fasta.sha256,
            }
        )

    @property
    def files(self) -> tuple[str, str]:
        """The compiled bundle and its manifest, as the engine names them."""
        stem = f"gas-bundle-{self.name}-v{SCHEMA_VERSION}"
        return f"{stem}.gasdb", f"{stem}.manifest.json"

    @property
    def prefix(self) -> str:
        return f"bundles/{self.key}/"


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # vcf | bed
    version: str
    fields: dict[str, str] | list[str]
    data: Remote
    index: Remote

    @property
    def index_suffix(self) -> str:
        return ".csi" if self.index.file_name.endswith(".csi") else ".tbi"

    @property
    def file(self) -> str:
        return f"{self.name}.{self.kind}.gz"

    @property
    def key(self) -> str:
        # The declaration is part of what the build checks (fields in the header), so part of the key.
        return _digest(
            {
                "name": self.name,
                "kind": self.kind,
                "version": self.version,
                "fields": self.fields,
                "data": self.data.sha256,
                "index": self.index.sha256,
                "index_suffix": self.index_suffix,
            }
        )

    @property
    def prefix(self) -> str:
        return f"sources/{self.key}/"

    def declaration(self) -> dict[str, Any]:
        """The entry of the engine's sources file (gas.annotator.engine.sources), the data
        file beside it in `<name>/`."""
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "path": f"{self.name}/{self.file}",
            "fields": self.fields,
        }


@dataclass(frozen=True)
class Spec:
    bundles: tuple[Bundle, ...] = ()
    sources: tuple[Source, ...] = ()


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def parse_spec(text: str) -> Spec:
    """The chart's `annotation.bundles`/`annotation.sources` (checked again here: the
    values schema can be bypassed, and a wrong spec must fail before anything is built)."""
    try:
        doc = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ReferenceError(f"{SPEC_ENV}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ReferenceError(f"{SPEC_ENV}: expected an object with bundles and sources")
    bundles, sources, names = [], [], set()
    for i, b in enumerate(doc.get("bundles") or []):
        name = str(b.get("name", "")) if isinstance(b, dict) else ""
        if not _NAME.match(name):
            raise ReferenceError(f"bundle #{i + 1}: name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if name in names or name in ("GRCh37", "GRCh38"):
            raise ReferenceError(f"bundle {name}: declared twice or named like an assembly")
        names.add(name)
        model = b.get("geneModel") or {}
        fmt = model.get("format") if isinstance(model, dict) else None
        if fmt not in ("gff3", "gtf"):
            raise ReferenceError(f"bundle {name}: geneModel.format must be gff3 or gtf")
        assembly = b.get("assembly") or None
        if assembly not in (None, "GRCh37", "GRCh38"):
            raise ReferenceError(f"bundle {name}: assembly must be GRCh37 or GRCh38 (or absent)")
        bundles.append(
            Bundle(
                name,
                assembly,
                fmt,
                Remote.parse(f"bundle {name}: geneModel", model),
                Remote.parse(f"bundle {name}: fasta", b.get("fasta")),
            )
        )
    seen: set[str] = set()
    for i, s in enumerate(doc.get("sources") or []):
        name = str(s.get("name", "")) if isinstance(s, dict) else ""
        if not _NAME.match(name) or name in seen:
            raise ReferenceError(f"source #{i + 1}: name {name!r} is not valid or declared twice")
        seen.add(name)
        if s.get("kind") not in ("vcf", "bed"):
            raise ReferenceError(f"source {name}: kind must be vcf or bed")
        fields = s.get("fields") or {}
        if not isinstance(fields, dict | list):
            raise ReferenceError(f"source {name}: fields must map source INFO ids to new ones")
        sources.append(
            Source(
                name,
                s["kind"],
                str(s.get("version") or ""),
                fields,
                Remote.parse(f"source {name}", s),
                Remote.parse(f"source {name}: index", s.get("index")),
            )
        )
    return Spec(tuple(bundles), tuple(sources))


def load_spec(path: str | None) -> Spec:
    if path:
        return parse_spec(Path(path).read_text())
    return parse_spec(os.environ.get(SPEC_ENV, ""))


def bucket_of(settings: CoreSettings) -> str:
    return ResourceNames(settings.prefix).references_bucket


def copy_hashed(read: Callable[[int], bytes], out: IO[bytes]) -> tuple[str, int]:
    """Stream `read` into `out`; the sha256 and byte count of what was written."""
    h, size = hashlib.sha256(), 0
    while chunk := read(CHUNK):
        h.update(chunk)
        out.write(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def _download(s3: Any, bucket: str, key: str, dest: Path, sha256: str | None = None) -> int:
    """Object → `dest` through a temporary name; refused (and removed) if its sha256 is not
    `sha256`. A half-written file never carries the final name."""
    tmp = dest.with_name(f".fetch-{dest.name}")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with open(tmp, "wb") as out:
            digest, size = copy_hashed(body.read, out)
        if sha256 is not None and digest != sha256:
            raise ReferenceError(f"s3://{bucket}/{key}: sha256 is {digest}, expected {sha256} (corrupt copy?)")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return size


def _wait_for(s3: Any, bucket: str, key: str, what: str, deadline: float, poll: float) -> None:
    announced = False
    while not exists(s3, bucket, key):
        if time.monotonic() >= deadline:
            raise ReferenceError(
                f"{what} is not built: s3://{bucket}/{key} is missing (did gas-build-references fail? "
                "kubectl logs job/<release>-references)"
            )
        if not announced:
            log.info("references.waiting", item=what, key=key)
            announced = True
        time.sleep(poll)


def _fetch_compiled(s3: Any, bucket: str, s: Source, folder: Path) -> None:
    """A source's compiled form (decision 126), refused unless built from the declared file."""
    file, manifest_file = compiled_files(s.file)
    try:
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=s.prefix + manifest_file)["Body"].read())
    except ClientError:
        raise ReferenceError(
            f"source {s.name}: its compiled form s3://{bucket}/{s.prefix}{manifest_file} is missing "
            "(built by an older gas-build-references? re-run it)"
        ) from None
    built = manifest.get("source") or {}
    if manifest.get("format") != COMPILED_FORMAT or built.get("sha256") != s.data.sha256:
        raise ReferenceError(
            f"source {s.name}: its compiled form is stale: format {manifest.get('format')} built from sha256 "
            f"{built.get('sha256')}, the values declare format {COMPILED_FORMAT} and {s.data.sha256} (re-run "
            "gas-build-references)"
        )
    size = _download(s3, bucket, s.prefix + file, folder / file, manifest["sha256"])
    if size != manifest["size"]:
        raise ReferenceError(f"source {s.name}: {file} is {size} bytes, its manifest says {manifest['size']}")
    # The data file was hashed: it is the file the form was built from, so it takes the mtime
    # the engine's size+mtime check expects.
    os.utime(folder / s.file, ns=(built["mtime_ns"], built["mtime_ns"]))
    (folder / manifest_file).write_text(json.dumps(manifest, indent=2) + "\n")


def fetch(
    spec: Spec,
    aws: Aws,
    bucket: str,
    dest: Path,
    *,
    manifests_only: bool = False,
    link_from: Path | None = None,
    wait_seconds: float = 0,
    poll_seconds: float = 5,
) -> None:
    """Put every declared bundle (and source) into `dest`, each checked against the build's
    sha256, waiting up to `wait_seconds` for the build step to finish each."""
    s3 = aws.client("s3")
    dest.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    if link_from is not None:
        # The image's genes-only databases beside the bundles: the engine reads one directory.
        for entry in sorted(link_from.iterdir()):
            if entry.is_file() and not (dest / entry.name).exists():
                (dest / entry.name).symlink_to(entry)
    for b in spec.bundles:
        what = f"bundle {b.name}"
        file, manifest_file = b.files
        _wait_for(s3, bucket, b.prefix + manifest_file, what, deadline, poll_seconds)
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=b.prefix + manifest_file)["Body"].read())
        if not manifests_only:
            size = _download(s3, bucket, b.prefix + file, dest / file, manifest["sha256"])
            if size != manifest["size"]:
                raise ReferenceError(f"{what}: {size} bytes, the manifest says {manifest['size']}")
            # Hashed above: the engine's size+mtime check then need not hash it again.
            os.utime(dest / file, ns=(manifest["mtime_ns"], manifest["mtime_ns"]))
        # The manifest last: the engine offers a bundle once its manifest is there.
        tmp = dest / f".fetch-{manifest_file}"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, dest / manifest_file)
        log.info("references.bundle_fetched", bundle=b.name, key=b.key, manifest_only=manifests_only)
    if manifests_only:
        return
    declarations = []
    for s in spec.sources:
        what = f"source {s.name}"
        _wait_for(s3, bucket, s.prefix + "source.json", what, deadline, poll_seconds)
        folder = dest / s.name
        folder.mkdir(exist_ok=True)
        # The data first, then its index: the engine refuses an index older than its data.
        _download(s3, bucket, s.prefix + s.file, folder / s.file, s.data.sha256)
        _download(s3, bucket, s.prefix + s.file + s.index_suffix, folder / (s.file + s.index_suffix), s.index.sha256)
        _fetch_compiled(s3, bucket, s, folder)
        declarations.append(s.declaration())
        log.info("references.source_fetched", source=s.name, key=s.key)
    if declarations:
        tmp = dest / f".fetch-{SOURCES_FILE}"
        tmp.write_text(json.dumps({"sources": declarations}, indent=2) + "\n")
        os.replace(tmp, dest / SOURCES_FILE)


def fetch_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gas-fetch-references",
        description="Download the deployment's built bundles and checked sources (GAS_REFERENCES_SPEC) "
        "into a local directory, waiting for the build step.",
    )
    parser.add_argument("--dest", type=Path, required=True, help="the annotator's GAS_ANNOTATION_DB_DIR")
    parser.add_argument("--spec", default=None, help=f"a spec file (default: ${SPEC_ENV})")
    parser.add_argument("--manifests-only", action="store_true", help="bundle manifests only (what web offers)")
    parser.add_argument("--link-from", type=Path, default=None, help="link this directory's databases into --dest")
    parser.add_argument("--wait-seconds", type=float, default=0, help="wait this long for the build step")
    parser.add_argument("--poll-seconds", type=float, default=5)
    args = parser.parse_args(argv)
    settings = load_settings(CoreSettings)
    configure_logging("references", settings.log_level)
    try:
        spec = load_spec(args.spec)
        fetch(
            spec,
            Aws(settings),
            bucket_of(settings),
            args.dest,
            manifests_only=args.manifests_only,
            link_from=args.link_from,
            wait_seconds=args.wait_seconds,
            poll_seconds=args.poll_seconds,
        )
    except (ReferenceError, OSError, ClientError) as exc:
        log.error("references.fetch_failed", error=str(exc))
        print(f"gas-fetch-references: {exc}", file=sys.stderr)
        return 1
    return 0
