"""The jobs table. Every transition of `gas.core.job_record` is one conditional write
here, so a message delivered twice (or to two replicas) changes nothing the second time."""

from __future__ import annotations

import base64
import heapq
import json
import time
import uuid
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from gas.core.aws import Aws
from gas.core.dynamo import condition_failed, from_item, newest_first_of_user, to_item, to_value
from gas.core.job_record import Job, JobStatus, Storage
from gas.core.timeutil import utc_now_iso
from gas.core.users import FREE


def new_job_id() -> str:
    return str(uuid.uuid4())


def active_shard(job_id: str, status: JobStatus, shards: int) -> str:
    """The partition of an unfinished job in the index of unfinished jobs: "<status>#<n>",
    n from a stable hash of the id (Python's hash() differs between processes)."""
    return f"{status}#{zlib.crc32(job_id.encode()) % shards}"


class InvalidCursor(ValueError):
    """A page cursor that list_for_user did not issue for this user."""


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_cursor: str | None


@dataclass(frozen=True)
class Deleting:
    """JobStore.mark_deleting's answer."""

    job: Job | None = None  # the job, now marked for deletion; None: no such job of this user
    refused: str | None = None  # why it cannot be deleted now (it is running or being restored)


@dataclass(frozen=True)
class Cancelling:
    """JobStore.cancel's answer."""

    job: Job | None = None  # the job as it is now; None: no such job of this user
    refused: str | None = None  # why it cannot be cancelled (it has finished, or is being deleted)
    was: JobStatus | None = None  # set when this call cancelled it: PENDING or RUNNING


@dataclass(frozen=True)
class Started:
    """JobStore.start's answer. `attempt` is set when this caller now holds the job."""

    attempt: int | None = None
    finished: Job | None = None  # the job had already finished (a duplicate delivery)
    gone: bool = False  # the job was deleted, or is being deleted: nothing to do
    held_by: str | None = None  # another live holder's lease owner
    lease_left: float = 0.0  # seconds until that lease expires


def _epoch(seconds: float) -> dict[str, str]:
    return {"N": str(Decimal(str(round(seconds, 3))))}


