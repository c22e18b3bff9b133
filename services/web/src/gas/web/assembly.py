"""Which assembly an uploaded VCF is on, judged from its first bytes before a job exists.

The evidence is the engine's own (`gas.core.assembly.detect`: `##reference`,
`##contig` lengths, positions past a chromosome's end), read from the head of the object
in S3 with one ranged GET, decompressed as far as it goes for a gzip/BGZF file. The
engine checks again on the whole file when it runs, so a job whose assembly the user did
not confirm is never annotated against the wrong database.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import structlog

from gas.core.assembly import detect

log = structlog.get_logger()

HEAD_BYTES = 4 << 20  # read from S3
MAX_TEXT_BYTES = 16 << 20  # decompressed


@dataclass(frozen=True)
class AssemblyCheck:
    likely: str | None = None  # the assembly the file looks like, if any
    conflict: str | None = None  # why it does not look like the one chosen (one line, no file content)
    reasons: list[str] = field(default_factory=list)


def head_lines(data: bytes, complete: bool) -> list[str]:
    """Text lines of the start of a VCF (plain, gzip or BGZF: decompressed as far as the
    bytes go). The last, possibly cut, line is dropped unless `complete`."""
    if data[:2] == b"\x1f\x8b":
        text = bytearray()
        rest = data
        # BGZF and concatenated gzip are several members: decompress one after another.
        while rest[:2] == b"\x1f\x8b" and len(text) < MAX_TEXT_BYTES:
            inflater = zlib.decompressobj(wbits=31)
            try:
                text += inflater.decompress(rest, MAX_TEXT_BYTES - len(text))
            except zlib.error:
                break
            if not inflater.eof:
                complete = False  # cut mid-member: the last line may be partial
                break
            rest = inflater.unused_data
        data = bytes(text)
    lines = data.decode("utf-8", "replace").split("\n")
    if not complete or not lines[-1]:
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def check_object(s3: Any, bucket: str, key: str, assembly: str, etag: str | None = None) -> AssemblyCheck:
    """The evidence of the object's head about `assembly` (of exactly the version `etag`,
    when given: a changed object raises ClientError PreconditionFailed)."""

    only = {"IfMatch": etag} if etag else {}
    obj = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}", **only)
    data = obj["Body"].read()
    size = int(obj.get("ContentRange", "/0").rsplit("/", 1)[-1] or 0) or len(data)
    evidence = detect(head_lines(data, complete=len(data) >= size))
    conflict = evidence.conflict(assembly)
    log.info("upload.assembly_checked", chosen=assembly, likely=evidence.likely, conflict=bool(conflict))
    return AssemblyCheck(likely=evidence.likely, conflict=conflict, reasons=list(evidence.reasons))
