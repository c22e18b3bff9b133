"""Names of every AWS resource, derived from one prefix (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass

# Worker queues and the topic each is subscribed to (raw delivery); None: fed directly.
QUEUE_TOPICS: dict[str, str | None] = {
    "annotate": "job-requests",
    "notify": "job-completed",
    "archive": "job-completed",
    "restore": "user-upgraded",
    "thaw": None,  # restore-completion checks, sent by the restore consumer
}
# Receives before a queue dead-letters a message. The thaw queue re-checks a restore
# until it completes (hours for Standard), so each check is a receive.
MAX_RECEIVES_OVERRIDE: dict[str, int] = {"thaw": 1000}
TOPICS = ("job-requests", "job-completed", "user-upgraded")


@dataclass(frozen=True)
class ResourceNames:
    prefix: str

    @property
    def inputs_bucket(self) -> str:
        return f"{self.prefix}-inputs"

    @property
    def results_bucket(self) -> str:
        return f"{self.prefix}-results"

    @property
    def jobs_table(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def users_table(self) -> str:
        return f"{self.prefix}-users"

    # The GSI listing one user's jobs newest first.
    jobs_by_user_index = "user_id-submitted_at-index"
    # The sparse GSI of unfinished jobs (attribute `active` = PENDING | RUNNING), oldest
    # first: the sweeper's view of jobs that lost their message.
    active_jobs_index = "active-submitted_at-index"

    @property
    def vault(self) -> str:
        """The Glacier vault of the legacy `glacier-vault` cold-storage backend."""
        return f"{self.prefix}-archive"

    def topic(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def queue(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def dlq(self, short: str) -> str:
        return f"{self.prefix}-{short}-dlq"
