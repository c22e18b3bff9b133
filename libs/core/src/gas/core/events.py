"""Event envelopes: {"type", "version", "id", "occurred_at", "data"}.

Consumers accept only the (type, version) pairs they know; anything else is a
permanent error, so the worker loop dead-letters it loudly instead of dropping it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from gas.core.errors import PermanentError
from gas.core.timeutil import utc_now_iso

JOB_REQUESTED = "job.requested"
JOB_COMPLETED = "job.completed"  # sent for COMPLETED and FAILED jobs; data.status says which
USER_UPGRADED = "user.upgraded"
RESTORE_CHECK = "job.restore-check"  # archiver -> thaw queue: is this job's restore done?
CURRENT_VERSION = 1

# What each event's data must carry.
_REQUIRED: dict[str, tuple[str, ...]] = {
    JOB_REQUESTED: ("job_id", "user_id"),
    JOB_COMPLETED: ("job_id", "user_id", "status", "completed_at"),
    USER_UPGRADED: ("user_id",),
    RESTORE_CHECK: ("job_id", "user_id"),
}


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    id: str
    occurred_at: str
    version: int = CURRENT_VERSION

    def to_json(self) -> str:
        return json.dumps(
            {
                "type": self.type,
                "version": self.version,
                "id": self.id,
                "occurred_at": self.occurred_at,
                "data": self.data,
            },
            separators=(",", ":"),
        )


def new_event(event_type: str, **data: Any) -> Event:
    if event_type not in _REQUIRED:
        raise ValueError(f"unknown event type {event_type!r}")
    missing = [k for k in _REQUIRED[event_type] if data.get(k) in (None, "")]
    if missing:
        raise ValueError(f"{event_type} needs {', '.join(missing)}")
    return Event(type=event_type, data=data, id=str(uuid.uuid4()), occurred_at=utc_now_iso())


def parse_event(body: str, accept: set[str]) -> Event:
    """Parse and validate an envelope; raise PermanentError on anything unexpected."""
    try:
        raw = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise PermanentError(f"message is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise PermanentError("message is not a JSON object")
    etype, version, data = raw.get("type"), raw.get("version"), raw.get("data")
    if etype not in accept:
        raise PermanentError(f"unexpected event type {etype!r} (accepts {sorted(accept)})")
    if version != CURRENT_VERSION:
        raise PermanentError(f"unsupported version {version!r} of {etype}")
    if not isinstance(data, dict):
        raise PermanentError(f"{etype} has no data object")
    missing = [k for k in _REQUIRED[etype] if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise PermanentError(f"{etype} is missing {', '.join(missing)}")
    return Event(
        type=etype,
        data=data,
        id=str(raw.get("id", "")),
        occurred_at=str(raw.get("occurred_at", "")),
        version=version,
    )
