"""User profiles in DynamoDB, keyed by the Globus identity id."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from gas.core.aws import Aws
from gas.core.dynamo import condition_failed, from_item
from gas.core.timeutil import utc_now_iso

FREE, PREMIUM = "free", "premium"


class UserStore:
    def __init__(self, aws: Aws):
        self._ddb = aws.client("dynamodb")
        self._table = aws.names.users_table

    def upsert(self, user_id: str, name: str, email: str) -> dict[str, Any]:
        """Create the user as free, or refresh name and email; the tier is never touched here."""
        now = utc_now_iso()
        resp = self._ddb.update_item(
            TableName=self._table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression=(
                "SET #n = :name, email = :email, updated_at = :now, "
                "tier = if_not_exists(tier, :free), created_at = if_not_exists(created_at, :now), "
                "session_generation = if_not_exists(session_generation, :zero)"
            ),
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={
                ":name": {"S": name},
                ":email": {"S": email},
                ":now": {"S": now},
                ":free": {"S": FREE},
                ":zero": {"N": "0"},
            },
            ReturnValues="ALL_NEW",
        )
        return from_item(resp["Attributes"])

    def end_sessions(self, user_id: str) -> None:
        """Sign-out: every session issued so far stops being valid (each one carries the
        generation it was issued under; the web app compares it on every request)."""
        self._ddb.update_item(
            TableName=self._table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression="ADD session_generation :one",
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def get_profile(self, user_id: str) -> dict[str, Any] | None:
        item = self._ddb.get_item(TableName=self._table, Key={"user_id": {"S": user_id}}, ConsistentRead=True).get(
            "Item"
        )
        return from_item(item) if item else None

    def upgrade(self, user_id: str) -> bool:
        """free -> premium; False if the user was already premium (nothing to announce)."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"user_id": {"S": user_id}},
                UpdateExpression="SET tier = :premium, upgraded_at = :now",
                ConditionExpression="attribute_exists(user_id) AND tier <> :premium",
                ExpressionAttributeValues={":premium": {"S": PREMIUM}, ":now": {"S": utc_now_iso()}},
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
