"""gas-provision: create every AWS resource GAS needs, idempotently.

Running it twice changes nothing; it is the same code against moto server and AWS.
Each step prints one line: `created`, `updated` or `ok` (already as wanted).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field

from gas.core.aws import Aws
from gas.core.config import CoreSettings, load_settings
from gas.core.jobs import JobStore
from gas.core.names import MAX_RECEIVES_OVERRIDE, QUEUE_TOPICS, TOPICS


def _index(name: str, hash_key: str, range_key: str, projection: str = "ALL") -> dict[str, Any]:
    """A global secondary index keyed on (hash_key, range_key)."""
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": projection},
    }


class ProvisionSettings(CoreSettings):
    # After this many failed receives a message moves to the queue's DLQ.
    max_receive_count: int = Field(5, ge=1, le=1000)
    # Matches the worker's default visibility timeout; the heartbeat extends it.
    queue_visibility_timeout: int = Field(60, ge=5, le=43200)
    # Uploads no job claimed (uploads/) expire after this many days.
    unclaimed_upload_days: int = Field(1, ge=1)
    # Job inputs (inputs/) are research data: kept this many days, then expire; 0 = kept.
    input_retention_days: int = Field(30, ge=0)
    # Both buckets keep old versions (an overwrite, a deletion, an archived hot copy) this
    # many days for recovery from a bad release or a mistaken delete, then expire them.
    noncurrent_version_days: int = Field(30, ge=1)


def _comparable(rules: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(rule, sort_keys=True, default=str) for rule in rules)


class Provisioner:
    def __init__(self, settings: ProvisionSettings, report: Callable[[str], None] = print):
        self.settings = settings
        self.aws = Aws(settings)
        self.names = self.aws.names
        self.report = report
        self.changes = 0

    def _say(self, action: str, what: str) -> None:
        if action != "ok":
            self.changes += 1
        self.report(f"{action:8} {what}")

    def run(self) -> int:
        self.buckets()
        self.tables()
        topic_arns = {short: self.topic(short) for short in TOPICS}
        for queue, topic in QUEUE_TOPICS.items():
            self.queue_with_dlq(queue, topic_arns[topic] if topic else None)
        if self.settings.cold_backend == "glacier-vault":
            self.vault()
        self.ses_sender()
        return self.changes

    # -- S3 --------------------------------------------------------------------------
    def buckets(self) -> None:
        s3 = self.aws.client("s3")
        for bucket in (self.names.inputs_bucket, self.names.results_bucket, self.names.references_bucket):
            try:
                s3.head_bucket(Bucket=bucket)
                self._say("ok", f"s3://{bucket}")
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                kwargs = {}
                if self.settings.aws_region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.aws_region}
                s3.create_bucket(Bucket=bucket, **kwargs)
                self._say("created", f"s3://{bucket}")
            self._public_access_block(s3, bucket)
            self._versioning(s3, bucket)
        self._inputs_cors(s3)
        self._lifecycle(s3, self.names.inputs_bucket, self._inputs_rules())
        self._lifecycle(s3, self.names.results_bucket, [])
        self._lifecycle(s3, self.names.references_bucket, [])

    def _versioning(self, s3: Any, bucket: str) -> None:
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled":
            self._say("ok", f"s3://{bucket} versioning")
            return
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self._say("updated", f"s3://{bucket} versioning")

    def _inputs_rules(self) -> list[dict[str, Any]]:
        """Expiry by prefix (the web app's upload/claim split, gas.web.uploads)."""
        rules: list[dict[str, Any]] = [
            {
                "ID": "unclaimed-uploads",
                "Filter": {"Prefix": "uploads/"},
                "Status": "Enabled",
                "Expiration": {"Days": self.settings.unclaimed_upload_days},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ]
        if self.settings.input_retention_days:
            rules.append(
                {
                    "ID": "input-retention",
                    "Filter": {"Prefix": "inputs/"},
                    "Status": "Enabled",
                    "Expiration": {"Days": self.settings.input_retention_days},
                }
            )
        return rules

    def _lifecycle(self, s3: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
        """The bucket's rules plus the expiry of old versions (versioning keeps every
        overwritten or deleted object otherwise, and the delete markers left behind)."""
        rules = [
            *rules,
            {
                "ID": "old-versions",
                "Filter": {},
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": self.settings.noncurrent_version_days},
                "Expiration": {"ExpiredObjectDeleteMarker": True},
            },
        ]
        try:
            current = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError:
            current = []
        if _comparable(current) == _comparable(rules):
            self._say("ok", f"s3://{bucket} lifecycle")
        else:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
            self._say("updated", f"s3://{bucket} lifecycle")

    def _public_access_block(self, s3: Any, bucket: str) -> None:
        wanted = {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }
        try:
            current = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError:
            current = {}
        if current != wanted:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=wanted)
            self._say("updated", f"s3://{bucket} public access block")

    def _inputs_cors(self, s3: Any) -> None:
        # The browser POSTs uploads straight to S3 (presigned POST) from the site's origin.
        wanted = [
            {
                "AllowedOrigins": [self.settings.public_url],
                "AllowedMethods": ["POST"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag", "Location"],
                "MaxAgeSeconds": 3000,
            }
        ]
        bucket = self.names.inputs_bucket
        try:
            current = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
            for rule in current:
                rule.pop("ID", None)
        except ClientError:
            current = None
        if current == wanted:
            self._say("ok", f"s3://{bucket} CORS")
        else:
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": wanted})
            self._say("updated", f"s3://{bucket} CORS for {self.settings.public_url}")

    # -- DynamoDB --------------------------------------------------------------------
    def tables(self) -> None:
        self._table(
            self.names.jobs_table,
            key="job_id",
            attributes={"job_id": "S", "user_id": "S", "submitted_at": "S", "active_shard": "S"},
            gsi=[
                _index(self.names.jobs_by_user_index, "user_id", "submitted_at"),
                # Sparse: only unfinished jobs carry `active_shard`; finish() removes it.
                _index(self.names.active_jobs_index, "active_shard", "submitted_at", projection="KEYS_ONLY"),
            ],
        )
        self._active_shards()
        self._table(self.names.users_table, key="user_id", attributes={"user_id": "S"}, gsi=[])
        self._table(
            self.names.api_table,
            key="pk",
            attributes={"pk": "S", "user_id": "S", "created_at": "S"},
            # Sparse: only personal access tokens carry user_id.
            gsi=[_index(self.names.tokens_by_user_index, "user_id", "created_at")],
        )
        self._time_to_live(self.names.api_table, "expires_epoch")

    def _active_shards(self) -> None:
        """Unfinished jobs the sweeper reads only by shard: move those written before the
        index was sharded (still in the legacy index) or left in a shard past
        GAS_ACTIVE_SHARDS after it was lowered. The legacy index is deleted by the first
        run that finds it empty (the next upgrade's: old pods of a rolling upgrade may
        still write to it during the one that created the sharded index)."""
        ddb = self.aws.client("dynamodb")
        table = self.names.jobs_table
        desc = ddb.describe_table(TableName=table)["Table"]
        indexes = {i["IndexName"]: i.get("IndexStatus") for i in desc.get("GlobalSecondaryIndexes", [])}
        legacy = self.names.legacy_active_jobs_index
        # A sharded index just added is backfilling (minutes on AWS) and cannot be read yet.
        ready = indexes.get(self.names.active_jobs_index) == "ACTIVE"
        moved = JobStore(self.aws).move_to_shards(legacy if legacy in indexes else None, sharded_readable=ready)
        shards = self.settings.active_shards
        if moved:
            self._say("updated", f"dynamodb table {table}: {moved} unfinished job(s) moved to {shards} shard(s)")
        elif legacy in indexes and desc["TableStatus"] == "ACTIVE" and ready:
            ddb.update_table(TableName=table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": legacy}}])
            self._say("updated", f"dynamodb table {table}: empty unsharded index {legacy} deleted")
        else:
            self._say("ok", f"dynamodb table {table} index of unfinished jobs in {shards} shard(s)")

    def _time_to_live(self, table: str, attribute: str) -> None:
        """DynamoDB deletes items whose `attribute` (epoch seconds) has passed, within days:
        readers still check expiry themselves."""
        ddb = self.aws.client("dynamodb")
        current = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and current.get("AttributeName") == attribute:
            self._say("ok", f"dynamodb table {table} TTL")
            return
        ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})
        self._say("updated", f"dynamodb table {table} TTL on {attribute}")

    def _table(self, name: str, key: str, attributes: dict[str, str], gsi: list[dict[str, Any]]) -> None:
        ddb = self.aws.client("dynamodb")
        try:
            desc = ddb.describe_table(TableName=name)["Table"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            kwargs = {"GlobalSecondaryIndexes": gsi} if gsi else {}
            ddb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attributes.items()],
                BillingMode="PAY_PER_REQUEST",
                # A stray `delete-table` (or IaC drift) would lose every job and user.
                DeletionProtectionEnabled=True,
                **kwargs,
            )
            ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
            self._say("created", f"dynamodb table {name}")
        else:
            have = {i["IndexName"] for i in desc.get("GlobalSecondaryIndexes", [])}
            missing = [g for g in gsi if g["IndexName"] not in have]
            update: dict[str, Any] = (
                {} if desc.get("DeletionProtectionEnabled") else {"DeletionProtectionEnabled": True}
            )
            if missing:  # one UpdateTable: a second would find the table still UPDATING
                update["AttributeDefinitions"] = [
                    {"AttributeName": a, "AttributeType": t} for a, t in attributes.items()
                ]
                update["GlobalSecondaryIndexUpdates"] = [{"Create": g} for g in missing]
            if update:
                ddb.update_table(TableName=name, **update)
                self._say("updated", f"dynamodb table {name} {' and '.join(_what(update))}")
            else:
                self._say("ok", f"dynamodb table {name}")
        self._point_in_time_recovery(name)

    def _point_in_time_recovery(self, table: str) -> None:
        """Restorable to any second of the last 35 days (a bad release that wrote garbage)."""
        ddb = self.aws.client("dynamodb")
        desc = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        if desc.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") == "ENABLED":
            self._say("ok", f"dynamodb table {table} point-in-time recovery")
            return
        ddb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        self._say("updated", f"dynamodb table {table} point-in-time recovery")

    # -- SNS / SQS -------------------------------------------------------------------
    def topic(self, short: str) -> str:
        sns = self.aws.client("sns")
        arn = self.aws.topic_arn(short)
        try:
            sns.get_topic_attributes(TopicArn=arn)
            self._say("ok", f"sns topic {self.names.topic(short)}")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NotFound":
                raise
            arn = sns.create_topic(Name=self.names.topic(short))["TopicArn"]
            self._say("created", f"sns topic {self.names.topic(short)}")
        return arn

    def _queue(self, name: str, attributes: dict[str, str]) -> tuple[str, str]:
        sqs = self.aws.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as exc:
            if "NonExistentQueue" not in exc.response["Error"]["Code"]:
                raise
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self._say("created", f"sqs queue {name}")
        else:
            current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            changed = {k: v for k, v in attributes.items() if _normal(current.get(k)) != _normal(v)}
            if changed:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
                self._say("updated", f"sqs queue {name}: {', '.join(sorted(changed))}")
            else:
                self._say("ok", f"sqs queue {name}")
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def queue_with_dlq(self, short: str, topic_arn: str | None) -> None:
        # DLQ keeps failed messages for the 14-day maximum, for an SRE to inspect and redrive.
        _, dlq_arn = self._queue(self.names.dlq(short), {"MessageRetentionPeriod": "1209600"})
        name = self.names.queue(short)
        account_queue_arn = f"arn:aws:sqs:{self.settings.aws_region}:{self.aws.account_id}:{name}"
        max_receives = MAX_RECEIVES_OVERRIDE.get(short, self.settings.max_receive_count)
        attributes = {
            "VisibilityTimeout": str(self.settings.queue_visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}),
        }
        if topic_arn:
            # Only our topic may send to the queue (besides the account's own principals).
            attributes["Policy"] = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "topic-to-queue",
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": account_queue_arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                        }
                    ],
                }
            )
        _, queue_arn = self._queue(name, attributes)
        if topic_arn:
            self._subscription(topic_arn, queue_arn, name)

    def _subscription(self, topic_arn: str, queue_arn: str, queue_name: str) -> None:
        sns = self.aws.client("sns")
        existing = None
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for sub in page["Subscriptions"]:
                if sub["Protocol"] == "sqs" and sub["Endpoint"] == queue_arn:
                    existing = sub["SubscriptionArn"]
        if existing is None:
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            )
            self._say("created", f"subscription {topic_arn.rsplit(':', 1)[1]} -> {queue_name} (raw)")
            return
        attrs = sns.get_subscription_attributes(SubscriptionArn=existing)["Attributes"]
        if attrs.get("RawMessageDelivery") != "true":
            sns.set_subscription_attributes(
                SubscriptionArn=existing, AttributeName="RawMessageDelivery", AttributeValue="true"
            )
            self._say("updated", f"subscription -> {queue_name}: raw delivery")
        else:
            self._say("ok", f"subscription {topic_arn.rsplit(':', 1)[1]} -> {queue_name}")

    # -- Glacier vault (legacy backend) -----------------------------------------------
    def vault(self) -> None:
        glacier = self.aws.client("glacier")
        name = self.names.vault
        vaults = {v["VaultName"] for v in glacier.list_vaults(accountId="-").get("VaultList", [])}
        if name in vaults:
            self._say("ok", f"glacier vault {name}")
        else:
            glacier.create_vault(accountId="-", vaultName=name)
            self._say("created", f"glacier vault {name}")

    # -- SES -------------------------------------------------------------------------
    def ses_sender(self) -> None:
        ses = self.aws.client("ses")
        sender = self.settings.ses_sender
        verified = ses.list_identities(IdentityType="EmailAddress")["Identities"]
        if sender in verified:
            self._say("ok", f"ses sender {sender}")
        else:
            # On AWS this sends a verification email; the address is usable once clicked.
            ses.verify_email_identity(EmailAddress=sender)
            self._say("created", f"ses sender {sender} (verification requested)")


def _what(update: dict[str, Any]) -> list[str]:
    parts = ["deletion protection"] if "DeletionProtectionEnabled" in update else []
    return parts + (["indexes"] if "GlobalSecondaryIndexUpdates" in update else [])


def _normal(value: str | None) -> object:
    """Compare JSON attributes by content, not by spacing or key order."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(ProvisionSettings)
    changes = Provisioner(settings).run()
    print(f"provisioned prefix={settings.prefix}: {changes} change(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
