"""Job records as the web app creates them, for tests that arrange a job's state directly."""

from __future__ import annotations

from typing import Any

from gas.core.job_record import Job
from gas.core.jobs import new_job_id
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
