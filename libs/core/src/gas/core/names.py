"""Names of every AWS resource, derived from one prefix (DESIGN.md, "AWS resources")."""

from __future__ import annotations

from dataclasses import dataclass

# Worker queues and the topic each is subscribed to (raw delivery).
QUEUE_TOPICS: dict[str, str] = {
    "annotate": "job-requests",
    "notify": "job-completed",
}
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

    def topic(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def queue(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def dlq(self, short: str) -> str:
        return f"{self.prefix}-{short}-dlq"
