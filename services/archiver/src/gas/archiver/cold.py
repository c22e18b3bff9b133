"""Cold storage, two backends behind one interface.

`s3-glacier` (default): a copy in the results bucket with StorageClass=GLACIER (Glacier
Flexible Retrieval), brought back with RestoreObject. `glacier-vault` (legacy): Glacier
UploadArchive / InitiateJob. Either way the job record holds an opaque archive_ref.
"""

from __future__ import annotations

import uuid
from typing import Literal, Protocol

from botocore.exceptions import ClientError

from gas.core.aws import Aws

EXPEDITED, STANDARD = "Expedited", "Standard"
# Where a restore stands: the copy can be read, is still coming, or is not there (never
# asked for, or a restored copy that expired before it was read: ask again).
RestoreState = Literal["ready", "in_progress", "absent"]


class ExpeditedUnavailable(Exception):
    """AWS has no expedited retrieval capacity right now: fall back to Standard."""


class ColdStore(Protocol):
    def freeze(self, bucket: str, key: str) -> tuple[str, int]:
        """Copy a hot object into cold storage; returns (archive_ref, bytes)."""

    def discard(self, ref: str) -> None: ...

    def strays(self, bucket: str, key: str, keep: str | None) -> list[str]:
        """Cold copies of `key` other than `keep`, where the backend can list them."""

    def request_restore(self, ref: str, tier: str) -> str | None:
        """Start bringing the object back; returns a restore id where the backend has one."""

    def restore_state(self, ref: str, restore_id: str | None) -> RestoreState: ...

    def thaw_into(self, ref: str, restore_id: str | None, bucket: str, key: str) -> int:
        """Copy the restored object back to hot storage; returns bytes."""


class S3GlacierStore:
    scheme = "s3-glacier"

    def __init__(self, aws: Aws):
        self.s3 = aws.client("s3")

    @staticmethod
    def _object(ref: str) -> dict[str, str]:
        """The cold copy's S3 address, as the S3 calls take it."""
        bucket, key = ref.removeprefix("s3-glacier:").split("/", 1)
        return {"Bucket": bucket, "Key": key}

    @staticmethod
    def cold_prefix(key: str) -> str:
        return f"cold/{key}/"

    def freeze(self, bucket: str, key: str) -> tuple[str, int]:
        # A unique key per attempt: a replica that loses the race discards only its own copy.
        cold_key = f"{self.cold_prefix(key)}{uuid.uuid4().hex}"
        self.s3.copy({"Bucket": bucket, "Key": key}, bucket, cold_key, ExtraArgs={"StorageClass": "GLACIER"})
        size = self.s3.head_object(Bucket=bucket, Key=cold_key)["ContentLength"]
        return f"{self.scheme}:{bucket}/{cold_key}", size

    def strays(self, bucket: str, key: str, keep: str | None) -> list[str]:
        """Cold copies of this object other than `keep` (left by a crash before commit)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=self.cold_prefix(key))
        keep_key = self._object(keep)["Key"] if keep else None
        return [
            f"{self.scheme}:{bucket}/{o['Key']}" for p in pages for o in p.get("Contents", []) if o["Key"] != keep_key
        ]

    def discard(self, ref: str) -> None:
        self.s3.delete_object(**self._object(ref))

    def request_restore(self, ref: str, tier: str) -> str | None:
        restore = {"Days": 1, "GlacierJobParameters": {"Tier": tier}}
        try:
            self.s3.restore_object(**self._object(ref), RestoreRequest=restore)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "GlacierExpeditedRetrievalNotAvailable":
                raise ExpeditedUnavailable(code) from None
            if code != "RestoreAlreadyInProgress":
                raise
        return None

    def restore_state(self, ref: str, restore_id: str | None) -> RestoreState:
        # Works on AWS and moto alike: the object's Restore header, not an S3 event. The
        # header goes away when the restored copy expires (RestoreRequest Days).
        restore = self.s3.head_object(**self._object(ref)).get("Restore", "")
        if 'ongoing-request="false"' in restore:
            return "ready"
        return "in_progress" if 'ongoing-request="true"' in restore else "absent"

    def thaw_into(self, ref: str, restore_id: str | None, bucket: str, key: str) -> int:
        self.s3.copy(self._object(ref), bucket, key, ExtraArgs={"StorageClass": "STANDARD"})
        return self.s3.head_object(Bucket=bucket, Key=key)["ContentLength"]


class GlacierVaultStore:
    scheme = "glacier-vault"

    def __init__(self, aws: Aws):
        self.s3 = aws.client("s3")
        self.glacier = aws.client("glacier")
        self.vault = aws.names.vault

    def _parse(self, ref: str) -> tuple[str, str]:
        vault, archive_id = ref.removeprefix("glacier-vault:").split("/", 1)
        return vault, archive_id

    def freeze(self, bucket: str, key: str) -> tuple[str, int]:
        # Results are small (annotated VCFs); UploadArchive takes up to 4 GiB in one call.
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        archive_id = self.glacier.upload_archive(vaultName=self.vault, body=body, archiveDescription=key)["archiveId"]
        return f"{self.scheme}:{self.vault}/{archive_id}", len(body)

    def strays(self, bucket: str, key: str, keep: str | None) -> list[str]:
        # A vault cannot be listed without an inventory job (hours): a crash between
        # UploadArchive and the commit leaves an archive that only the logs name.
        return []

    def discard(self, ref: str) -> None:
        vault, archive_id = self._parse(ref)
        self.glacier.delete_archive(vaultName=vault, archiveId=archive_id)

    def request_restore(self, ref: str, tier: str) -> str | None:
        vault, archive_id = self._parse(ref)
        try:
            resp = self.glacier.initiate_job(
                vaultName=vault, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": tier}
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "InsufficientCapacityException":
                raise ExpeditedUnavailable("InsufficientCapacityException") from None
            raise
        return resp["jobId"]

    def restore_state(self, ref: str, restore_id: str | None) -> RestoreState:
        vault, _ = self._parse(ref)
        if not restore_id:
            return "absent"
        try:
            job = self.glacier.describe_job(vaultName=vault, jobId=restore_id)
        except ClientError as exc:
            # A retrieval job's output is kept 24 h; after that the job id is unknown.
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return "absent"
            raise
        if not job.get("Completed"):
            return "in_progress"
        return "ready" if job.get("StatusCode") == "Succeeded" else "absent"

    def thaw_into(self, ref: str, restore_id: str | None, bucket: str, key: str) -> int:
        vault, _ = self._parse(ref)
        body = self.glacier.get_job_output(vaultName=vault, jobId=restore_id)["body"].read()
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return len(body)


def cold_store(aws: Aws) -> S3GlacierStore | GlacierVaultStore:
    return GlacierVaultStore(aws) if aws.settings.cold_backend == "glacier-vault" else S3GlacierStore(aws)


def store_for_ref(aws: Aws, ref: str) -> S3GlacierStore | GlacierVaultStore:
    """The backend that wrote `ref` (the configured backend may have changed since)."""
    return GlacierVaultStore(aws) if ref.startswith("glacier-vault:") else S3GlacierStore(aws)
