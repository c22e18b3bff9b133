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


class _Prefixed:
    """A resource name read on a ResourceNames: its prefix, a dash, then this suffix."""

    def __init__(self, suffix: str):
        self.suffix = suffix

    def __get__(self, names: ResourceNames, owner: type[ResourceNames]) -> str:
        return f"{names.prefix}-{self.suffix}"


@dataclass(frozen=True)
class ResourceNames:
    prefix: str

    inputs_bucket = _Prefixed("inputs")
    results_bucket = _Prefixed("results")
    # Built bundles and checked annotation sources, content-addressed (gas.core.references).
    references_bucket = _Prefixed("references")
    jobs_table = _Prefixed("jobs")
    users_table = _Prefixed("users")
    # The API's own state (gas.core.tokens): personal access tokens, per-token request
    # counters and idempotency keys, one item each (key `pk`), expired by TTL.
    api_table = _Prefixed("api")
    # The Glacier vault of the legacy `glacier-vault` cold-storage backend.
    vault = _Prefixed("archive")

    # The GSI listing one user's personal access tokens (only token items carry user_id).
    tokens_by_user_index = "user_id-created_at-index"
    # The GSI listing one user's jobs newest first.
    jobs_by_user_index = "user_id-submitted_at-index"
    # The sparse GSI of unfinished jobs, oldest first: the sweeper's view of jobs that lost
    # their message. Its partition key `active_shard` is "<status>#<n>" (gas.core.jobs), so
    # the writes of every job spread over 2 x GAS_ACTIVE_SHARDS partition values.
    active_jobs_index = "active_shard-submitted_at-index"
    # Its unsharded predecessor (`active` = PENDING | RUNNING: two hot partition values):
    # provisioning moves what it still holds to the sharded index, then deletes it.
    legacy_active_jobs_index = "active-submitted_at-index"

    def topic(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    # A queue is named as a topic is: the prefix, a dash, the short name.
    queue = topic

    def dlq(self, short: str) -> str:
        return f"{self.queue(short)}-dlq"
