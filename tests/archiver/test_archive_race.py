"""Archive and restore racing each other, in process so every interleaving is exact
(moto server over HTTP underneath). Flows pause at their failpoints (gas.core.failpoints
hooks); at every pause and at the end the invariant is checked: the result is readable
from a copy the record names, byte for byte. Nothing may be lost in any interleaving."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest

from gas.archiver.worker import Archiver, ArchiverSettings
from gas.core import failpoints
from gas.core.errors import Defer
from gas.core.events import JobCompleted, RestoreCheck, UserUpgraded, envelope
from gas.core.job_record import ARCHIVED_FIELDS, Storage
from gas.core.worker import Message

ARCHIVE_POINTS = ["archive.after_copy", "archive.after_commit", "archive.after_delete", "end"]
RESTORE_POINTS = ["restore.requested", "thaw.after_copy", "thaw.after_mark", "end"]


class Crash(BaseException):
    """A process dying at a failpoint (BaseException: no handler catches it)."""


def _message(body: str) -> Message:
    return Message(body=body, message_id="m", receipt_handle="r", receive_count=1, sent_at=0)


class Flow(threading.Thread):
    """Runs `steps` in a thread that stops at failpoint `pause_at` until resumed."""

    def __init__(self, name: str, steps: Callable[[], None], pause_at: str):
        super().__init__(name=name, daemon=True)
        self.steps, self.pause_at = steps, pause_at
        self.paused, self.resumed, self.done = threading.Event(), threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def at(self, point: str) -> None:
        if point == self.pause_at:
            self.paused.set()
            self.resumed.wait(30)

    def run(self) -> None:
        try:
            self.steps()
            self.at("end")
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc
        finally:
            self.paused.set()
            self.done.set()

    def run_to_pause(self) -> None:
        self.start()
        assert self.paused.wait(30), f"{self.name} never reached {self.pause_at}"

    def finish(self) -> None:
        self.resumed.set()
        assert self.done.wait(30), f"{self.name} did not finish"
        if self.error:
            raise self.error


@pytest.fixture
def flows():
    running: dict[str, Flow] = {}

    def hook(point: str) -> None:
        flow = running.get(threading.current_thread().name)
        if flow is not None:
            flow.at(point)

    failpoints.set_hook(hook)

    def make(name: str, steps: Callable[[], None], pause_at: str) -> Flow:
        running[name] = Flow(name, steps, pause_at)
        return running[name]

    yield make
    failpoints.set_hook(None)
    for flow in running.values():
        flow.resumed.set()


def _archiver(h) -> Archiver:
    return Archiver(ArchiverSettings(retention_seconds=0, metrics_port=0, dlq_poll_seconds=0), h.aws)


def _readable(h, job) -> bool:
    """The invariant: the record names a complete copy of the variant data that exists,
    hot (bytes equal) or cold (the archived object is there)."""
    record = h.jobs.get(job.job_id)
    if record.storage == Storage.HOT and h.hot_intact(job):
        return True
    if record.archive_refs and set(record.archive_refs) == set(ARCHIVED_FIELDS):
        for ref in record.archive_refs.values():
            bucket, key = ref.removeprefix("s3-glacier:").split("/", 1)
            try:
                h.s3.head_object(Bucket=bucket, Key=key)
            except h.s3.exceptions.ClientError:
                return False
        return True
    return False


def _settle(h, archiver: Archiver, job) -> None:
    """What redeliveries do afterwards: every consumer runs again until nothing changes."""
    completed = envelope(JobCompleted(job.job_id, job.record.user_id, "COMPLETED", job.record.completed_at))
    for _ in range(3):
        archiver.archive(_message(completed))
        archiver.restore(_message(envelope(UserUpgraded(job.record.user_id))))
        archiver.thaw(_message(envelope(RestoreCheck(job.job_id, job.record.user_id))))


def test_no_interleaving_of_archive_and_restore_loses_a_result(harness, flows):
    """Archive (paused at each of its points) against upgrade -> restore -> thaw (paused at
    each of its), both nestings."""
    h = harness
    tried = 0
    for archive_point, restore_point, archive_first in itertools.product(ARCHIVE_POINTS, RESTORE_POINTS, (True, False)):
        user = h.user("free")
        job = h.completed_job(user, publish=False)
        archiver = _archiver(h)
        completed = envelope(JobCompleted(job.job_id, user, "COMPLETED", job.record.completed_at))

        def archive(archiver=archiver, completed=completed) -> None:
            archiver.archive(_message(completed))

        def upgrade_and_restore(archiver=archiver, user=user, job=job) -> None:
            h.users.upgrade(user)
            archiver.restore(_message(envelope(UserUpgraded(user))))
            failpoints.hit("restore.requested")
            archiver.thaw(_message(envelope(RestoreCheck(job.job_id, user))))

        label = f"{tried}-{archive_point}-{restore_point}"
        first = flows(f"archive-{label}", archive, archive_point)
        second = flows(f"restore-{label}", upgrade_and_restore, restore_point)
        if not archive_first:
            first, second = second, first
        first.run_to_pause()
        assert _readable(h, job), f"{label}: nothing readable with {first.name} paused"
        second.run_to_pause()
        assert _readable(h, job), f"{label}: nothing readable with both paused"
        first.finish()
        assert _readable(h, job), f"{label}: nothing readable after {first.name}"
        second.finish()
        _settle(h, archiver, job)
        record = h.jobs.get(job.job_id)
        assert record.storage == Storage.HOT and not record.archive_refs, f"{label}: {record.storage}"
        assert h.hot_intact(job), f"{label}: result lost or changed"
        assert h.cold_keys(job) == [] and h.cold_keys(job, "variants_key") == [], f"{label}: cold copies left"
        tried += 1
    assert tried == len(ARCHIVE_POINTS) * len(RESTORE_POINTS) * 2


@pytest.mark.parametrize("thaw_point", ["thaw.after_copy", "thaw.after_mark"])
def test_a_stalled_archive_attempt_cannot_delete_a_restored_copy(harness, flows, thaw_point):
    """(b) A redelivered archive message for an ARCHIVED job (a stalled attempt, or a crash
    after the commit) deletes the hot keys it archived while the job is being thawed."""
    h = harness
    user = h.user("free")
    job = h.completed_job(user, publish=False)
    archiver = _archiver(h)
    completed = envelope(JobCompleted(job.job_id, user, "COMPLETED", job.record.completed_at))
    archiver.archive(_message(completed))
    assert h.jobs.get(job.job_id).storage == Storage.ARCHIVED
    stale = h.jobs.get(job.job_id)  # what the stalled attempt read

    def thaw() -> None:
        h.users.upgrade(user)
        archiver.restore(_message(envelope(UserUpgraded(user))))
        archiver.thaw(_message(envelope(RestoreCheck(job.job_id, user))))

    thawing = flows("thaw", thaw, thaw_point)
    thawing.run_to_pause()
    # The stalled attempt resumes with what it read: ARCHIVED, its own hot keys.
    archiver._delete_hot(stale.result_bucket, stale.result_objects(ARCHIVED_FIELDS))
    thawing.finish()
    archiver.archive(_message(completed))  # and its redelivery after that
    assert h.jobs.get(job.job_id).storage == Storage.HOT and h.hot_intact(job)


def test_user_upgrades_while_the_archive_is_in_flight(harness):
    h = harness
    user = h.user("free")
    job = h.completed_job(user, publish=False)
    archiver = _archiver(h)
    real_freeze = archiver.cold.freeze

    def freeze_then_upgrade(bucket, key):
        ref = real_freeze(bucket, key)
        if not h.users.get(user).premium:
            h.upgrade(user)  # the web app's /subscribe, exactly now
        return ref

    archiver.cold.freeze = freeze_then_upgrade
    archiver.archive(_message(envelope(JobCompleted(job.job_id, user, "COMPLETED", job.record.completed_at))))
    record = h.jobs.get(job.job_id)
    assert record.storage == Storage.HOT and not record.archive_refs
    assert h.hot_intact(job) and h.cold_keys(job) == [] and h.cold_keys(job, "variants_key") == []


def test_restore_finds_a_job_the_stale_user_index_still_shows_hot(harness, monkeypatch):
    """(a) The user index is eventually consistent: right after an archive commit it may
    still say HOT. The restore consumer must not trust it."""
    h = harness
    user = h.user("free")
    job = h.completed_job(user, publish=False)
    archiver = _archiver(h)
    archiver.archive(_message(envelope(JobCompleted(job.job_id, user, "COMPLETED", job.record.completed_at))))
    assert h.jobs.get(job.job_id).storage == Storage.ARCHIVED
    ddb = archiver.jobs._ddb
    real_query = ddb.query

    def stale_index_query(**kwargs):
        # DynamoDB answers index queries from the index: here its view from before the
        # commit (storage HOT), as it can be for a moment after a write.
        resp = real_query(**kwargs)
        if kwargs.get("IndexName") != h.aws.names.jobs_by_user_index:
            return resp
        items = []
        for item in resp.get("Items", []):
            if item.get("job_id", {}).get("S") == job.job_id:
                if "storage" in str(kwargs.get("FilterExpression", "")) + str(kwargs.get("ExpressionAttributeNames")):
                    continue  # a filter on storage would not match the stale HOT
                if "storage" in item:
                    item = {**item, "storage": {"S": "HOT"}}
            items.append(item)
        return {**resp, "Items": items}

    monkeypatch.setattr(ddb, "query", stale_index_query)
    h.users.upgrade(user)
    archiver.restore(_message(envelope(UserUpgraded(user))))
    assert h.jobs.get(job.job_id).storage == Storage.RESTORING


def test_an_expired_restored_copy_is_asked_for_again(harness):
    """(c) A restored copy lives `Days` days; a thaw that comes later finds the object cold
    again with no restore under way, and must ask again instead of waiting forever."""
    h = harness
    user = h.user("free")
    job = h.completed_job(user, publish=False)
    archiver = _archiver(h)
    archiver.archive(_message(envelope(JobCompleted(job.job_id, user, "COMPLETED", job.record.completed_at))))
    h.users.upgrade(user)
    archiver.restore(_message(envelope(UserUpgraded(user))))
    first = h.jobs.get(job.job_id)
    assert first.storage == Storage.RESTORING
    # The restored copy expires: S3 drops the object's Restore header (rewriting the cold
    # object in GLACIER is what S3 looks like then).
    for ref in first.archive_refs.values():
        bucket, key = ref.removeprefix("s3-glacier:").split("/", 1)
        restored = h.s3.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key}, StorageClass="GLACIER"
        )
        assert restored
        assert "Restore" not in h.s3.head_object(Bucket=bucket, Key=key)
    check = _message(envelope(RestoreCheck(job.job_id, user)))
    with pytest.raises(Defer):
        archiver.thaw(check)
    again = h.jobs.get(job.job_id)
    assert again.storage == Storage.RESTORING and again.restore_requested_at >= first.restore_requested_at
    archiver.thaw(check)
    assert h.jobs.get(job.job_id).storage == Storage.HOT and h.hot_intact(job)


def test_a_retry_that_finds_the_job_archived_still_sweeps_strays(harness, flows):
    """(d) Attempt 1 dies after its copy (a stray), attempt 2 commits and dies before its
    sweep; the redelivery finds the job ARCHIVED and must still drop attempt 1's copy."""
    h = harness
    user = h.user("free")
    job = h.completed_job(user, publish=False)
    archiver = _archiver(h)
    completed = _message(envelope(JobCompleted(job.job_id, user, "COMPLETED", job.record.completed_at)))

    def crash_at(point: str) -> Callable[[str], None]:
        def hook(name: str) -> None:
            if name == point:
                raise Crash(point)

        return hook

    for point in ("archive.after_copy", "archive.after_commit"):
        failpoints.set_hook(crash_at(point))
        with pytest.raises(Crash):
            archiver.archive(completed)
    failpoints.set_hook(None)
    assert len(h.cold_keys(job)) == 2, "the arrangement needs a stray beside the committed copy"
    archiver.archive(completed)
    record = h.jobs.get(job.job_id)
    for field in ARCHIVED_FIELDS:
        (cold,) = h.cold_keys(job, field)
        assert record.archive_refs[field].endswith(cold)
