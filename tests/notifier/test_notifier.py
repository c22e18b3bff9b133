"""The notifier sends one email per finished job, through moto's SES over HTTP."""

import pytest
from support import sent_emails

from gas.core.config import WorkerSettings
from gas.core.errors import PermanentError
from gas.core.events import JOB_COMPLETED, new_event
from gas.core.jobs import JobStore, new_job_id
from gas.core.timeutil import utc_now_iso
from gas.core.users import UserStore
from gas.core.worker import Message
from gas.notifier.worker import Notifier


def _message(body):
    return Message(body=body, message_id="m", receipt_handle="r", receive_count=1, sent_at=0)


@pytest.fixture
def finished_job(provisioned):
    users, jobs = UserStore(provisioned), JobStore(provisioned)
    user_id = f"user-{new_job_id()}"
    users.upsert(user_id, "Ada", f"{user_id}@example.org")
    job_id = new_job_id()
    jobs.create({"job_id": job_id, "user_id": user_id, "input_file_name": "free_1.vcf", "submitted_at": utc_now_iso()})
    attempt = jobs.start(job_id)
    return jobs.finish(job_id, attempt, "FAILED", error="line 3: POS 'x' is not a number")


def test_one_email_per_job_even_when_delivered_twice(provisioned, finished_job, moto_url):
    notifier = Notifier(WorkerSettings(metrics_port=0), provisioned)
    event = new_event(
        JOB_COMPLETED,
        job_id=finished_job["job_id"],
        user_id=finished_job["user_id"],
        status="FAILED",
        completed_at=finished_job["completed_at"],
    )
    notifier(_message(event.to_json()))
    notifier(_message(event.to_json()))
    mine = [
        m
        for m in sent_emails(moto_url)
        if m["destinations"]["ToAddresses"] == [f"{finished_job['user_id']}@example.org"]
    ]
    assert len(mine) == 1
    assert "failed" in mine[0]["subject"] and "line 3: POS 'x' is not a number" in mine[0]["body"]
    assert f"/annotations/{finished_job['job_id']}" in mine[0]["body"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"type": "job.completed", "version": 99, "data": {}}',
        '{"type": "user.upgraded", "version": 1, "data": {}}',
    ],
)
def test_unknown_or_malformed_events_are_permanent_errors(provisioned, body):
    notifier = Notifier(WorkerSettings(metrics_port=0), provisioned)
    with pytest.raises(PermanentError):
        notifier(_message(body))
