"""gas-build-references: the build step of the deployment's reference data (decision 95).

Run by the chart as a Job (a Helm hook after provisioning, before annotators roll). For
every bundle and source the values declare (GAS_REFERENCES_SPEC, gas.core.references) that
is not yet in the references bucket under its content key: fetch each input by URL
(https:// or s3://), check its sha256, then compile the bundle (`build_bundle`, as
`gas-annotation-db build --name` does) or check the source (`load_sources`: bgzip, tabix
index not older than the data, declared fields present) and compile it (its arrays,
decision 126), and upload the result, its
marker object last. A bad item fails the step naming it and why; nothing it would have
replaced is touched (a new version is a new key), so annotators keep serving what was
built before, and the other items are still built.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from gas.annotator.engine.bundle import build_bundle
from gas.annotator.engine.genemodel import GeneModelError
from gas.annotator.engine.sources import SourceError, load_sources
from gas.core.aws import Aws
from gas.core.config import CoreSettings, load_settings
from gas.core.databases import compiled_files
from gas.core.observability import configure_logging
from gas.core.references import (
    Bundle,
    ReferenceError,
    Remote,
    Source,
    Spec,
    bucket_of,
    copy_hashed,
    exists,
    load_spec,
)

log = structlog.get_logger()
URL_TIMEOUT = 60  # seconds without a byte before an https download is abandoned


def download(remote: Remote, dest: Path, aws: Aws, what: str) -> None:
    """`remote` → `dest`, refused unless its sha256 is the declared one. The file's mtime
    is the source's own Last-Modified, so a stale index shows as one."""
    if remote.url.startswith("s3://"):
        bucket, _, key = remote.url[5:].partition("/")
        try:
            obj = aws.client("s3").get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise ReferenceError(f"{what}: {remote.url}: {exc.response['Error'].get('Code')}") from None
        read, modified = obj["Body"].read, obj["LastModified"].timestamp()
    else:
        try:
            resp = urllib.request.urlopen(remote.url, timeout=URL_TIMEOUT)  # noqa: S310 (https only: parse_spec)
        except OSError as exc:
            raise ReferenceError(f"{what}: {remote.url}: {exc}") from None
        read = resp.read
        stamp = resp.headers.get("Last-Modified")
        modified = email.utils.parsedate_to_datetime(stamp).timestamp() if stamp else None
    with open(dest, "wb") as out:
        digest, size = copy_hashed(read, out)
    if digest != remote.sha256:
        raise ReferenceError(
            f"{what}: {remote.url}: sha256 is {digest} ({size} bytes), the values say {remote.sha256} "
            "(a wrong checksum, or the file changed at its URL)"
        )
    if modified is not None:
        os.utime(dest, (modified, modified))


def _upload(s3: Any, bucket: str, key: str, path: Path) -> None:
    s3.upload_file(str(path), bucket, key)


def build_one_bundle(b: Bundle, aws: Aws, bucket: str, work: Path) -> str:
    s3 = aws.client("s3")
    file, manifest = b.files
    if exists(s3, bucket, b.prefix + manifest):
        return "built before"
    inputs = work / "inputs"
    inputs.mkdir()
    model, fasta = inputs / b.gene_model.file_name, inputs / b.fasta.file_name
    if model.name == fasta.name:
        fasta = inputs / f"fasta-{fasta.name}"
    download(b.gene_model, model, aws, f"bundle {b.name}: geneModel")
    download(b.fasta, fasta, aws, f"bundle {b.name}: fasta")
    try:
        path = build_bundle(
            b.name,
            fasta=fasta,
            gff3=model if b.model_format == "gff3" else None,
            gtf=model if b.model_format == "gtf" else None,
            assembly=b.assembly,
            db_dir=work / "db",
        )
    except GeneModelError as exc:
        raise ReferenceError(f"bundle {b.name}: {exc}") from None
    # The file, then the manifest: the manifest's presence is what "built" means.
    _upload(s3, bucket, b.prefix + file, path)
    _upload(s3, bucket, b.prefix + manifest, path.with_name(manifest))
    return "built"


def check_one_source(s: Source, aws: Aws, bucket: str, work: Path) -> str:
    s3 = aws.client("s3")
    if exists(s3, bucket, s.prefix + "source.json"):
        return "checked before"
    folder = work / s.name
    folder.mkdir()
    data, index = folder / s.file, folder / (s.file + s.index_suffix)
    download(s.data, data, aws, f"source {s.name}")
    download(s.index, index, aws, f"source {s.name}: index")
    declaration = work / "sources.json"
    declaration.write_text(json.dumps({"sources": [s.declaration()]}))
    try:
        # the engine's own check, as the annotator runs it at start, and the compiled form
        load_sources(declaration, compile_missing=True)
    except SourceError as exc:
        raise ReferenceError(str(exc)) from None
    _upload(s3, bucket, s.prefix + s.file, data)
    _upload(s3, bucket, s.prefix + s.file + s.index_suffix, index)
    for name in compiled_files(s.file):  # the compiled form, then its manifest (naming the file's sha256)
        _upload(s3, bucket, s.prefix + name, folder / name)
    s3.put_object(Bucket=bucket, Key=s.prefix + "source.json", Body=json.dumps(s.declaration()).encode())
    return "checked"


def build(spec: Spec, aws: Aws, bucket: str, work_dir: Path) -> list[str]:
    """Build every item not yet built; the failures' messages (empty: all in place)."""
    failures = []
    items: list[tuple[str, Bundle | Source]] = [("bundle", b) for b in spec.bundles]
    items += [("source", s) for s in spec.sources]
    for kind, item in items:
        work = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=work_dir))
        try:
            if isinstance(item, Bundle):
                outcome = build_one_bundle(item, aws, bucket, work)
            else:
                outcome = check_one_source(item, aws, bucket, work)
            log.info("references.ready", kind=kind, name=item.name, key=item.key, outcome=outcome)
        except (ReferenceError, OSError, ClientError, BotoCoreError) as exc:
            log.error("references.failed", kind=kind, name=item.name, error=str(exc))
            failures.append(str(exc))
        finally:
            shutil.rmtree(work, ignore_errors=True)  # inputs can be gigabytes: never two at once
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gas-build-references",
        description="Build the deployment's bundles and check its annotation sources (GAS_REFERENCES_SPEC) "
        "into the references bucket, each once.",
    )
    parser.add_argument("--spec", default=None, help="a spec file (default: $GAS_REFERENCES_SPEC)")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()), help="scratch for inputs")
    args = parser.parse_args(argv)
    settings = load_settings(CoreSettings)
    configure_logging("references", settings.log_level)
    try:
        spec = load_spec(args.spec)
    except (ReferenceError, OSError) as exc:
        print(f"gas-build-references: {exc}", file=sys.stderr)
        return 2
    args.work_dir.mkdir(parents=True, exist_ok=True)
    failures = build(spec, Aws(settings), bucket_of(settings), args.work_dir)
    for failure in failures:
        print(f"gas-build-references: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
