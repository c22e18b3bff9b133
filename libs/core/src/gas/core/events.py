"""Events, declared once: what each carries, where it goes, and the one way to send it.

On the wire an event is an envelope ``{"type", "version", "id", "occurred_at", "data"}``.
Consumers accept only the types they know at the current version; anything else is a
permanent error, so the worker loop dead-letters it loudly instead of dropping it.

    event            sent by              to                        consumed by
    job.requested    web, sweeper         SNS job-requests          annotate queue
    job.completed    annotator            SNS job-completed         notify, archive queues
    user.upgraded    web                  SNS user-upgraded         restore queue
    job.restore-check archiver restore    SQS thaw (delayed)        thaw queue
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from gas.core.aws import Aws
from gas.core.errors import PermanentError
from gas.core.timeutil import utc_now_iso

CURRENT_VERSION = 1


@dataclass(frozen=True)
class Event:
    """Base of every event: its type name and where it is sent (an SNS topic, or an SQS
    queue for an event with one consumer that must arrive later), given as the class's
    keywords: ``class JobRequested(Event, type="job.requested", topic="job-requests")``."""

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str | None] = None
    QUEUE: ClassVar[str | None] = None

    def __init_subclass__(cls, *, type: str, topic: str | None = None, queue: str | None = None, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls.TYPE, cls.TOPIC, cls.QUEUE = type, topic, queue

    def data(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class JobRequested(Event, type="job.requested", topic="job-requests"):
    job_id: str
    user_id: str


@dataclass(frozen=True)
class JobCompleted(Event, type="job.completed", topic="job-completed"):
    """Sent for COMPLETED and FAILED jobs; `status` says which."""

    job_id: str
    user_id: str
    status: str
    completed_at: str


@dataclass(frozen=True)
class UserUpgraded(Event, type="user.upgraded", topic="user-upgraded"):
    user_id: str


@dataclass(frozen=True)
class RestoreCheck(Event, type="job.restore-check", queue="thaw"):
    """Archiver restore -> thaw: is this job's restore done?"""

    job_id: str
    user_id: str


E = TypeVar("E", bound=Event)


def envelope(event: Event) -> str:
    return json.dumps(
        {
            "type": event.TYPE,
            "version": CURRENT_VERSION,
            "id": str(uuid.uuid4()),
            "occurred_at": utc_now_iso(),
            "data": event.data(),
        },
        separators=(",", ":"),
    )


def parse_event(body: str, expected: type[E]) -> E:
    """Parse and validate an envelope of the expected type; PermanentError otherwise."""
    try:
        raw = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise PermanentError(f"message is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise PermanentError("message is not a JSON object")
    etype, version, data = raw.get("type"), raw.get("version"), raw.get("data")
    if etype != expected.TYPE:
        raise PermanentError(f"unexpected event type {etype!r} (accepts {expected.TYPE!r})")
    if version != CURRENT_VERSION:
        raise PermanentError(f"unsupported version {version!r} of {etype}")
    if not isinstance(data, dict):
        raise PermanentError(f"{etype} has no data object")
    fields = [f.name for f in dataclasses.fields(expected)]
    missing = [k for k in fields if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise PermanentError(f"{etype} is missing {', '.join(missing)}")
    return expected(**{k: data[k] for k in fields})


class Publisher:
    """Sends events to where their type says. The one place that pairs an event with a
    topic or queue."""

    def __init__(self, aws: Aws):
        self._aws = aws

    def publish(self, event: Event, delay_seconds: int = 0) -> None:
        body = envelope(event)
        if event.TOPIC is not None:
            if delay_seconds:
                raise ValueError("SNS cannot delay a message; delayed events go to a queue")
            self._aws.client("sns").publish(TopicArn=self._aws.topic_arn(event.TOPIC), Message=body)
        elif event.QUEUE is not None:
            url = self._aws.queue_url(self._aws.names.queue(event.QUEUE))
            self._aws.client("sqs").send_message(QueueUrl=url, MessageBody=body, DelaySeconds=delay_seconds)
        else:
            raise ValueError(f"{event.TYPE} has no destination")
