"""User profiles in DynamoDB, keyed by the Globus identity id, read as a typed `User`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from gas.core.aws import Aws
from gas.core.dynamo import condition_failed, from_item
from gas.core.timeutil import utc_now_iso


class Tier(StrEnum):
    """An account's tier: what it may upload, and whether its results stay hot."""

    FREE = "free"
    PREMIUM = "premium"


@dataclass(frozen=True)
class User:
    """A user's profile as stored (the users table's item), read once per request or event."""

    user_id: str
    name: str
    email: str
    tier: Tier = Tier.FREE
    session_generation: int = 0  # sign-out moves it on: sessions of older generations die
    created_at: str | None = None
    upgraded_at: str | None = None

    @property
    def premium(self) -> bool:
        return self.tier is Tier.PREMIUM

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> User:
        """The user of a users-table item (plain values, as gas.core.dynamo.from_item gives)."""
        # Only upgrade() writes a tier other than free: anything else reads as free, as
        # every reader treated it before the type existed.
        tier = Tier.PREMIUM if item.get("tier") == Tier.PREMIUM else Tier.FREE
        return cls(
            user_id=str(item["user_id"]),
            name=str(item.get("name") or ""),
            email=str(item.get("email") or ""),
            tier=tier,
            session_generation=int(item.get("session_generation") or 0),
            created_at=item.get("created_at"),
            upgraded_at=item.get("upgraded_at"),
        )


class UserStore:
    def __init__(self, aws: Aws):
        self._ddb = aws.client("dynamodb")
        self._table = aws.names.users_table

    def upsert(self, user_id: str, name: str, email: str) -> User:
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
                ":free": {"S": Tier.FREE.value},
                ":zero": {"N": "0"},
            },
            ReturnValues="ALL_NEW",
        )
        return User.from_item(from_item(resp["Attributes"]))

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

    def get(self, user_id: str) -> User | None:
        """The user as stored now (a consistent read: an upgrade or sign-out just made counts)."""
        item = self._ddb.get_item(TableName=self._table, Key={"user_id": {"S": user_id}}, ConsistentRead=True).get(
            "Item"
        )
        return User.from_item(from_item(item)) if item else None

    def upgrade(self, user_id: str) -> bool:
        """free -> premium; False if the user was already premium (nothing to announce)."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"user_id": {"S": user_id}},
                UpdateExpression="SET tier = :premium, upgraded_at = :now",
                ConditionExpression="attribute_exists(user_id) AND tier <> :premium",
                ExpressionAttributeValues={":premium": {"S": Tier.PREMIUM.value}, ":now": {"S": utc_now_iso()}},
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
