"""Job transitions are conditional writes: duplicates and stale workers change nothing."""

from gas.core.jobs import COMPLETED, FAILED, RUNNING, JobStore, new_job_id
from gas.core.timeutil import utc_now_iso


def _job(store, user="u1", submitted_at=None):
    job_id = new_job_id()
    assert store.create(
        {"job_id": job_id, "user_id": user, "input_file_name": "a.vcf", "submitted_at": submitted_at or utc_now_iso()}
    )
    return job_id


def test_create_is_once_only(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    assert not store.create({"job_id": job_id, "user_id": "u2", "submitted_at": utc_now_iso()})
    assert store.get(job_id)["user_id"] == "u1"


def test_a_worker_that_died_is_fenced_off_by_the_next_attempt(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    first = store.start(job_id)
    second = store.start(job_id)  # redelivery after the first worker died
    assert (first, second) == (1, 2) and store.get(job_id)["status"] == RUNNING
    assert store.finish(job_id, first, COMPLETED) is None
    assert store.finish(job_id, second, COMPLETED)["status"] == COMPLETED
    assert store.start(job_id) is None  # finished: duplicates change nothing
    assert store.finish(job_id, second, FAILED) is None
    assert store.get(job_id)["status"] == COMPLETED


def test_ownership_and_listing_newest_first_with_pages(provisioned):
    store = JobStore(provisioned)
    ids = [_job(store, submitted_at=f"2026-01-01T00:00:{i:02d}.000Z") for i in range(5)]
    other = _job(store, user="u2")
    assert store.get_for_user(other, "u1") is None and store.get_for_user(ids[0], "u1")
    page1 = store.list_for_user("u1", limit=3)
    page2 = store.list_for_user("u1", limit=3, cursor=page1.next_cursor)
    listed = [j["job_id"] for j in page1.jobs + page2.jobs]
    assert listed == ids[::-1] and page2.next_cursor is None


def test_notified_once(provisioned):
    store = JobStore(provisioned)
    job_id = _job(store)
    assert store.mark_notified(job_id) and not store.mark_notified(job_id)
    store.clear_notified(job_id)
    assert store.mark_notified(job_id)
