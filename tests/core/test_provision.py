import json
import subprocess

import pytest
from botocore.exceptions import ClientError
from jobs_support import new_job
from support import BIN

from gas.core.aws import Aws
from gas.core.config import CoreSettings
from gas.core.job_record import JobStatus
from gas.core.jobs import JobStore
from gas.core.provision import Provisioner, ProvisionSettings


def test_provision_twice_changes_nothing_the_second_time(aws_env):
    first = subprocess.run([str(BIN / "gas-provision")], capture_output=True, text=True, check=True)
    assert "created  s3://" in first.stdout
    second = subprocess.run([str(BIN / "gas-provision")], capture_output=True, text=True, check=True)
    assert all(line.startswith("ok") for line in second.stdout.splitlines()), second.stdout
    assert "0 change(s)" in second.stderr


def test_resources_have_their_settings(provisioned):
    aws, names = provisioned, provisioned.names
    sqs, sns, s3, ddb = (aws.client(n) for n in ("sqs", "sns", "s3", "dynamodb"))
    cors = s3.get_bucket_cors(Bucket=names.inputs_bucket)["CORSRules"][0]
    assert cors["AllowedOrigins"] == ["http://127.0.0.1:8080"] and "POST" in cors["AllowedMethods"]
    jobs = ddb.describe_table(TableName=names.jobs_table)["Table"]
    index = jobs["GlobalSecondaryIndexes"][0]
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["user_id", "submitted_at"]
    for queue, topic in (
        ("annotate", "job-requests"),
        ("notify", "job-completed"),
        ("archive", "job-completed"),
        ("restore", "user-upgraded"),
    ):
        url = aws.queue_url(names.queue(queue))
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attrs["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(names.dlq(queue))
        subs = sns.list_subscriptions_by_topic(TopicArn=aws.topic_arn(topic))["Subscriptions"]
        (sub,) = [s for s in subs if s["Endpoint"].rsplit(":", 1)[1] == names.queue(queue)]
        raw = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
        assert raw["Attributes"]["RawMessageDelivery"] == "true"
    assert "gas-noreply@example.org" in aws.client("ses").list_identities()["Identities"]


def test_published_event_arrives_raw_on_the_queue(provisioned):
    aws = provisioned
    aws.client("sns").publish(TopicArn=aws.topic_arn("job-requests"), Message='{"hello": 1}')
    sqs = aws.client("sqs")
    msgs = sqs.receive_message(QueueUrl=aws.queue_url(aws.names.queue("annotate")), WaitTimeSeconds=2)["Messages"]
    assert msgs[0]["Body"] == '{"hello": 1}'


def test_changed_setting_is_repaired(provisioned, aws_env, monkeypatch):
    sqs = provisioned.client("sqs")
    url = provisioned.queue_url(provisioned.names.queue("notify"))
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "7"})
    lines = []
    Provisioner(ProvisionSettings(), report=lines.append).run()
    assert any(line.startswith("updated") and "VisibilityTimeout" in line for line in lines)
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"]
        == "60"
    )


def test_inputs_expire_by_prefix_and_a_changed_retention_is_applied(provisioned, monkeypatch):
    """Unclaimed uploads (uploads/) go after a day; claimed inputs (inputs/) after the
    retention; moto stores lifecycle rules but does not run them (S3 does)."""
    s3 = provisioned.client("s3")
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=provisioned.names.inputs_bucket)["Rules"]}
    assert rules["unclaimed-uploads"]["Filter"] == {"Prefix": "uploads/"}
    assert rules["unclaimed-uploads"]["Expiration"] == {"Days": 1}
    assert rules["input-retention"]["Filter"] == {"Prefix": "inputs/"}
    assert rules["input-retention"]["Expiration"] == {"Days": 30}
    monkeypatch.setenv("GAS_INPUT_RETENTION_DAYS", "0")  # keep inputs for good
    lines = []
    Provisioner(ProvisionSettings(), report=lines.append).run()
    assert any(line.startswith("updated") and "lifecycle" in line for line in lines)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=provisioned.names.inputs_bucket)["Rules"]
    assert [r["ID"] for r in rules] == ["unclaimed-uploads", "old-versions"]


