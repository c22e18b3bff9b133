"""A user's saved variant-table filters: a name and the filter's query string, usable on
any of the user's jobs (the table page lists them; the API at /api/v1/filters).

Stored in the API table (gas.core.tokens' table, key `pk`), one item per user (decision 104):

    pk                  filters#<user id>
    filters             map: filter id -> {name, query, created_at}
    version             a number; every write is conditional on the one it read

One item, not one per filter: the table has a hash key only, so listing a user's filters
is one consistent GetItem (per-filter items would need a Scan or another index), and the
limit of MAX_FILTERS is enforced by the write's version condition, so two concurrent saves
cannot overshoot it. The item stays small: MAX_FILTERS × (MAX_NAME + MAX_QUERY) < 110 KB of
DynamoDB's 400 KB. It carries no `user_id` (the tokens-by-user index never lists it) and no
`expires_epoch` (TTL never deletes it).

A query is parsed by the table's own parser (`VariantFilter.from_args`) before it is
stored, and stored in its canonical form (`to_args`), so what is saved is a filter the
table reads; it is parsed again when applied (a filter naming a sample works on the jobs
with that sample: elsewhere the table answers 400 naming `sample`). Names are never logged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from botocore.exceptions import ClientError
from werkzeug.datastructures import MultiDict

from gas.core.aws import Aws
from gas.core.dynamo import condition_failed, from_item
from gas.core.timeutil import utc_now_iso
from gas.web.variants import FilterError, VariantFilter

MAX_FILTERS = 50  # per user
MAX_NAME = 80  # characters
MAX_QUERY = 2000  # characters of the query string as sent
_ATTEMPTS = 5  # conditional writes lost to a concurrent one before giving up


class SavedFilterError(ValueError):
    """A name or query that cannot be saved; `parameter` names it (a 400)."""

    def __init__(self, parameter: str, problem: str):
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")


class TooManyFilters(SavedFilterError):
    def __init__(self) -> None:
        super().__init__("name", f"at most {MAX_FILTERS} saved filters: delete one first")


@dataclass(frozen=True)
class SavedFilter:
    filter_id: str
    name: str
    query: str  # canonical: urlencode(VariantFilter.to_args())
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.filter_id, "name": self.name, "query": self.query, "created_at": self.created_at}


def clean_name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise SavedFilterError("name", "give the filter a name")
    name = " ".join(raw.split())
    if len(name) > MAX_NAME:
        raise SavedFilterError("name", f"at most {MAX_NAME} characters")
    if not name.isprintable():
        raise SavedFilterError("name", "printable characters only")
    return name


def canonical_query(raw: Any) -> str:
    """The filter of a query string ('gene=TP53&region=CDS'), as the table's parser reads
    it, in canonical form; SavedFilterError naming `query` (with the filter's own parameter)."""
    if not isinstance(raw, str):
        raise SavedFilterError("query", "a query string such as gene=TP53&region=CDS")
    if len(raw) > MAX_QUERY:
        raise SavedFilterError("query", f"at most {MAX_QUERY} characters")
    try:
        filt = VariantFilter.from_args(MultiDict(parse_qsl(raw.lstrip("?"), keep_blank_values=False)))
    except FilterError as exc:
        raise SavedFilterError("query", str(exc)) from None
    if filt.empty:
        raise SavedFilterError("query", "this filter keeps every row: nothing to save")
    return urlencode(filt.to_args())


class SavedFilters:
    def __init__(self, aws: Aws):
        self._ddb = aws.client("dynamodb")
        self._table = aws.names.api_table

    @staticmethod
    def _key(user_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"filters#{user_id}"}}

    def _read(self, user_id: str) -> tuple[dict[str, dict[str, Any]], int | None]:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(user_id), ConsistentRead=True).get("Item")
        if not item:
            return {}, None
        plain = from_item(item)
        return dict(plain.get("filters") or {}), int(plain["version"])

    def list(self, user_id: str) -> list[SavedFilter]:
        """The user's filters by name."""
        filters, _ = self._read(user_id)
        found = [_filter(fid, value) for fid, value in filters.items()]
        return sorted(found, key=lambda f: (f.name.casefold(), f.filter_id))

    def get(self, user_id: str, filter_id: str) -> SavedFilter | None:
        filters, _ = self._read(user_id)
        value = filters.get(filter_id)
        return _filter(filter_id, value) if value else None

    def save(self, user_id: str, name: Any, query: Any) -> SavedFilter:
        """Save a filter under a name; a filter of the same name (any case) is replaced."""
        name, query = clean_name(name), canonical_query(query)
        for _ in range(_ATTEMPTS):
            filters, version = self._read(user_id)
            same = [fid for fid, v in filters.items() if str(v.get("name", "")).casefold() == name.casefold()]
            filter_id = same[0] if same else secrets.token_hex(8)
            if not same and len(filters) >= MAX_FILTERS:
                raise TooManyFilters()
            saved = SavedFilter(filter_id, name, query, utc_now_iso())
            filters = {fid: v for fid, v in filters.items() if fid not in same}
            filters[filter_id] = {"name": name, "query": query, "created_at": saved.created_at}
            if self._write(user_id, filters, version):
                return saved
        raise RuntimeError("saved filters: too many concurrent changes")

    def delete(self, user_id: str, filter_id: str) -> bool:
        """False when the user has no such filter."""
        for _ in range(_ATTEMPTS):
            filters, version = self._read(user_id)
            if filter_id not in filters:
                return False
            del filters[filter_id]
            if self._write(user_id, filters, version):
                return True
        raise RuntimeError("saved filters: too many concurrent changes")

    def _write(self, user_id: str, filters: dict[str, dict[str, Any]], version: int | None) -> bool:
        item = {
            **self._key(user_id),
            "filters": {
                "M": {fid: {"M": {k: {"S": str(v)} for k, v in value.items()}} for fid, value in filters.items()}
            },
            "version": {"N": str((version or 0) + 1)},
        }
        try:
            if version is None:
                self._ddb.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
            else:
                self._ddb.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="version = :v",
                    ExpressionAttributeValues={":v": {"N": str(version)}},
                )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True


def _filter(filter_id: str, value: dict[str, Any]) -> SavedFilter:
    return SavedFilter(
        filter_id, str(value.get("name", "")), str(value.get("query", "")), str(value.get("created_at", ""))
    )
