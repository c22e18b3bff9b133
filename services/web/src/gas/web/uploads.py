"""Upload keys and presigned POST policies: the one place that decides what a safe
input name and key look like (static/upload.js mirrors safe_filename for the browser)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

ALLOWED_SUFFIXES = (".vcf", ".vcf.gz")
MAX_NAME_LENGTH = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# What the user says with the file travels as the object's metadata (form fields of the
# presigned POST): the assembly it is on, and a job name or note (percent-encoded by
# upload.js, as S3 metadata is ASCII).
META_ASSEMBLY = "x-amz-meta-assembly"
META_JOB_NAME = "x-amz-meta-job-name"
MAX_JOB_NAME = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_filename(name: str) -> str:
    """Last path component, every unusual character replaced by "_", no leading dots."""
    base = re.split(r"[\\/]", name)[-1]
    base = _UNSAFE.sub("_", base).lstrip(".")
    if len(base) > MAX_NAME_LENGTH:
        # Keep the suffix so a long name still reads as a VCF.
        suffix = next((s for s in ALLOWED_SUFFIXES[::-1] if base.lower().endswith(s)), "")
        base = base[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return base


def has_allowed_suffix(name: str) -> bool:
    lower = name.lower()
    return any(lower.endswith(s) and len(lower) > len(s) for s in ALLOWED_SUFFIXES)


# Browser uploads land under uploads/ and expire there after a day unless a job claims
# them (the form can be reused within its lifetime for objects that never become jobs);
# a claimed upload is copied under inputs/, which has its own retention (gas-provision).
UPLOADS, INPUTS = "uploads/", "inputs/"


def key_prefix(user_id: str, job_id: str) -> str:
    return f"{UPLOADS}{user_id}/{job_id}~"


def claimed_key(upload_key: str) -> str:
    """Where a claimed upload lives once it is a job's input."""
    return INPUTS + upload_key.removeprefix(UPLOADS)


@dataclass(frozen=True)
class UploadKey:
    job_id: str
    file_name: str


class UploadKeyError(ValueError):
    """The key is not a well-formed upload of this user (message is shown to the user)."""


def parse_key(key: str, user_id: str) -> UploadKey:
    """Split `uploads/<user_id>/<job_id>~<name>`; raise UploadKeyError when it is not this
    user's or the job id is malformed. The name is returned unchecked (see name_problem)."""
    prefix = f"{UPLOADS}{user_id}/"
    if not key.startswith(prefix):
        raise UploadKeyError("this upload does not belong to you")
    job_id, sep, name = key[len(prefix) :].partition("~")
    if not sep:
        raise UploadKeyError("the upload key has no job id")
    try:
        canonical = str(uuid.UUID(job_id))
    except ValueError:
        raise UploadKeyError("the upload key has no valid job id") from None
    if canonical != job_id:
        raise UploadKeyError("the upload key has no valid job id")
    return UploadKey(job_id=job_id, file_name=name)


def clean_job_name(raw: str | None) -> str | None:
    """A job name or note as given (percent-encoded or not): one line, trimmed, at most
    MAX_JOB_NAME characters; None when blank."""
    if not raw:
        return None
    text = _CONTROL.sub(" ", unquote(raw)).strip()
    return text[:MAX_JOB_NAME] or None


def name_problem(name: str) -> str | None:
    """Why an uploaded name cannot be accepted, or None when it is a safe VCF name."""
    if not name or safe_filename(name) != name:
        return "the file name must use only letters, digits, '.', '_' and '-'"
    if not has_allowed_suffix(name):
        return "only .vcf and .vcf.gz files can be annotated"
    return None


def presigned_upload(
    s3: Any,
    bucket: str,
    user_id: str,
    job_id: str,
    max_bytes: int,
    redirect_url: str,
    expires_in: int,
) -> dict[str, Any]:
    """A presigned POST that only accepts keys under this user's job and sizes up to max_bytes."""
    prefix = key_prefix(user_id, job_id)
    # ${filename} is S3's own substitution: the form still works without JavaScript
    # (the server then refuses a name that is not already safe).
    fields = {"key": prefix + "${filename}", "success_action_redirect": redirect_url}
    conditions: list[Any] = [
        ["starts-with", "$key", prefix],
        ["content-length-range", 1, max_bytes],
        {"success_action_redirect": redirect_url},
        # The form's own fields (checked by the web app when it creates the job).
        ["starts-with", f"${META_ASSEMBLY}", ""],
        ["starts-with", f"${META_JOB_NAME}", ""],
    ]
    post = s3.generate_presigned_post(
        Bucket=bucket, Key=fields["key"], Fields=fields, Conditions=conditions, ExpiresIn=expires_in
    )
    return {"url": post["url"], "fields": post["fields"], "key_prefix": prefix}