def test_data_survives_a_mistake_versions_point_in_time_recovery_and_deletion_protection(provisioned):
    """Every bucket (inputs, results, references) keeps old versions (expired after
    noncurrent_version_days, delete markers cleaned), every table is restorable to any
    second of 35 days and refuses deletion."""
    aws, names = provisioned, provisioned.names
    s3, ddb = aws.client("s3"), aws.client("dynamodb")
    for bucket in (names.inputs_bucket, names.results_bucket, names.references_bucket):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        (old,) = [r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] if r["ID"] == "old-versions"]
        assert old["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
        assert old["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    # a deleted result is still there as an old version
    s3.put_object(Bucket=names.results_bucket, Key="u/j/result.vcf", Body=b"annotated")
    s3.delete_object(Bucket=names.results_bucket, Key="u/j/result.vcf")
    versions = s3.list_object_versions(Bucket=names.results_bucket, Prefix="u/j/")
    assert len(versions["Versions"]) == 1 and len(versions["DeleteMarkers"]) == 1
    for table in (names.jobs_table, names.users_table, names.api_table):
        assert ddb.describe_table(TableName=table)["Table"]["DeletionProtectionEnabled"] is True
        backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    with pytest.raises(ClientError, match="DeletionProtectionEnabled"):
        ddb.delete_table(TableName=names.jobs_table)
    # switched off by hand: provisioning puts them back
    ddb.update_table(TableName=names.users_table, DeletionProtectionEnabled=False)
    ddb.update_continuous_backups(
        TableName=names.users_table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    lines = []
    Provisioner(ProvisionSettings(), report=lines.append).run()
    assert f"updated  dynamodb table {names.users_table} deletion protection" in lines
    assert f"updated  dynamodb table {names.users_table} point-in-time recovery" in lines
    assert ddb.describe_table(TableName=names.users_table)["Table"]["DeletionProtectionEnabled"] is True


def _provision() -> list[str]:
    lines: list[str] = []
    Provisioner(ProvisionSettings(), report=lines.append).run()
    return lines


def test_jobs_from_before_sharding_are_moved_to_the_shards_and_the_old_index_dropped(aws_env):
    """A jobs table of the unsharded layout (`active` = PENDING | RUNNING, one index
    partition each) with unfinished jobs in it: provisioning adds the sharded index, moves
    the jobs the sweeper must still find, and deletes the old index on the next run."""
    aws = Aws(ProvisionSettings())
    ddb, names = aws.client("dynamodb"), aws.names
    ddb.create_table(
        TableName=names.jobs_table,
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("job_id", "submitted_at", "active")],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": names.legacy_active_jobs_index,
                "KeySchema": [
                    {"AttributeName": "active", "KeyType": "HASH"},
                    {"AttributeName": "submitted_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    old = {"p1": "PENDING", "p2": "PENDING", "r1": "RUNNING", "done": None}
    for i, (job_id, active) in enumerate(old.items()):
        item = {"job_id": {"S": job_id}, "user_id": {"S": "u"}, "submitted_at": {"S": f"2026-01-01T00:00:0{i}.000Z"}}
        item["status"] = {"S": active or "COMPLETED"}
        if active:
            item["active"] = {"S": active}
        ddb.put_item(TableName=names.jobs_table, Item=item)

    first = _provision()
    assert f"updated  dynamodb table {names.jobs_table} deletion protection and indexes" in first
    assert f"updated  dynamodb table {names.jobs_table}: 3 unfinished job(s) moved to 8 shard(s)" in first
    store, cutoff = JobStore(aws), "2026-06-01T00:00:00.000Z"
    assert store.active_before(JobStatus.PENDING, cutoff) == ["p1", "p2"]
    assert store.active_before(JobStatus.RUNNING, cutoff) == ["r1"]
    items = {i["job_id"]["S"]: i for i in ddb.scan(TableName=names.jobs_table)["Items"]}
    assert all("active" not in i for i in items.values()) and "active_shard" not in items["done"]

    second = _provision()
    assert (
        f"updated  dynamodb table {names.jobs_table}: empty unsharded index {names.legacy_active_jobs_index} deleted"
        in second
    )
    indexes = {
        i["IndexName"] for i in ddb.describe_table(TableName=names.jobs_table)["Table"]["GlobalSecondaryIndexes"]
    }
    assert indexes == {names.jobs_by_user_index, names.active_jobs_index}
    assert all(line.startswith("ok") for line in _provision())
    assert store.active_before(JobStatus.PENDING, cutoff) == ["p1", "p2"]


def test_lowering_the_shard_count_moves_jobs_out_of_the_shards_no_longer_read(provisioned, monkeypatch):
    monkeypatch.setenv("GAS_ACTIVE_SHARDS", "16")
    wide = JobStore(Aws(CoreSettings()))
    jobs = [new_job("u", submitted_at=f"2026-01-01T00:00:{i:02d}.000Z") for i in range(12)]
    assert all(wide.create(job) for job in jobs)
    monkeypatch.setenv("GAS_ACTIVE_SHARDS", "2")
    narrow, cutoff = JobStore(Aws(CoreSettings())), "2026-06-01T00:00:00.000Z"
    assert len(narrow.active_before(JobStatus.PENDING, cutoff)) < 12, "all 12 hashed below 2 of 16: proves nothing"
    lines = _provision()
    assert any("unfinished job(s) moved to 2 shard(s)" in line for line in lines), lines
    assert narrow.active_before(JobStatus.PENDING, cutoff) == [job.job_id for job in jobs]
