"""Job records as the web app creates them, for tests that arrange a job's state directly."""

from __future__ import annotations

import uuid
from typing import Any

from gas.core.aws import Aws
from gas.core.job_record import Job
from gas.core.jobs import JobStore, new_job_id
from gas.core.timeutil import utc_now_iso


def new_job(user_id: str, name: str = "sample.vcf", **fields: Any) -> Job:
    """A Job for `user_id` uploading `name`; any other Job attribute may be given."""
    job_id = fields.pop("job_id", None) or new_job_id()
    values: dict[str, Any] = {
        "input_bucket": "inputs",
        "input_key": f"{user_id}/{job_id}~{name}",
        "input_size": 100,
        "submitted_at": utc_now_iso(),
        **fields,
    }
    return Job(job_id=job_id, user_id=user_id, input_file_name=name, **values)


def uploaded_job(
    aws: Aws,
    body: bytes,
    name: str = "input.vcf",
    user_id: str | None = None,
    submitted_at: str = "2026-11-29T00:00:00.000Z",
    input_size: int | None = None,
) -> Job:
    """What the web app records once the browser's upload lands (annotations.new_job): the
    object in the inputs bucket and the PENDING job naming it (its ETag, its size unless
    `input_size` says otherwise). No event is published."""
    user_id = user_id or f"user-{uuid.uuid4().hex[:8]}"
    job_id = new_job_id()
    bucket, key = aws.names.inputs_bucket, f"{user_id}/{job_id}~{name}"
    etag = aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
    job = Job(
        job_id=job_id,
        user_id=user_id,
        input_file_name=name,
        input_bucket=bucket,
        input_key=key,
        input_size=len(body) if input_size is None else input_size,
        input_etag=etag,
        submitted_at=submitted_at,
    )
    assert JobStore(aws).create(job)
    return job


def put_results(s3: Any, bucket: str, objects: dict[str, tuple[str, bytes]]) -> dict[str, str]:
    """A finished job's objects ({job field: (key, body)}) into `bucket`, as the annotator
    leaves them; the job fields that name them ({job field: key})."""
    for key, body in objects.values():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return {field: key for field, (key, _) in objects.items()}
