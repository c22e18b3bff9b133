"""DynamoDB item (de)serialisation shared by the stores."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_ser, _de = TypeSerializer(), TypeDeserializer()


def to_value(value: Any) -> dict[str, Any]:
    return _ser.serialize(value)


def to_item(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in record.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    # Numbers come back as Decimal; the records only hold integers.
    out = {k: _de.deserialize(v) for k, v in item.items()}
    return {k: int(v) if type(v).__name__ == "Decimal" else v for k, v in out.items()}


def condition_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
