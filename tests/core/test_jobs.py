"""Job transitions are conditional writes: duplicates and stale workers change nothing."""

import time

import pytest
from jobs_support import new_job

from gas.core.job_record import STATUS_TRANSITIONS, STORAGE_TRANSITIONS, Job, JobStatus, Storage, can_move
from gas.core.jobs import JobStore

LEASE = 30.0


def _job(store, user="u1", submitted_at=None) -> str:
    job = new_job(user, "a.vcf", **({"submitted_at": submitted_at} if submitted_at else {}))
    assert store.create(job)
    return job.job_id


def test_create_is_once_only(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    assert not store.create(new_job("u2", job_id=job_id))
    assert store.get(job_id).user_id == "u1"


def test_a_duplicate_delivery_never_takes_over_a_live_attempt(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    first = store.start(job_id, "message-1", LEASE)
    assert first.attempt == 1 and store.get(job_id).status == JobStatus.RUNNING
    # A second message for the same job (a re-publish), and the same message again:
    # neither starts a second attempt while the holder's lease runs.
    other = store.start(job_id, "message-2", LEASE)
    again = store.start(job_id, "message-1", LEASE)
    assert other.attempt is None and other.held_by == "message-1" and 0 < other.lease_left <= LEASE
    assert again.attempt is None and again.held_by == "message-1"
    assert store.get(job_id).attempt == 1
    assert store.finish(job_id, 1, JobStatus.COMPLETED).status == JobStatus.COMPLETED
    done = store.start(job_id, "message-2", LEASE)
    assert done.attempt is None and done.finished.status == JobStatus.COMPLETED


def test_an_expired_lease_is_taken_over_and_the_old_attempt_fenced_off(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    first = store.start(job_id, "message-1", 0.5).attempt
    time.sleep(0.7)  # the holder died: its lease ran out
    second = store.start(job_id, "message-1", LEASE).attempt
    assert (first, second) == (1, 2)
    assert not store.renew_lease(job_id, first, "message-1", LEASE)
    assert store.finish(job_id, first, JobStatus.COMPLETED) is None
    assert store.finish(job_id, second, JobStatus.FAILED, error="x").status == JobStatus.FAILED
    assert store.finish(job_id, second, JobStatus.COMPLETED) is None
    record = store.get(job_id)
    assert record.status == JobStatus.FAILED and record.lease_owner is None and record.lease_expires_at is None


def test_renewing_keeps_the_lease_and_release_hands_back_without_counting(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    attempt = store.start(job_id, "message-1", 1.0).attempt
    for _ in range(3):
        time.sleep(0.4)
        assert store.renew_lease(job_id, attempt, "message-1", 1.0)
    assert store.start(job_id, "message-2", LEASE).attempt is None, "a renewed lease expired"
    assert not store.release(job_id, attempt, "message-2"), "only the holder hands back"
    assert store.release(job_id, attempt, "message-1")
    record = store.get(job_id)
    assert record.status == JobStatus.PENDING and record.attempt == 0 and record.lease_owner is None
    assert store.start(job_id, "message-2", LEASE).attempt == 1


def test_stale_unfinished_jobs_are_listed_oldest_first(provisioned):
    store = JobStore(provisioned)
    old = [_job(store, submitted_at=f"2026-01-01T00:00:0{i}.000Z") for i in range(3)]
    _job(store)  # now: not stale
    running = old[1]
    store.start(running, "m", LEASE)
    stale_pending = store.active_before(JobStatus.PENDING, "2026-06-01T00:00:00.000Z")
    assert [j for j in stale_pending if j in old] == [old[0], old[2]]
    assert running in store.active_before(JobStatus.RUNNING, "2026-06-01T00:00:00.000Z")
    store.finish(running, 1, JobStatus.COMPLETED)
    assert running not in store.active_before(JobStatus.RUNNING, "2026-06-01T00:00:00.000Z")


def test_unfinished_jobs_spread_over_shards_and_every_shard_is_read(provisioned):
    """The index of unfinished jobs takes each job's writes in one of GAS_ACTIVE_SHARDS
    partitions per status, not in PENDING or RUNNING alone; the sweeper's read merges all."""
    store, ddb = JobStore(provisioned), provisioned.client("dynamodb")
    ids = [_job(store, submitted_at=f"2026-01-01T00:00:{i:02d}.000Z") for i in range(24)]
    for job_id in ids[:6]:
        store.start(job_id, "m", LEASE)
    items = ddb.scan(TableName=provisioned.names.jobs_table)["Items"]
    shards = {i["job_id"]["S"]: i["active_shard"]["S"] for i in items}
    assert {s.split("#")[0] for s in shards.values()} == {"PENDING", "RUNNING"}
    assert len({s for s in shards.values() if s.startswith("PENDING#")}) >= 5, shards  # of 8, for 18 jobs
    assert all(0 <= int(s.split("#")[1]) < 8 for s in shards.values())
    assert "active" not in {k for i in items for k in i}
    cutoff = "2026-06-01T00:00:00.000Z"
    assert store.active_before(JobStatus.PENDING, cutoff) == ids[6:]  # oldest first across shards
    assert store.active_before(JobStatus.RUNNING, cutoff) == ids[:6]
    store.release(ids[0], 1, "m")
    store.finish(ids[1], 1, JobStatus.COMPLETED)
    store.cancel(ids[6], "u1")
    assert store.active_before(JobStatus.PENDING, cutoff) == [ids[0], *ids[7:]]
    assert store.active_before(JobStatus.RUNNING, cutoff) == ids[2:6]
    gone = ddb.get_item(TableName=provisioned.names.jobs_table, Key={"job_id": {"S": ids[1]}})["Item"]
    assert "active_shard" not in gone


def test_ownership_and_listing_newest_first_with_pages(provisioned):
    store = JobStore(provisioned)
    ids = [_job(store, submitted_at=f"2026-01-01T00:00:{i:02d}.000Z") for i in range(5)]
    other = _job(store, user="u2")
    assert store.get_for_user(other, "u1") is None and store.get_for_user(ids[0], "u1")
    page1 = store.list_for_user("u1", limit=3)
    page2 = store.list_for_user("u1", limit=3, cursor=page1.next_cursor)
    listed = [j.job_id for j in page1.jobs + page2.jobs]
    assert listed == ids[::-1] and page2.next_cursor is None


def test_notified_once(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    assert store.mark_notified(job_id) and not store.mark_notified(job_id)
    store.clear_notified(job_id)
    assert store.mark_notified(job_id)


def test_finish_accepts_only_job_attributes_and_final_states(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    attempt = store.start(job_id, "m", LEASE).attempt
    with pytest.raises(ValueError, match="not job attributes"):
        store.finish(job_id, attempt, JobStatus.COMPLETED, reslt_key="typo")
    with pytest.raises(ValueError, match="COMPLETED or FAILED"):
        store.finish(job_id, attempt, JobStatus.PENDING)


def test_the_transition_tables_match_the_docstring():
    import gas.core.job_record as module

    doc = module.__doc__
    for table in (STATUS_TRANSITIONS, STORAGE_TRANSITIONS):
        for source, targets in table.items():
            for target in targets:
                assert f"{source.value:<9} -> {target.value}" in doc, f"{source} -> {target} not documented"
                assert can_move(source, target)
    assert not can_move(JobStatus.COMPLETED, JobStatus.RUNNING)
    assert not can_move(Storage.HOT, Storage.RESTORING)


def test_a_record_round_trips_and_unknown_attributes_are_ignored():
    job = new_job("u1", summary={"variants": 3}, lease_expires_at=12.5, archive_refs={"result_key": "r"})
    record = job.to_record()
    assert "error" not in record and record["status"] == "PENDING"
    again = Job.from_record({**record, "lease_expires_at": 12.5, "added_by_a_newer_version": 1})
    assert again == job


def test_cancel_by_the_owner_fences_the_holder_off_and_uncounts_its_attempt(provisioned):
    store = JobStore(provisioned)
    pending, running, done = _job(store), _job(store), _job(store)
    attempt = store.start(running, "message-1", LEASE).attempt
    store.finish(done, store.start(done, "m", LEASE).attempt, JobStatus.COMPLETED)
    assert store.cancel(pending, "u2").job is None, "only the owner cancels"
    assert store.get(pending).status == JobStatus.PENDING
    answer = store.cancel(pending, "u1")
    assert answer.was == JobStatus.PENDING
    cancelled = answer.job
    assert cancelled.status == JobStatus.CANCELLED and cancelled.cancelled_at and cancelled.attempt == 0
    assert store.start(pending, "message-9", LEASE).finished.status == JobStatus.CANCELLED, "never starts"

    cancelled = store.cancel(running, "u1").job
    assert cancelled.status == JobStatus.CANCELLED and cancelled.attempt == attempt - 1
    assert cancelled.lease_owner is None and store.is_cancelled(running)
    assert not store.renew_lease(running, attempt, "message-1", LEASE), "the holder is fenced off"
    assert store.finish(running, attempt, JobStatus.COMPLETED) is None
    assert running not in store.active_before(JobStatus.RUNNING, "2099-01-01")
    again = store.cancel(running, "u1")
    assert again.job.status == JobStatus.CANCELLED and again.refused is None, "a second click answers it again"
    assert again.was is None, "only the first cancel counts"

    refused = store.cancel(done, "u1")
    assert refused.refused == "it has already finished (COMPLETED)" and not store.is_cancelled(done)


def test_rename_by_the_owner_only_and_never_while_deleting(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    assert store.rename(job_id, "u2", "mine now") is None and store.get(job_id).name is None
    assert store.rename(job_id, "u1", "trio, run 2").name == "trio, run 2"
    assert store.rename(job_id, "u1", None).name is None
    store.mark_deleting(job_id, "u1")
    assert store.rename(job_id, "u1", "late") is None
