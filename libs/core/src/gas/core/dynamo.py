"""DynamoDB item (de)serialisation shared by the stores."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_ser, _de = TypeSerializer(), TypeDeserializer()


def to_value(value: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = _ser.serialize(value)
    return serialized


def to_item(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in record.items() if v is not None}


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal, nested ones too: make them int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_de.deserialize(v)) for k, v in item.items()}


def condition_failed(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


def newest_first_of_user(table: str, index: str, user_id: str) -> dict[str, Any]:
    """Query arguments for one user's items on a (user_id, created) index, newest first."""
    return {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "user_id = :u",
        "ExpressionAttributeValues": {":u": {"S": user_id}},
        "ScanIndexForward": False,
    }
