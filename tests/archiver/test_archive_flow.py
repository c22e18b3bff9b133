"""The archive flow (docs/archiver.md) with the consumers as real processes."""

import re
import time

import pytest
import requests
from support import wait_http

from gas.web.variants.remote import open_stored


def _metric(port: int, name: str, labels: str = "") -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(rf"^{name}{re.escape(labels)} ([\d.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize("backend", ["harness", "vault_harness"])
def test_free_result_is_archived_after_retention_and_restored_on_upgrade(request, backend):
    h = request.getfixturevalue(backend)
    user = h.user("free")
    job = h.completed_job(user)
    for consumer in ("archive", "restore", "thaw"):
        h.start(consumer)

    time.sleep(h.retention - 1)
    assert h.jobs.get(job.job_id).storage == "HOT", "archived before the retention ended"
    record = h.wait_storage(job, "ARCHIVED", timeout=20)
    # The hot copy goes right after the commit (commit first: a crash between the two
    # must leave the result somewhere the record names).
    deadline = time.monotonic() + 10
    while h.hot_sha256(job) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert h.hot_sha256(job) is None, "hot copy still there"
    scheme = "glacier-vault:" if backend == "vault_harness" else "s3-glacier:"
    # The variant data goes cold together; the count log stays hot to explain the job.
    assert set(record.archive_refs) == {"result_key", "variants_key", "genotypes_key"}
    assert all(ref.startswith(scheme) for ref in record.archive_refs.values())
    assert h.hot_sha256(job, "variants_key") is None and h.hot_sha256(job, "log_key") == job.sha256["log_key"]
    if backend == "harness":
        for field in ("result_key", "variants_key", "genotypes_key"):
            (cold,) = h.cold_keys(job, field)
            assert record.archive_refs[field].endswith(cold)
            head = h.s3.head_object(Bucket=h.bucket, Key=cold)
            assert head["StorageClass"] == "GLACIER"
            with pytest.raises(h.s3.exceptions.ClientError, match="InvalidObjectState"):
                h.s3.get_object(Bucket=h.bucket, Key=cold)

    h.upgrade(user)
    restoring = h.wait_storage(job, "RESTORING", timeout=20)
    assert restoring.restore_tier == "Expedited" and restoring.restore_requested_at
    restored = h.wait_storage(job, "HOT", timeout=60)
    assert h.hot_intact(job), "restored bytes differ"
    assert restored.result_key != job.record.result_key, "a restored copy must not reuse the archived key"
    # The restored table still opens the web's way: its footer view, read with ranged GETs.
    head = h.s3.head_object(Bucket=h.bucket, Key=restored.variants_key)
    stored = open_stored(h.s3, h.bucket, restored.variants_key, head)
    assert stored is not None and stored.total == 1 and stored.terms == {"intergenic_variant": 1}
    assert [r["pos"] for r in stored.rows(0, 50)] == [10_000]
    if backend == "harness":
        assert h.cold_keys(job) == [] and h.cold_keys(job, "variants_key") == []
    time.sleep(1)
    assert h.depth("archive") == h.depth("restore") == h.depth("thaw") == 0


def test_premium_result_is_never_archived(harness):
    h = harness
    job = h.completed_job(h.user("premium"))
    _, port = h.start("archive")
    deadline = time.monotonic() + harness.retention + 10
    while h.depth("archive") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert h.depth("archive") == 0
    assert h.jobs.get(job.job_id).storage == "HOT" and h.hot_intact(job)
    assert h.cold_keys(job) == []


def test_an_early_message_is_received_at_most_twice(harness):
    h = harness
    _, port = h.start("archive")
    wait_http(f"http://127.0.0.1:{port}/healthz", 60)  # consuming before the job is announced
    job = h.completed_job(h.user("free"))  # due in `retention` s: its message is early
    h.wait_storage(job, "ARCHIVED", timeout=harness.retention + 15)
    deadline = time.monotonic() + 10
    while _metric(port, "gas_archiver_archived_total") < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _metric(port, "gas_worker_messages_received_total", '{queue="archive"}') <= 2
    assert _metric(port, "gas_archiver_early_messages_total") == 1
    assert _metric(port, "gas_archiver_archived_total") == 1


def test_upgrade_during_the_archive_keeps_the_result_hot(harness):
    h = harness
    user = h.user("free")
    job = h.completed_job(user, publish=False)
    # The copy is done when the user upgrades: the transaction then refuses.
    proc, _ = h.start("archive", GAS_FAILPOINTS="archive.after_copy", GAS_RETENTION_SECONDS="0")
    h.publish_completed(job)
    assert proc.wait(20) == 137
    assert len(h.cold_keys(job)) == 1 and len(h.cold_keys(job, "variants_key")) == 1
    h.upgrade(user)
    h.start("archive", GAS_RETENTION_SECONDS="0")
    deadline = time.monotonic() + 20
    while (h.depth("archive") or h.cold_keys(job)) and time.monotonic() < deadline:
        time.sleep(0.3)
    record = h.jobs.get(job.job_id)
    assert record.storage == "HOT" and not record.archive_refs
    assert h.hot_intact(job) and h.cold_keys(job) == []


@pytest.mark.parametrize("point", ["archive.after_copy", "archive.after_commit", "archive.after_delete"])
def test_archiver_killed_mid_flow_is_repaired_by_redelivery(harness, point):
    h = harness
    job = h.completed_job(h.user("free"), publish=False)
    proc, _ = h.start("archive", GAS_FAILPOINTS=point, GAS_RETENTION_SECONDS="0")
    h.publish_completed(job)
    assert proc.wait(20) == 137, "the failpoint was not reached"
    h.start("archive", GAS_RETENTION_SECONDS="0")
    record = h.wait_storage(job, "ARCHIVED", timeout=30)
    deadline = time.monotonic() + 20
    while (h.depth("archive") or h.hot_sha256(job) or len(h.cold_keys(job)) != 1) and time.monotonic() < deadline:
        time.sleep(0.3)
    for field in ("result_key", "variants_key"):
        (cold,) = h.cold_keys(job, field)
        assert record.archive_refs[field].endswith(cold), "the record does not point at the one copy"
    assert h.hot_sha256(job) is None and h.depth("archive") == 0


def test_poison_message_is_dead_lettered_and_the_next_job_is_archived(harness):
    h = harness
    url = h.aws.queue_url(h.aws.names.queue("archive"))
    h.sqs.send_message(QueueUrl=url, MessageBody='{"type": "job.completed", "version": 7, "data": {}}')
    job = h.completed_job(h.user("free"))
    h.start("archive")
    h.wait_storage(job, "ARCHIVED", timeout=harness.retention + 15)
    dlq = h.aws.queue_url(h.aws.names.dlq("archive"))
    bodies = [
        m["Body"]
        for m in h.sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert any('"version": 7' in b for b in bodies)


def test_two_replicas_archive_each_job_once(harness):
    h = harness
    user = h.user("free")
    jobs = [h.completed_job(user) for _ in range(8)]
    for job in jobs:
        h.publish_completed(job)  # every job announced twice: duplicates race across replicas
    ports = [h.start("archive")[1] for _ in range(2)]
    for job in jobs:
        h.wait_storage(job, "ARCHIVED", timeout=harness.retention + 30)
    deadline = time.monotonic() + 20
    while h.depth("archive") and time.monotonic() < deadline:
        time.sleep(0.3)
    for job in jobs:
        (cold,) = h.cold_keys(job)
        assert h.jobs.get(job.job_id).archive_refs["result_key"].endswith(cold) and h.hot_sha256(job) is None
    time.sleep(1)
    assert sum(_metric(p, "gas_archiver_archived_total") for p in ports) == len(jobs)
