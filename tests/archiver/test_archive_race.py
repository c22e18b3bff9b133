"""The upgrade lands between the cold copy and the commit (in-process, so the
interleaving is exact; moto server over HTTP underneath)."""

from gas.archiver.worker import Archiver, ArchiverSettings
from gas.core.events import JOB_COMPLETED, new_event
from gas.core.worker import Message


def test_user_upgrades_while_the_archive_is_in_flight(harness):
    h = harness
    user = h.user("free")
    job = h.completed_job(user, publish=False)
    archiver = Archiver(ArchiverSettings(retention_seconds=0, metrics_port=0), h.aws)
    real_freeze = archiver.cold.freeze

    def freeze_then_upgrade(bucket, key):
        ref = real_freeze(bucket, key)
        h.upgrade(user)  # the web app's /subscribe, exactly now
        return ref

    archiver.cold.freeze = freeze_then_upgrade
    event = new_event(
        JOB_COMPLETED, job_id=job["job_id"], user_id=user, status="COMPLETED", completed_at=job["completed_at"]
    )
    archiver.archive(Message(event.to_json(), "m", "r", 1, 0))
    record = h.jobs.get(job["job_id"])
    assert record["storage"] == "HOT" and "archive_ref" not in record
    assert h.hot_sha256(job) == job["sha256"] and h.cold_keys(job) == []