class JobStore:
    def __init__(self, aws: Aws):
        self._ddb = aws.client("dynamodb")
        self._table = aws.names.jobs_table
        self._index = aws.names.jobs_by_user_index
        self._active_index = aws.names.active_jobs_index
        self._shards = aws.settings.active_shards

    # -- the two mechanisms every method uses ---------------------------------------
    def _update(
        self,
        job_id: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """One conditional update of a job: the new record, or None when the condition
        failed (a duplicate, a stale worker, another replica first)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"job_id": {"S": job_id}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            resp = self._ddb.update_item(**kwargs)
        except ClientError as exc:
            if condition_failed(exc):
                return None
            raise
        return from_item(resp["Attributes"])

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Every item of a query, all pages."""
        items: list[dict[str, Any]] = []
        while True:
            resp = self._ddb.query(TableName=self._table, **kwargs)
            items += resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # -- reading ------------------------------------------------------------------
    def create(self, job: Job) -> bool:
        """Insert a new job (PENDING, as the web app creates them); False if a job with this
        id already exists."""
        record = job.to_record()
        if job.active:  # in the sparse index of unfinished jobs
            record["active_shard"] = active_shard(job.job_id, job.status, self._shards)
        try:
            self._ddb.put_item(
                TableName=self._table, Item=to_item(record), ConditionExpression="attribute_not_exists(job_id)"
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def get(self, job_id: str) -> Job | None:
        item = self._ddb.get_item(TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True).get("Item")
        return Job.from_record(from_item(item)) if item else None

    def get_for_user(self, job_id: str, user_id: str) -> Job | None:
        """The job if it exists and belongs to user_id; otherwise None (callers answer 404)."""
        job = self.get(job_id)
        return job if job and job.user_id == user_id else None

    def list_for_user(self, user_id: str, limit: int = 20, cursor: str | None = None) -> JobPage:
        kwargs = {**newest_first_of_user(self._table, self._index, user_id), "Limit": limit}
        if cursor:
            kwargs["ExclusiveStartKey"] = self._decode_cursor(cursor, user_id)
        resp = self._ddb.query(**kwargs)
        last = resp.get("LastEvaluatedKey")
        next_cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        return JobPage([Job.from_record(from_item(i)) for i in resp.get("Items", [])], next_cursor)

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

    def ids_for_user(self, user_id: str) -> list[str]:
        """Every job id of a user. The index is eventually consistent: callers that act on
        a job's state read it again with get()."""
        items = self._query_all(
            IndexName=self._index,
            KeyConditionExpression="user_id = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
            ProjectionExpression="job_id",
        )
        return [i["job_id"]["S"] for i in items]

    def active_before(self, status: JobStatus, submitted_before: str) -> list[str]:
        """Ids of jobs in `status` (PENDING or RUNNING) submitted before the given time,
        oldest first, from the sparse index of unfinished jobs (the sweeper's view; the
        index is eventually consistent, so callers re-read each job): one query per shard,
        merged."""
        shards = [
            self._query_all(
                IndexName=self._active_index,
                KeyConditionExpression="active_shard = :v AND submitted_at < :t",
                ExpressionAttributeValues={":v": {"S": f"{status}#{n}"}, ":t": {"S": submitted_before}},
            )
            for n in range(self._shards)
        ]
        oldest_first = heapq.merge(*shards, key=lambda item: item["submitted_at"]["S"])
        return [item["job_id"]["S"] for item in oldest_first]

    def move_to_shards(self, legacy_index: str | None, sharded_readable: bool = True) -> int:
        """Put every unfinished job in the shard the sweeper reads it from: those still in
        the unsharded `legacy_index` (written before sharding), and those in another shard
        (GAS_ACTIVE_SHARDS was changed). Provisioning runs it; the indexes hold only
        unfinished jobs, so reading them whole is cheap. Each move is conditional on the
        job's status being unchanged, so live workers are never overwritten. Returns how
        many jobs moved. `sharded_readable` False: the sharded index is still being built
        (DynamoDB refuses reads of a backfilling index), so only the legacy one is read."""
        found: list[tuple[JobStatus, str]] = []
        sharded = self._active_index if sharded_readable else None
        for index, key in ((legacy_index, "active"), (sharded, "active_shard")):
            if not index:
                continue
            kwargs: dict[str, Any] = {"TableName": self._table, "IndexName": index}
            while True:
                resp = self._ddb.scan(**kwargs)
                for item in resp.get("Items", []):
                    job_id, where = item["job_id"]["S"], item[key]["S"]
                    status = JobStatus(where.split("#")[0])
                    if where != active_shard(job_id, status, self._shards):
                        found.append((status, job_id))
                if "LastEvaluatedKey" not in resp:
                    break
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        moved = 0
        for status, job_id in found:
            record = self._update(
                job_id,
                "SET active_shard = :shard REMOVE active",
                "#s = :status AND attribute_not_exists(deleting_since)",
                {":shard": {"S": active_shard(job_id, status, self._shards)}, ":status": {"S": str(status)}},
                {"#s": "status"},
            )
            moved += record is not None
        return moved

    def mark_requeued(self, job_id: str, status: JobStatus, not_since: str) -> bool:
        """Claim the right to announce a job again: it is still in `status` and was not
        announced again since `not_since`. False for a second sweeper (or a later run)."""
        values = {":now": {"S": utc_now_iso()}, ":status": {"S": str(status)}, ":since": {"S": not_since}}
        condition = (
            "#s = :status AND attribute_not_exists(deleting_since) "
            "AND (attribute_not_exists(requeued_at) OR requeued_at < :since)"
        )
        return self._update(job_id, "SET requeued_at = :now", condition, values, {"#s": "status"}) is not None

    # -- processing: PENDING -> RUNNING -> COMPLETED | FAILED ----------------------------
    def start(self, job_id: str, owner: str, lease_seconds: float) -> Started:
        """PENDING, or RUNNING whose holder's lease has expired -> RUNNING held by `owner`.

        `owner` is the SQS message id: the lease says which delivery holds the job, so a
        duplicate delivery never takes over a live attempt. The attempt number fences a
        stale holder off: only the latest attempt may finish the job.
        """
        now = time.time()
        started = self._update(
            job_id,
            "SET #s = :running, active_shard = :shard, started_at = :now_iso, "
            "lease_owner = :owner, lease_expires_at = :until ADD attempt :one "
            "REMOVE active, progress_records, progress_bytes, progress_at",
            "attribute_exists(job_id) AND attribute_not_exists(deleting_since) AND (#s = :pending OR "
            "(#s = :running AND (attribute_not_exists(lease_expires_at) OR lease_expires_at < :now)))",
            {
                ":running": {"S": JobStatus.RUNNING},
                ":pending": {"S": JobStatus.PENDING},
                ":shard": {"S": active_shard(job_id, JobStatus.RUNNING, self._shards)},
                ":now_iso": {"S": utc_now_iso()},
                ":owner": {"S": owner},
                ":now": _epoch(now),
                ":until": _epoch(now + lease_seconds),
                ":one": {"N": "1"},
            },
            {"#s": "status"},
        )
        if started is not None:
            return Started(attempt=int(started["attempt"]))
        job = self.get(job_id)
        if job is None or job.deleting:
            return Started(gone=True)
        if job.finished:
            return Started(finished=job)
        return Started(held_by=job.lease_owner, lease_left=max(0.0, (job.lease_expires_at or now) - now))

    def _update_running(
        self,
        job_id: str,
        attempt: int,
        owner: str | None,
        update: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """One update of a RUNNING job, only by its latest attempt (and holder); the new
        record, or None when fenced off."""
        condition = "#s = :running AND attempt = :attempt"
        values = {**values, ":running": {"S": JobStatus.RUNNING}, ":attempt": {"N": str(attempt)}}
        if owner is not None:
            condition += " AND lease_owner = :owner"
            values[":owner"] = {"S": owner}
        return self._update(job_id, update, condition, values, {"#s": "status", **(names or {})})

    def renew_lease(self, job_id: str, attempt: int, owner: str, lease_seconds: float) -> bool:
        """The holder is alive: push its lease out (0: end it now). False when it no
        longer holds the job."""
        values = {":until": _epoch(time.time() + lease_seconds)}
        return self._update_running(job_id, attempt, owner, "SET lease_expires_at = :until", values) is not None

    def report_progress(self, job_id: str, attempt: int, owner: str, records: int, bytes_read: int) -> bool:
        """The holder's progress (records written, input bytes read), one conditional write
        that only the RUNNING job's current attempt may make. False when fenced off."""
        update = "SET progress_records = :r, progress_bytes = :b, progress_at = :now"
        values = {":r": {"N": str(records)}, ":b": {"N": str(bytes_read)}, ":now": {"S": utc_now_iso()}}
        return self._update_running(job_id, attempt, owner, update, values) is not None

    def release(self, job_id: str, attempt: int, owner: str) -> bool:
        """RUNNING -> PENDING: the holder hands the job back on a clean shutdown; the
        attempt it had started is not counted."""
        update = (
            "SET #s = :pending, active_shard = :shard REMOVE active, lease_owner, lease_expires_at ADD attempt :minus"
        )
        values = {
            ":pending": {"S": JobStatus.PENDING},
            ":shard": {"S": active_shard(job_id, JobStatus.PENDING, self._shards)},
            ":minus": {"N": "-1"},
        }
        return self._update_running(job_id, attempt, owner, update, values) is not None

    def finish(self, job_id: str, attempt: int, status: JobStatus, **fields: Any) -> Job | None:
        """RUNNING (this attempt) -> COMPLETED | FAILED with completed_at; None if fenced off.

        `fields` are Job attributes (error, result keys, summary)."""
        if status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            raise ValueError(f"finish() goes to COMPLETED or FAILED, not {status}")
        unknown = set(fields) - set(Job.__dataclass_fields__)
        if unknown:
            raise ValueError(f"not job attributes: {sorted(unknown)}")
        sets = {"completed_at": utc_now_iso(), **{k: v for k, v in fields.items() if v is not None}}
        update = "SET #s = :status, " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets)))
        update += " REMOVE active, active_shard, lease_owner, lease_expires_at"
        values = {f":v{i}": to_value(v) for i, v in enumerate(sets.values())}
        values[":status"] = {"S": str(status)}
        names = {f"#f{i}": k for i, k in enumerate(sets)}
        record = self._update_running(job_id, attempt, None, update, values, names)
        return Job.from_record(record) if record is not None else None

    def cancel(self, job_id: str, user_id: str) -> Cancelling:
        """PENDING or RUNNING -> CANCELLED, by the job's owner. A RUNNING job's lease ends
        and its attempt is uncounted in the same write, so the holder's renewals and its
        finish are fenced off; the holder sees the status and stops the engine. Cancelling a
        job already CANCELLED answers it again (a second click)."""
        now = {":now": {"S": utc_now_iso()}, ":user": {"S": user_id}, ":cancelled": {"S": JobStatus.CANCELLED}}
        guard = "user_id = :user AND attribute_not_exists(deleting_since) AND #s = :from"
        update = "SET #s = :cancelled, cancelled_at = :now REMOVE active, active_shard"
        # Two writes, because only a started attempt is uncounted; a job moving between
        # them (RUNNING -> PENDING on a hand-back) is caught by the second pass.
        for _ in range(2):
            for source, extra in (
                (JobStatus.PENDING, ""),
                (JobStatus.RUNNING, ", lease_owner, lease_expires_at ADD attempt :minus"),
            ):
                values = {**now, ":from": {"S": str(source)}}
                if extra:
                    values[":minus"] = {"N": "-1"}
                record = self._update(job_id, update + extra, guard, values, {"#s": "status"})
                if record is not None:
                    return Cancelling(Job.from_record(record), was=source)
            job = self.get_for_user(job_id, user_id)
            if job is None:
                return Cancelling()
            if job.status == JobStatus.CANCELLED:
                return Cancelling(job)
            if job.deleting:
                return Cancelling(job, refused="it is being deleted")
            if job.finished:
                return Cancelling(job, refused=f"it has already finished ({job.status})")
        return Cancelling(job, refused="it changed state meanwhile; try again")

    def is_cancelled(self, job_id: str) -> bool:
        """True once the job is CANCELLED (or gone): the running holder's cheap poll."""
        item = self._ddb.get_item(
            TableName=self._table,
            Key={"job_id": {"S": job_id}},
            ConsistentRead=True,
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
        ).get("Item")
        return item is None or item["status"]["S"] == JobStatus.CANCELLED

    def rename(self, job_id: str, user_id: str, name: str | None) -> Job | None:
        """Set (or, with None, clear) the name of the user's job, in any state but being
        deleted. The job renamed; None when there is no such job of this user, or it is
        being deleted. The caller bounds and cleans `name`."""
        condition = "user_id = :user AND attribute_not_exists(deleting_since)"
        values: dict[str, Any] = {":user": {"S": user_id}}
        if name is None:
            update = "REMOVE #n"
        else:
            update = "SET #n = :name"
            values[":name"] = {"S": name}
        record = self._update(job_id, update, condition, values, {"#n": "name"})
        return Job.from_record(record) if record is not None else None

    def mark_notified(self, job_id: str) -> bool:
        """Record that the job's email went out; False if it already had (never two emails)."""
        condition = "attribute_exists(job_id) AND attribute_not_exists(notified_at)"
        return self._update(job_id, "SET notified_at = :now", condition, {":now": {"S": utc_now_iso()}}) is not None

    def clear_notified(self, job_id: str) -> None:
        """Undo mark_notified when sending failed, so redelivery sends it."""
        self._ddb.update_item(
            TableName=self._table,
            Key={"job_id": {"S": job_id}},
            UpdateExpression="REMOVE notified_at",
        )

    # -- storage: HOT -> ARCHIVED -> RESTORING -> HOT (docs/archiver.md) ------------------
    def commit_archive(self, job_id: str, user_id: str, users_table: str, archive_refs: dict[str, str]) -> bool:
        """In one transaction: the user is still free and the job still HOT -> ARCHIVED.

        False when either check fails (the user upgraded meanwhile, or another
        replica archived it): the caller drops its cold copies and keeps the hot ones.
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
                            "UpdateExpression": "SET #st = :archived, archive_refs = :refs, archived_at = :now",
                            "ConditionExpression": (
                                "#st = :hot AND #s = :completed AND attribute_not_exists(archive_refs) "
                                "AND attribute_not_exists(deleting_since)"
                            ),
                            "ExpressionAttributeNames": {"#st": "storage", "#s": "status"},
                            "ExpressionAttributeValues": {
                                ":archived": {"S": Storage.ARCHIVED},
                                ":hot": {"S": Storage.HOT},
                                ":completed": {"S": JobStatus.COMPLETED},
                                ":refs": to_value(archive_refs),
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

    def _storage_transition(
        self, job_id: str, expected: Storage, sets: dict[str, Any], removes: tuple[str, ...] = ()
    ) -> bool:
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets)))
        if removes:
            update += " REMOVE " + ", ".join(removes)
        values = {":expected": {"S": str(expected)}, **{f":v{i}": to_value(v) for i, v in enumerate(sets.values())}}
        names = {"#st": "storage", **{f"#f{i}": k for i, k in enumerate(sets)}}
        condition = "#st = :expected AND attribute_not_exists(deleting_since)"
        return self._update(job_id, update, condition, values, names) is not None

    def mark_restoring(
        self, job_id: str, tier: str, restore_ids: dict[str, str] | None = None, again: bool = False
    ) -> bool:
        """ARCHIVED -> RESTORING (or RESTORING -> RESTORING when `again`: the restored copy
        expired before thaw read it), recording the retrieval tier and when it was asked for."""
        sets: dict[str, Any] = {
            "storage": str(Storage.RESTORING),
            "restore_tier": tier,
            "restore_requested_at": utc_now_iso(),
        }
        if restore_ids:
            sets["restore_ids"] = restore_ids
        return self._storage_transition(job_id, Storage.RESTORING if again else Storage.ARCHIVED, sets)

    def mark_thawed(self, job_id: str, hot_keys: dict[str, str]) -> bool:
        """RESTORING -> HOT, the record pointing at the restored copies (`hot_keys`: result
        field -> key). archive_refs stay until the cold copies are gone (clear_archive_refs)."""
        sets: dict[str, Any] = {"storage": str(Storage.HOT), "restored_at": utc_now_iso(), **hot_keys}
        return self._storage_transition(job_id, Storage.RESTORING, sets, ("restore_ids",))

    def clear_archive_refs(self, job_id: str) -> bool:
        """The cold copies are deleted: the record no longer points at them."""
        return self._storage_transition(job_id, Storage.HOT, {"storage": str(Storage.HOT)}, ("archive_refs",))

    # -- deletion: any job but a RUNNING or RESTORING one -> deleting -> gone ------------
    def mark_deleting(self, job_id: str, user_id: str) -> Deleting:
        """Mark the user's job for deletion, unless it is running or being restored.

        From then on nothing starts, archives or restores it (their conditional writes
        refuse a job being deleted); it leaves the index of unfinished jobs. Marking a job
        already being deleted answers it again, so a deletion cut short can be finished."""
        record = self._update(
            job_id,
            "SET deleting_since = if_not_exists(deleting_since, :now) REMOVE active, active_shard",
            "user_id = :user AND #s <> :running AND #st <> :restoring",
            {
                ":now": {"S": utc_now_iso()},
                ":user": {"S": user_id},
                ":running": {"S": JobStatus.RUNNING},
                ":restoring": {"S": Storage.RESTORING},
            },
            {"#s": "status", "#st": "storage"},
        )
        if record is not None:
            return Deleting(Job.from_record(record))
        job = self.get_for_user(job_id, user_id)
        if job is None:
            return Deleting()
        if job.status == JobStatus.RUNNING:
            return Deleting(job, refused="it is running; delete it once it has finished")
        return Deleting(job, refused="its results are being restored; delete it once they are back")

    def delete(self, job_id: str) -> None:
        """deleting -> gone: remove the record of a job marked for deletion (whose objects
        are gone). Nothing happens to a job not marked, or already gone."""
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                ConditionExpression="attribute_exists(deleting_since)",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
