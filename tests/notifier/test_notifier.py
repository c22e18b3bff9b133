"""The notifier sends one email per finished job, through moto's SES over HTTP."""

import pytest
from jobs_support import new_job
from support import sent_emails

from gas.core.errors import PermanentError
from gas.core.events import JobCompleted, envelope
from gas.core.job_record import JobStatus
from gas.core.jobs import JobStore, new_job_id
from gas.core.users import UserStore
from gas.core.worker import Message
from gas.notifier.worker import Notifier, NotifierSettings


def _message(body):
    return Message(body=body, message_id="m", receipt_handle="r", receive_count=1, sent_at=0)


@pytest.fixture
def finished_job(provisioned):
    users, jobs = UserStore(provisioned), JobStore(provisioned)
    user_id = f"user-{new_job_id()}"
    users.upsert(user_id, "Ada", f"{user_id}@example.org")
    job_id = new_job_id()
    jobs.create(new_job(user_id, "free_1.vcf", job_id=job_id))
    attempt = jobs.start(job_id, "m-1", 60).attempt
    return jobs.finish(job_id, attempt, JobStatus.FAILED, error="line 3: POS is not a number")


def test_one_email_per_job_even_when_delivered_twice(provisioned, finished_job, moto_url):
    notifier = Notifier(NotifierSettings(metrics_port=0), provisioned)
    event = envelope(JobCompleted(finished_job.job_id, finished_job.user_id, "FAILED", finished_job.completed_at))
    notifier(_message(event))
    notifier(_message(event))
    mine = [
        m for m in sent_emails(moto_url) if m["destinations"]["ToAddresses"] == [f"{finished_job.user_id}@example.org"]
    ]
    assert len(mine) == 1
    assert "failed" in mine[0]["subject"] and "line 3: POS is not a number" in mine[0]["body"]
    assert f"/annotations/{finished_job.job_id}" in mine[0]["body"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"type": "job.completed", "version": 99, "data": {}}',
        '{"type": "user.upgraded", "version": 1, "data": {}}',
    ],
)
def test_unknown_or_malformed_events_are_permanent_errors(provisioned, body):
    notifier = Notifier(NotifierSettings(metrics_port=0), provisioned)
    with pytest.raises(PermanentError):
        notifier(_message(body))


def test_a_cancelled_job_gets_no_email(provisioned, moto_url):
    """The annotator publishes nothing for a cancel; an event that arrives anyway (an
    older annotator during a rolling upgrade) is dropped, and the job is not claimed."""
    users, jobs = UserStore(provisioned), JobStore(provisioned)
    user_id = f"user-{new_job_id()}"
    users.upsert(user_id, "Ada", f"{user_id}@example.org")
    job = new_job(user_id, "free_1.vcf")
    jobs.create(job)
    jobs.start(job.job_id, "m-1", 60)
    assert jobs.cancel(job.job_id, user_id).job.status == JobStatus.CANCELLED
    notifier = Notifier(NotifierSettings(metrics_port=0), provisioned)
    notifier(_message(envelope(JobCompleted(job.job_id, user_id, "CANCELLED", "2026-01-01T00:00:00.000Z"))))
    assert not [m for m in sent_emails(moto_url) if m["destinations"]["ToAddresses"] == [f"{user_id}@example.org"]]
    assert jobs.get(job.job_id).notified_at is None
