"""The API's state in DynamoDB (table `<prefix>-api`, key `pk`): personal access tokens,
per-token request counters and idempotency keys.

    pk                              what
    pat#<sha256 of the token>       a personal access token (user, name, prefix, scopes,
                                    expiry, last use, its slot) and its request counter
    slot#<user>#<n>                 one of a user's MAX_TOKENS token slots: the token
                                    holding it and that token's expiry
    globus#<sha256 of the token>    the request counter of a Globus access token
    user#<user>                     the request counter of a user (all their tokens)
    idem#<user>#<sha256 of the key> an Idempotency-Key: the fingerprint of its request

A token is stored only as its SHA-256: the secret is shown once, at creation. Tokens are
random (256 bits), so an unsalted hash is safe to look up by. Every item carries
`expires_epoch`, DynamoDB's TTL attribute (deletion within days; readers check expiry).

The request counter of a personal token lives on the token's own item, and counting is
conditional on the item existing: the one write every API request makes (the rate limit)
is also the revocation check, so web may cache a token's unchanging fields (user, scopes,
expiry) and still refuse a revoked token on its next request, in every process.

A user holds at most MAX_TOKENS live tokens: creating one first takes a free slot item
with a conditional put (free: absent, or its token expired — TTL deletes late), so
concurrent creations cannot overshoot, and an expired token frees its slot without any
clean-up. Slot and counter items carry no `user_id`, so the tokens-by-user index never
lists them.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from gas.core.aws import Aws
from gas.core.dynamo import condition_failed, from_item, newest_first_of_user, to_item

PAT_PREFIX = "gas_pat_"
SCOPES = ("read", "submit")
SHOWN_PREFIX_LENGTH = len(PAT_PREFIX) + 6  # "gas_pat_AbC123": enough to tell tokens apart
IDEMPOTENCY_SECONDS = 24 * 3600
MAX_TOKENS = 20  # live personal tokens per user
USER_COUNTER_SECONDS = 24 * 3600  # a user's counter item outlives its last window by this


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PersonalToken:
    """What is stored of a personal access token (never the secret)."""

    token_id: str
    user_id: str
    name: str
    prefix: str
    scopes: frozenset[str]
    created_at: str
    expires_epoch: int
    last_used_at: str | None = None

    @property
    def expires_at(self) -> str:
        return _iso(self.expires_epoch)

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_epoch

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> PersonalToken:
        record = from_item(item)
        return cls(
            token_id=record["token_id"],
            user_id=record["user_id"],
            name=record["name"],
            prefix=record["prefix"],
            scopes=frozenset(record.get("scopes", ())),
            created_at=record["created_at"],
            expires_epoch=int(record["expires_epoch"]),
            last_used_at=record.get("last_used_at"),
        )


class TokenGone(Exception):
    """The counted token no longer exists (revoked)."""


class TooManyTokens(Exception):
    """The user already holds MAX_TOKENS live tokens."""


@dataclass(frozen=True)
class Count:
    """One request counted: the requests in this window so far, and when it ends."""

    hits: int
    window_ends: float


def pat_key(secret: str) -> str:
    return "pat#" + digest(secret)


def globus_key(token: str) -> str:
    return "globus#" + digest(token)


def user_key(user_id: str) -> str:
    return "user#" + user_id


def _slot_key(user_id: str, slot: int) -> str:
    return f"slot#{user_id}#{slot}"


class TokenStore:
    def __init__(self, aws: Aws):
        self._ddb = aws.client("dynamodb")
        self._table = aws.names.api_table
        self._index = aws.names.tokens_by_user_index

    # -- personal access tokens ---------------------------------------------------------
    def create(self, user_id: str, name: str, scopes: set[str], lifetime_seconds: int) -> tuple[str, PersonalToken]:
        """A new token: (the secret, shown once; what is stored). TooManyTokens when the
        user holds MAX_TOKENS live ones."""
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise ValueError(f"scopes must be a non-empty subset of {SCOPES}, not {sorted(scopes)}")
        secret = PAT_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        token = PersonalToken(
            token_id=str(uuid.uuid4()),
            user_id=user_id,
            name=name,
            prefix=secret[:SHOWN_PREFIX_LENGTH],
            scopes=frozenset(scopes),
            created_at=_iso(now),
            expires_epoch=math.ceil(now + lifetime_seconds),
        )
        # The user's live tokens (one Query, as the cap always cost): seen at the cap, refuse
        # without trying every slot. Tokens made before slots existed hold none: they take
        # places off the top (their number only falls, so this stays race-free).
        live = [item for item in self._items_for_user(user_id) if int(item["expires_epoch"]["N"]) > now]
        if len(live) >= MAX_TOKENS:
            raise TooManyTokens(user_id)
        legacy = sum(1 for item in live if "slot" not in item)
        slot = self._take_slot(user_id, pat_key(secret), token.expires_epoch, now, MAX_TOKENS - legacy)
        record = {
            "pk": pat_key(secret),
            "slot": slot,
            "token_id": token.token_id,
            "user_id": user_id,
            "name": name,
            "prefix": token.prefix,
            "scopes": sorted(token.scopes),
            "created_at": token.created_at,
            "expires_epoch": token.expires_epoch,
        }
        try:
            self._ddb.put_item(
                TableName=self._table, Item=to_item(record), ConditionExpression="attribute_not_exists(pk)"
            )
        except Exception:
            self._free_slot(user_id, slot, pat_key(secret))
            raise
        return secret, token

    def _take_slot(self, user_id: str, holder: str, expires_epoch: int, now: float, slots: int) -> int:
        """The number of a free slot among the first `slots`, now held by `holder` until
        `expires_epoch`."""
        for slot in range(slots):
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item=to_item({"pk": _slot_key(user_id, slot), "holder": holder, "expires_epoch": expires_epoch}),
                    ConditionExpression="attribute_not_exists(pk) OR expires_epoch <= :now",
                    ExpressionAttributeValues={":now": {"N": str(int(now))}},
                )
                return slot
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
        raise TooManyTokens(user_id)

    def _free_slot(self, user_id: str, slot: int, holder: str) -> None:
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key={"pk": {"S": _slot_key(user_id, slot)}},
                ConditionExpression="holder = :h",  # not a slot another token has taken since
                ExpressionAttributeValues={":h": {"S": holder}},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    def get(self, secret: str) -> PersonalToken | None:
        """The token this secret is, if it exists (expired or not: callers check)."""
        item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": pat_key(secret)}}, ConsistentRead=True).get(
            "Item"
        )
        return PersonalToken.from_item(item) if item else None

    def _items_for_user(self, user_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs = newest_first_of_user(self._table, self._index, user_id)
        while True:
            resp = self._ddb.query(**kwargs)
            items += resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def list_for_user(self, user_id: str) -> list[PersonalToken]:
        """The user's tokens, newest first, expired ones included until TTL removes them."""
        return [PersonalToken.from_item(item) for item in self._items_for_user(user_id)]

    def revoke(self, user_id: str, token_id: str) -> bool:
        """Delete one of the user's tokens; False if the user has no such token."""
        for item in self._items_for_user(user_id):
            if item["token_id"]["S"] == token_id:
                try:
                    self._ddb.delete_item(
                        TableName=self._table,
                        Key={"pk": item["pk"]},
                        ConditionExpression="user_id = :u",
                        ExpressionAttributeValues={":u": {"S": user_id}},
                    )
                except ClientError as exc:
                    if condition_failed(exc):
                        return False
                    raise
                if "slot" in item:
                    self._free_slot(user_id, int(item["slot"]["N"]), item["pk"]["S"])
                return True
        return False

    # -- request counters (the rate limit) ------------------------------------------------
    def count_request(self, key: str, window_seconds: int, must_exist: bool, expires_epoch: int | None) -> Count:
        """Count one request against `key` in the current fixed window (atomic counters:
        every web process and replica shares them).

        `must_exist` (a personal token's own item): raise TokenGone when the item is gone,
        i.e. the token was revoked. Otherwise the counter item is created on first use and
        expires with the token (`expires_epoch`); None (a user's counter): a day after the
        window it was last reset in."""
        for _ in range(3):
            count = self._count_once(key, window_seconds, must_exist, expires_epoch)
            if count is not None:
                return count
        raise RuntimeError(f"could not count a request on {key}: its window kept changing")

    def _count_once(self, key: str, window_seconds: int, must_exist: bool, expires_epoch: int | None) -> Count | None:
        now = time.time()
        window = int(now // window_seconds) * window_seconds
        exists = "attribute_exists(pk) AND " if must_exist else ""
        values: dict[str, Any] = {":w": {"N": str(window)}, ":one": {"N": "1"}, ":now": {"S": _iso(now)}}
        try:  # the usual case: one more request in the current window
            resp = self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET hits = hits + :one, last_used_at = :now",
                ConditionExpression=exists + "window_start = :w",
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
            return Count(int(resp["Attributes"]["hits"]["N"]), window + window_seconds)
        except ClientError as exc:
            if not condition_failed(exc):
                raise
        # A new window (or the first request): start counting again, unless another
        # request just did (then the first update applies: the caller tries again).
        if expires_epoch is None:
            expiry, expires_epoch = "expires_epoch = :exp", window + window_seconds + USER_COUNTER_SECONDS
        else:
            expiry = "expires_epoch = if_not_exists(expires_epoch, :exp)"  # a token's own expiry stays
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET window_start = :w, hits = :one, last_used_at = :now, " + expiry,
                ConditionExpression=exists + "(attribute_not_exists(window_start) OR window_start < :w)",
                ExpressionAttributeValues={**values, ":exp": {"N": str(expires_epoch)}},
            )
            return Count(1, window + window_seconds)
        except ClientError as exc:
            if not condition_failed(exc):
                raise
        if must_exist and "Item" not in self._ddb.get_item(
            TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True, ProjectionExpression="pk"
        ):
            raise TokenGone(key)
        return None

    # -- idempotency keys ----------------------------------------------------------------
    def claim_idempotency_key(self, user_id: str, key: str, fingerprint: str) -> str:
        """Record that `key` of this user stands for the request with this fingerprint;
        the fingerprint the key already stood for if it was used before (within a day)."""
        pk = f"idem#{user_id}#{digest(key)}"
        now = time.time()
        record = {"pk": pk, "fingerprint": fingerprint, "expires_epoch": math.ceil(now + IDEMPOTENCY_SECONDS)}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=to_item(record),
                # An expired record that TTL has not yet removed counts as unused.
                ConditionExpression="attribute_not_exists(pk) OR expires_epoch < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": pk}}, ConsistentRead=True)["Item"]
            return str(item["fingerprint"]["S"])
        return fingerprint
