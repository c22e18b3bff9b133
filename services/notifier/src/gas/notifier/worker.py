"""gas-notifier: one SES email per finished job (completed or failed), never two.

A CANCELLED job gets none: its user ended it on a page, the API or the CLI and was
answered there, and nothing is ready to fetch (the annotator publishes no job.completed
for it; an event that arrives anyway is dropped here).

SES caps an account's sends per second (and per day). The notifier paces its sends to
that rate, and a send SES refuses with `Throttling` is handed back to the queue with a
delay (a deferral: a new message, so it never counts toward the dead-letter queue's
maxReceiveCount) instead of failing: a throttled notification waits, it is never lost."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import structlog
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client import Counter
from pydantic import Field

from gas.core.aws import Aws
from gas.core.config import WorkerSettings, load_settings
from gas.core.deletion_cost import worker_hooks
from gas.core.errors import Defer, PermanentError
from gas.core.events import JobCompleted, parse_event
from gas.core.job_record import Job, JobStatus
from gas.core.jobs import JobStore
from gas.core.observability import configure_logging
from gas.core.users import UserStore
from gas.core.worker import Message, QueueWorker

log = structlog.get_logger()

EMAILS_SENT = Counter("gas_notifier_emails_sent_total", "Emails sent, by job status", ["status"])
SES_THROTTLED = Counter(
    "gas_notifier_ses_throttled_total", "Sends SES refused with Throttling (deferred, not lost), by limit", ["limit"]
)
# No botocore retries for SES: a retry would sleep holding the message, and the queue is
# the retry already (a throttled send is deferred; any other failure is redelivered).
_SES_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
# SQS's longest delay: a daily quota is not back sooner (the deferral repeats until it is).
_DAILY_QUOTA_DELAY_SECONDS = 900


class NotifierSettings(WorkerSettings):
    # Emails per second this process sends at most; 0: the account's MaxSendRate (SES
    # GetSendQuota, read at start). With several notifier replicas, give each its share.
    ses_max_send_rate: float = Field(0, ge=0)
    # A send SES throttled comes back after about this many seconds (0.5x to 1.5x, so
    # deferred emails do not return together).
    ses_throttled_delay_seconds: float = Field(30, gt=0, le=900)


class SendRate:
    """Paces calls to at most `per_second`: each caller waits for its own slot, 1/rate
    after the previous one (no burst, so a rate SES enforces per second is never crossed
    by this process)."""

    def __init__(self, per_second: float):
        self.interval = 1 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        time.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """SES throttled us anyway (other senders share the account): no slot for a while."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


def compose(job: Job, user: dict[str, Any], public_url: str) -> tuple[str, str]:
    """Subject and body. No file content: the error is the engine's one line, which names
    a line number and a field, never the data."""
    name = job.input_file_name
    link = f"{public_url}/annotations/{job.job_id}"
    if job.status == JobStatus.COMPLETED:
        subject = f"GAS: annotation of {name} is ready"
        body = f"Hello {user.get('name', '')},\n\nYour annotation job for {name} completed.\nResults: {link}\n"
    else:
        subject = f"GAS: annotation of {name} failed"
        body = (
            f"Hello {user.get('name', '')},\n\nYour annotation job for {name} failed:\n"
            f"  {job.error or 'unknown error'}\nDetails: {link}\n"
        )
    return subject, body + "\n-- GAS, the Genomics Annotation Service\n"


class Notifier:
    def __init__(self, settings: NotifierSettings, aws: Aws):
        self.settings = settings
        self.ses = aws.client_at("ses", None, _SES_CONFIG)
        self.jobs = JobStore(aws)
        self.users = UserStore(aws)
        rate = settings.ses_max_send_rate or float(self.ses.get_send_quota()["MaxSendRate"])
        self.rate = SendRate(rate)
        log.info("notifier.send_rate", per_second=rate, source="config" if settings.ses_max_send_rate else "ses")

    def __call__(self, message: Message) -> None:
        event = parse_event(message.body, JobCompleted)
        job_id = event.job_id
        job = self.jobs.get(job_id)
        if job is None or job.deleting:
            log.info("notifier.job_deleted", job_id=job_id)  # the user deleted it: no email
            return
        if job.status == JobStatus.CANCELLED:
            log.info("notifier.job_cancelled", job_id=job_id)  # the user cancelled it: no email
            return
        user = self.users.get_profile(job.user_id)
        if not user or not user.get("email"):
            raise PermanentError(f"user {job.user_id} has no email address")
        # Claim first: a redelivery (or a second replica) finds the claim and sends nothing.
        if not self.jobs.mark_notified(job_id):
            log.info("notifier.already_sent", job_id=job_id)
            return
        subject, body = compose(job, user, self.settings.public_url)
        self.rate.wait()
        try:
            self.ses.send_email(
                Source=self.settings.ses_sender,
                Destination={"ToAddresses": [user["email"]]},
                Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": body}}},
            )
        except Exception as exc:
            self.jobs.clear_notified(job_id)  # not sent: let the redelivery try again
            if isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "Throttling":
                raise self._throttled(job_id, exc.response["Error"].get("Message", "")) from exc
            raise
        EMAILS_SENT.labels(str(job.status)).inc()
        log.info("notifier.sent", job_id=job_id, user_id=job.user_id, status=str(job.status))

    def _throttled(self, job_id: str, reason: str) -> Defer:
        """SES refused the send for a rate ("Maximum sending rate exceeded.") or the daily
        quota ("Daily message quota exceeded."): defer the message, uncounted."""
        daily = "daily" in reason.lower()
        delay = _DAILY_QUOTA_DELAY_SECONDS if daily else self.settings.ses_throttled_delay_seconds
        delay *= 1 if daily else random.uniform(0.5, 1.5)
        self.rate.pause(1.0)
        SES_THROTTLED.labels("daily" if daily else "rate").inc()
        log.warning("notifier.ses_throttled", job_id=job_id, reason=reason, retry_in_seconds=round(delay, 1))
        return Defer(delay, f"SES throttled: {reason}")


def main() -> int:
    settings = load_settings(NotifierSettings)
    configure_logging("notifier", settings.log_level)
    hooks = worker_hooks(settings, "notify")
    aws = Aws(settings)
    return QueueWorker("notify", Notifier(settings, aws), settings, aws, hooks=hooks).run()


if __name__ == "__main__":
    raise SystemExit(main())
