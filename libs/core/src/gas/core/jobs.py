"""Job records in DynamoDB. Every transition is a conditional write, so a message
delivered twice (or to two replicas) changes nothing the second time."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from gas.core.aws import Aws
from gas.core.dynamo import condition_failed, from_item, to_item, to_value
from gas.core.timeutil import utc_now_iso
from gas.core.users import FREE

PENDING, RUNNING, COMPLETED, FAILED = "PENDING", "RUNNING", "COMPLETED", "FAILED"
HOT, ARCHIVED, RESTORING = "HOT", "ARCHIVED", "RESTORING"


def new_job_id() -> str:
    return str(uuid.uuid4())


class InvalidCursor(ValueError):
    """A page cursor that list_for_user did not issue for this user."""


@dataclass(frozen=True)
class JobPage:
    jobs: list[dict[str, Any]]
    next_cursor: str | None


class JobStore:
    def __init__(self, aws: Aws):
        self._ddb = aws.client("dynamodb")
        self._table = aws.names.jobs_table
        self._index = aws.names.jobs_by_user_index

    def create(self, job: dict[str, Any]) -> bool:
        """Insert a new PENDING job; False if a job with this id already exists."""
        record = {"status": PENDING, "storage": HOT, "attempt": 0, **job}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=to_item(record),
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self._ddb.get_item(TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def get_for_user(self, job_id: str, user_id: str) -> dict[str, Any] | None:
        """The job if it exists and belongs to user_id; otherwise None (callers answer 404)."""
        job = self.get(job_id)
        return job if job and job.get("user_id") == user_id else None

    def list_for_user(self, user_id: str, limit: int = 20, cursor: str | None = None) -> JobPage:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._index,
            "KeyConditionExpression": "user_id = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "ScanIndexForward": False,  # newest first
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = self._decode_cursor(cursor, user_id)
        resp = self._ddb.query(**kwargs)
        last = resp.get("LastEvaluatedKey")
        next_cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        return JobPage([from_item(i) for i in resp.get("Items", [])], next_cursor)

    @staticmethod
    def _decode_cursor(cursor: str, user_id: str) -> dict[str, Any]:
        """A page cursor from list_for_user, for this user only; InvalidCursor otherwise."""
        try:
            key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        except ValueError:
            raise InvalidCursor("not a page cursor") from None
        expected = {"job_id", "user_id", "submitted_at"}
        if (
            not isinstance(key, dict)
            or set(key) != expected
            or not all(isinstance(v, dict) and isinstance(v.get("S"), str) for v in key.values())
            or key["user_id"]["S"] != user_id
        ):
            raise InvalidCursor("not a page cursor of this user")
        return key

    def start(self, job_id: str) -> int | None:
        """PENDING (or RUNNING left by a worker that died) -> RUNNING.

        Returns this attempt's number, or None when the job is already finished
        (a duplicate delivery). The attempt number fences off a stale worker: only
        the latest attempt may complete the job.
        """
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET #s = :running, started_at = :now ADD attempt :one",
                ConditionExpression="attribute_exists(job_id) AND #s IN (:pending, :running)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":running": {"S": RUNNING},
                    ":pending": {"S": PENDING},
                    ":now": {"S": utc_now_iso()},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if condition_failed(exc):
                return None
            raise
        return int(resp["Attributes"]["attempt"]["N"])

    def finish(self, job_id: str, attempt: int, status: str, **fields: Any) -> dict[str, Any] | None:
        """RUNNING (this attempt) -> COMPLETED | FAILED with completed_at; None if fenced off."""
        assert status in (COMPLETED, FAILED)
        values = {"status": status, "completed_at": utc_now_iso(), **fields}
        names = {f"#f{i}": k for i, k in enumerate(values)}
        expr = ", ".join(f"#f{i} = :v{i}" for i in range(len(values)))
        attr_values = {f":v{i}": to_value(v) for i, v in enumerate(values.values())}
        attr_values.update({":running": {"S": RUNNING}, ":attempt": {"N": str(attempt)}})
        names["#s"] = "status"
        try:
            resp = self._ddb.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=f"SET {expr}",
                ConditionExpression="#s = :running AND attempt = :attempt",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if condition_failed(exc):
                return None
            raise
        return from_item(resp["Attributes"])

    def mark_notified(self, job_id: str) -> bool:
        """Record that the job's email went out; False if it already had (never two emails)."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET notified_at = :now",
                ConditionExpression="attribute_exists(job_id) AND attribute_not_exists(notified_at)",
                ExpressionAttributeValues={":now": {"S": utc_now_iso()}},
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def clear_notified(self, job_id: str) -> None:
        """Undo mark_notified when sending failed, so redelivery sends it."""
        self._ddb.update_item(
            TableName=self._table,
            Key={"job_id": {"S": job_id}},
            UpdateExpression="REMOVE notified_at",
        )

    # -- storage transitions (archive flow, DESIGN.md) --------------------------------
    def commit_archive(self, job_id: str, user_id: str, users_table: str, archive_ref: str) -> bool:
        """In one transaction: the user is still free and the job still HOT -> ARCHIVED.

        False when either check fails (the user upgraded meanwhile, or another
        replica archived it): the caller drops its cold copy and keeps the hot one.
        """
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": users_table,
                            "Key": {"user_id": {"S": user_id}},
                            "ConditionExpression": "tier = :free",
                            "ExpressionAttributeValues": {":free": {"S": FREE}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"job_id": {"S": job_id}},
                            "UpdateExpression": "SET #st = :archived, archive_ref = :ref, archived_at = :now",
                            "ConditionExpression": "#st = :hot AND #s = :completed",
                            "ExpressionAttributeNames": {"#st": "storage", "#s": "status"},
                            "ExpressionAttributeValues": {
                                ":archived": {"S": ARCHIVED},
                                ":hot": {"S": HOT},
                                ":completed": {"S": COMPLETED},
                                ":ref": {"S": archive_ref},
                                ":now": {"S": utc_now_iso()},
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

    def archived_for_user(self, user_id: str, storage: tuple[str, ...] = (ARCHIVED,)) -> list[dict[str, Any]]:
        """Every job of a user whose storage is one of `storage` (all pages)."""
        jobs: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": self._index,
            "KeyConditionExpression": "user_id = :u",
            "FilterExpression": "#st IN (" + ", ".join(f":s{i}" for i in range(len(storage))) + ")",
            "ExpressionAttributeNames": {"#st": "storage"},
            "ExpressionAttributeValues": {":u": {"S": user_id}, **{f":s{i}": {"S": v} for i, v in enumerate(storage)}},
        }
        while True:
            resp = self._ddb.query(**kwargs)
            jobs += [from_item(i) for i in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return jobs
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _storage_transition(
        self, job_id: str, expected: str, sets: dict[str, Any], removes: tuple[str, ...] = ()
    ) -> bool:
        names = {"#st": "storage", **{f"#f{i}": k for i, k in enumerate(sets)}}
        values = {":expected": to_value(expected), **{f":v{i}": to_value(v) for i, v in enumerate(sets.values())}}
        expr = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets)))
        if removes:
            expr += " REMOVE " + ", ".join(removes)
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=expr,
                ConditionExpression="#st = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def mark_restoring(self, job_id: str, tier: str, restore_id: str | None = None) -> bool:
        """ARCHIVED -> RESTORING, recording the retrieval tier and when it was asked for."""
        sets = {"storage": RESTORING, "restore_tier": tier, "restore_requested_at": utc_now_iso()}
        if restore_id:
            sets["restore_id"] = restore_id
        return self._storage_transition(job_id, ARCHIVED, sets)

    def mark_thawed(self, job_id: str) -> bool:
        """RESTORING -> HOT. archive_ref stays until the cold copy is gone (clear_archive_ref)."""
        return self._storage_transition(
            job_id, RESTORING, {"storage": HOT, "restored_at": utc_now_iso()}, ("restore_id",)
        )

    def clear_archive_ref(self, job_id: str) -> bool:
        """The cold copy is deleted: the record no longer points at it."""
        return self._storage_transition(job_id, HOT, {"storage": HOT}, ("archive_ref",))
