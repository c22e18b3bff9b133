"""One source of truth for job transitions: every JobStore method that writes a job is
driven from every state a job can be in, and every change it makes must be an edge of
job_record's tables; every edge of the tables must be made by some method.

Exhaustive rather than sampled (hypothesis): the states and the methods are few, so all
of them run, against moto over HTTP, in one test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs_support import new_job

from gas.core.job_record import STATUS_TRANSITIONS, STORAGE_TRANSITIONS, Job, JobStatus, Storage
from gas.core.jobs import JobStore
from gas.core.users import UserStore

USER = "u-transitions"
OWNER = "message-1"


@dataclass(frozen=True)
class State:
    status: JobStatus
    storage: Storage = Storage.HOT
    lease_expired: bool = False  # RUNNING only: its holder died
    deleting: bool = False

    def job(self) -> Job:
        fields: dict[str, Any] = {"status": self.status, "storage": self.storage}
        if self.status == JobStatus.RUNNING:
            expires = time.time() + (-5 if self.lease_expired else 60)
            fields |= {"attempt": 1, "lease_owner": OWNER, "lease_expires_at": expires}
        if self.status == JobStatus.COMPLETED:
            fields |= {"attempt": 1, "result_key": f"{USER}/r.vcf"}
        if self.storage != Storage.HOT:
            fields["archive_refs"] = {"result_key": "cold/r.vcf"}
        if self.deleting:
            fields["deleting_since"] = "2026-01-01T00:00:00.000Z"
        return new_job(USER, **fields)


BASE = [
    State(JobStatus.PENDING),
    State(JobStatus.RUNNING),
    State(JobStatus.RUNNING, lease_expired=True),
    State(JobStatus.FAILED),
    State(JobStatus.CANCELLED),
    State(JobStatus.COMPLETED),
    State(JobStatus.COMPLETED, Storage.ARCHIVED),
    State(JobStatus.COMPLETED, Storage.RESTORING),
]
# A RUNNING job is never being deleted: mark_deleting refuses it and start refuses a job
# being deleted (test_jobs covers both), so that state is unreachable.
STATES = BASE + [State(s.status, s.storage, deleting=True) for s in BASE if s.status != JobStatus.RUNNING]

Method = Callable[[JobStore, Job, str], object]
# Every JobStore method that writes a job, with the arguments its caller passes.
METHODS: dict[str, Method] = {
    "start": lambda store, job, _users: store.start(job.job_id, "message-2", 30),
    "renew_lease": lambda store, job, _users: store.renew_lease(job.job_id, 1, OWNER, 30),
    "release": lambda store, job, _users: store.release(job.job_id, 1, OWNER),
    "finish COMPLETED": lambda store, job, _users: store.finish(job.job_id, 1, JobStatus.COMPLETED),
    "finish FAILED": lambda store, job, _users: store.finish(job.job_id, 1, JobStatus.FAILED, error="x"),
    "cancel": lambda store, job, _users: store.cancel(job.job_id, USER),
    "rename": lambda store, job, _users: store.rename(job.job_id, USER, "renamed"),
    "mark_requeued": lambda store, job, _users: store.mark_requeued(job.job_id, job.status, "2099-01-01"),
    "mark_notified": lambda store, job, _users: store.mark_notified(job.job_id),
    "commit_archive": lambda store, job, users: store.commit_archive(job.job_id, USER, users, {"result_key": "c"}),
    "mark_restoring": lambda store, job, _users: store.mark_restoring(job.job_id, "Standard"),
    "mark_restoring again": lambda store, job, _users: store.mark_restoring(job.job_id, "Standard", again=True),
    "mark_thawed": lambda store, job, _users: store.mark_thawed(job.job_id, {"result_key": "r2"}),
    "clear_archive_refs": lambda store, job, _users: store.clear_archive_refs(job.job_id),
    "mark_deleting": lambda store, job, _users: store.mark_deleting(job.job_id, USER),
    "delete": lambda store, job, _users: store.delete(job.job_id),
}


def test_every_method_from_every_state_moves_only_along_the_tables(provisioned):
    store = JobStore(provisioned)
    UserStore(provisioned).upsert(USER, "Transitions", "t@example.org")  # a free user: archiving may go ahead
    users_table = provisioned.names.users_table
    made: set[tuple[Any, Any]] = set()
    wrong: list[str] = []
    for state in STATES:
        for name, method in METHODS.items():
            before = state.job()
            assert store.create(before)
            method(store, before, users_table)
            after = store.get(before.job_id)
            where = f"{name} from {state}"
            if after is None:
                if not before.deleting:
                    wrong.append(f"{where}: removed a job not marked for deletion")
                continue
            if (
                after.deleting
                and not before.deleting
                and (before.status == JobStatus.RUNNING or before.storage == Storage.RESTORING)
            ):
                wrong.append(f"{where}: marked a RUNNING or RESTORING job for deletion")
            moves: list[tuple[Any, Any]] = [
                (source, target)
                for source, target in ((before.status, after.status), (before.storage, after.storage))
                if source != target
            ]
            if after.status == JobStatus.RUNNING and after.attempt > before.attempt:
                moves.append((JobStatus.RUNNING, JobStatus.RUNNING))  # a new attempt
            if before.storage == after.storage == Storage.RESTORING and after.restore_requested_at:
                moves.append((Storage.RESTORING, Storage.RESTORING))  # asked again
            for source, target in moves:
                table: dict[Any, frozenset[Any]] = (
                    STATUS_TRANSITIONS if isinstance(source, JobStatus) else STORAGE_TRANSITIONS  # type: ignore[assignment]
                )
                if target not in table[source]:
                    wrong.append(f"{where}: {source} -> {target} is not in the tables")
                elif before.deleting:
                    wrong.append(f"{where}: {source} -> {target} on a job being deleted")
                made.add((source, target))
    assert not wrong, "\n".join(wrong)
    declared = {(s, t) for table in (STATUS_TRANSITIONS, STORAGE_TRANSITIONS) for s, ts in table.items() for t in ts}
    assert declared - made == set(), "edges of the tables no JobStore method makes"
