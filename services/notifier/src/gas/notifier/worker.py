"""gas-notifier: one SES email per finished job (completed or failed), never two.

A CANCELLED job gets none: its user ended it on a page, the API or the CLI and was
answered there, and nothing is ready to fetch (the annotator publishes no job.completed
for it; an event that arrives anyway is dropped here)."""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from gas.core.aws import Aws
from gas.core.config import WorkerSettings, load_settings
from gas.core.deletion_cost import worker_hooks
from gas.core.errors import PermanentError
from gas.core.events import JobCompleted, parse_event
from gas.core.job_record import Job, JobStatus
from gas.core.jobs import JobStore
from gas.core.observability import configure_logging
from gas.core.users import User, UserStore
from gas.core.worker import Message, QueueWorker

log = structlog.get_logger()

EMAILS_SENT = Counter("gas_notifier_emails_sent_total", "Emails sent, by job status", ["status"])


def compose(job: Job, user: User, public_url: str) -> tuple[str, str]:
    """Subject and body. No file content: the error is the engine's one line, which names
    a line number and a field, never the data."""
    name = job.input_file_name
    link = f"{public_url}/annotations/{job.job_id}"
    if job.status == JobStatus.COMPLETED:
        subject = f"GAS: annotation of {name} is ready"
        body = f"Hello {user.name},\n\nYour annotation job for {name} completed.\nResults: {link}\n"
    else:
        subject = f"GAS: annotation of {name} failed"
        body = (
            f"Hello {user.name},\n\nYour annotation job for {name} failed:\n"
            f"  {job.error or 'unknown error'}\nDetails: {link}\n"
        )
    return subject, body + "\n-- GAS, the Genomics Annotation Service\n"


class Notifier:
    def __init__(self, settings: WorkerSettings, aws: Aws):
        self.settings = settings
        self.ses = aws.client("ses")
        self.jobs = JobStore(aws)
        self.users = UserStore(aws)

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
        user = self.users.get(job.user_id)
        if user is None or not user.email:
            raise PermanentError(f"user {job.user_id} has no email address")
        # Claim first: a redelivery (or a second replica) finds the claim and sends nothing.
        if not self.jobs.mark_notified(job_id):
            log.info("notifier.already_sent", job_id=job_id)
            return
        subject, body = compose(job, user, self.settings.public_url)
        try:
            self.ses.send_email(
                Source=self.settings.ses_sender,
                Destination={"ToAddresses": [user.email]},
                Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": body}}},
            )
        except Exception:
            self.jobs.clear_notified(job_id)  # not sent: let the redelivery try again
            raise
        EMAILS_SENT.labels(str(job.status)).inc()
        log.info("notifier.sent", job_id=job_id, user_id=job.user_id, status=str(job.status))


def main() -> int:
    settings = load_settings(WorkerSettings)
    configure_logging("notifier", settings.log_level)
    hooks = worker_hooks(settings, "notify")
    aws = Aws(settings)
    return QueueWorker("notify", Notifier(settings, aws), settings, aws, hooks=hooks).run()


if __name__ == "__main__":
    raise SystemExit(main())
