import json
import subprocess

import pytest
from botocore.exceptions import ClientError
from support import BIN

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
