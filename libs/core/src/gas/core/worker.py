"""The one SQS worker loop every queue consumer runs (docs/architecture.md, "The worker loop").

Long-poll a batch; run the handler for each message with a visibility heartbeat;
delete on success; hand it back delayed until due when the handler defers it;
leave for redelivery (with backoff) on a transient error;
dead-letter at once on a permanent one. Unexpected exceptions count as transient: the
queue's redrive policy dead-letters a message that keeps failing.

On SIGTERM: stop receiving, hand back messages not started, and give the message in
hand `shutdown_grace_seconds` to finish; then set its `cancel` event, and a handler that
stops early raises HandBack: the message is made visible at once (not a failure).

Every worker also watches its queue's dead-letter queue (depth and the age of the oldest
message it samples), because SQS's own moves after maxReceiveCount pass no handler.

Hooks hear when the worker is busy and when it is idle: `busy()` as it takes each message,
`idle()` after each poll that comes back empty. A hook acts on changes and may retry what
failed at the next call; the services pass the pod's deletion cost as one
(gas.core.deletion_cost.worker_hooks).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import Counter, Gauge, Histogram

from gas.core.aws import Aws
from gas.core.config import WorkerSettings
from gas.core.errors import Defer, HandBack, PermanentError, TransientError
from gas.core.events import Publisher
from gas.core.jobs import JobStore
from gas.core.observability import serve_ops
from gas.core.users import UserStore

log = structlog.get_logger()
S = TypeVar("S", bound=WorkerSettings)

MESSAGES_RECEIVED = Counter("gas_worker_messages_received_total", "Messages received", ["queue"])
MESSAGES_HANDLED = Counter("gas_worker_messages_handled_total", "Messages handled, by outcome", ["queue", "outcome"])
HANDLER_SECONDS = Histogram(
    "gas_worker_handler_duration_seconds",
    "Time spent in the message handler",
    ["queue"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
)
# 1 while a handler runs (a busy-pods view).
WORKER_BUSY = Gauge("gas_worker_busy", "1 while this worker is handling a message", ["queue"])
QUEUE_LAG = Histogram(
    "gas_worker_queue_lag_seconds",
    "Time from a message being sent to it being received",
    ["queue"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)


DLQ_PEEK_WAIT_SECONDS = 5
DLQ_MESSAGES = Gauge("gas_worker_dlq_messages", "Messages in the queue's dead-letter queue", ["queue"])
DLQ_OLDEST_AGE = Gauge(
    "gas_worker_dlq_oldest_message_age_seconds",
    "Age of the oldest message sampled from the dead-letter queue (0 when empty)",
    ["queue"],
)

# SQS's ceiling on DelaySeconds (15 minutes): a longer deferral comes back after it and the
# handler defers the rest.
MAX_DELAY_SECONDS = 900
# A deferred message is re-sent as a new SQS message: this attribute carries the first
# one's id, so `Message.message_id` names the delivery across deferrals (the annotator's
# job lease is held by it).
DELIVERY_ID_ATTRIBUTE = "gas-delivery-id"
# SQS keeps a message invisible for at most 12 hours after its receipt, however often the
# visibility is extended: past it the message reappears under a handler still at work.
SQS_VISIBILITY_CAP_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Message:
    body: str
    message_id: str  # of the delivery: the first SQS message id, kept across deferrals
    receipt_handle: str
    receive_count: int
    sent_at: float  # epoch seconds
    # Set when the worker is shutting down and the grace period is over, or the message
    # nears SQS's 12-hour visibility cap: a handler that can stop early does, and raises HandBack.
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)
    received_at: float = field(default_factory=time.monotonic, compare=False)  # monotonic


Handler = Callable[[Message], None]


class JobHandler(Generic[S]):
    """The tables, bucket and topic a handler of job events works with (the annotator's,
    the archiver's)."""

    def __init__(self, settings: S, aws: Aws):
        self.settings = settings
        self.aws = aws
        self.s3 = aws.client("s3")
        self.jobs = JobStore(aws)
        self.users = UserStore(aws)
        self.events = Publisher(aws)


class WorkerHook(Protocol):
    """Told, on the loop's thread, as the worker takes each message (busy) and after each empty
    poll (idle): keep it quick. An exception is logged once per streak, never stops the loop."""

    def busy(self) -> None: ...

    def idle(self) -> None: ...


class QueueWorker:
    def __init__(
        self,
        queue: str,
        handler: Handler,
        settings: WorkerSettings,
        aws: Aws,
        ready: Callable[[], bool] = lambda: True,
        hooks: Sequence[WorkerHook] = (),
    ):
        self.queue = queue
        self.handler = handler
        self.settings = settings
        self.sqs = aws.client("sqs")
        self.queue_url = aws.queue_url(aws.names.queue(queue))
        self.dlq_url = aws.queue_url(aws.names.dlq(queue))
        self._ready = ready
        self._stopping = threading.Event()
        # Export every series from the start (at 0), so rates and alerts see them.
        MESSAGES_RECEIVED.labels(queue)
        for outcome in ("success", "retry", "deferred", "dead_lettered", "handed_back"):
            MESSAGES_HANDLED.labels(queue, outcome)
        WORKER_BUSY.labels(queue).set(0)
        self._last_poll = time.monotonic()
        self._in_hand: Message | None = None
        self._hooks = tuple(hooks)
        self._failing_hooks: set[int] = set()  # indexes of hooks whose last call raised
        self.visibility_cap_seconds: float = SQS_VISIBILITY_CAP_SECONDS

    # -- lifecycle -------------------------------------------------------------------
    def stop(self, *_: object) -> None:
        if self._stopping.is_set():
            return
        log.info("worker.stopping", queue=self.queue, grace_seconds=self.settings.shutdown_grace_seconds)
        self._stopping.set()
        timer = threading.Timer(self.settings.shutdown_grace_seconds, self._cancel_in_hand)
        timer.daemon = True
        timer.start()

    def _cancel_in_hand(self) -> None:
        message = self._in_hand
        if message is not None:
            log.info("worker.cancelling", queue=self.queue, message_id=message.message_id)
            message.cancel.set()

    def _alive(self) -> bool:
        # A loop stuck for longer than a poll plus the longest handler run is not alive.
        budget = self.settings.receive_wait_seconds + self.settings.visibility_timeout * 20
        return time.monotonic() - self._last_poll < budget

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        if self.settings.metrics_port:
            serve_ops(self.settings.metrics_host, self.settings.metrics_port, self._alive, self._ready)
        if self.settings.dlq_poll_seconds:
            threading.Thread(target=self._watch_dlq, name="dlq-watch", daemon=True).start()
        log.info("worker.started", queue=self.queue, queue_url=self.queue_url)
        while not self._stopping.is_set():
            self._last_poll = time.monotonic()
            try:
                batch = self._receive()
            except (ClientError, BotoCoreError) as exc:
                log.warning("worker.receive_failed", queue=self.queue, error=str(exc))
                self._stopping.wait(2)
                continue
            if not batch:
                self._tell_hooks(busy=False)
            for i, message in enumerate(batch):
                if self._stopping.is_set():
                    self._release(batch[i:])
                    break
                self.process(message)
        log.info("worker.stopped", queue=self.queue)
        return 0

    def _tell_hooks(self, busy: bool) -> None:
        for i, hook in enumerate(self._hooks):
            name = type(hook).__name__
            try:
                if busy:
                    hook.busy()
                else:
                    hook.idle()
            except Exception as exc:  # noqa: BLE001 - a hook is a side channel, never the loop's end
                if i not in self._failing_hooks:
                    log.warning("worker.hook_failed", queue=self.queue, hook=name, busy=busy, error=repr(exc))
                self._failing_hooks.add(i)
                continue
            if i in self._failing_hooks:
                self._failing_hooks.discard(i)
                log.info("worker.hook_recovered", queue=self.queue, hook=name)

    # -- one message -----------------------------------------------------------------
    def _receive(self) -> list[Message]:
        resp = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.settings.batch_size,
            WaitTimeSeconds=self.settings.receive_wait_seconds,
            VisibilityTimeout=self.settings.visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=[DELIVERY_ID_ATTRIBUTE],
        )
        out = []
        for raw in resp.get("Messages", []):
            attrs = raw.get("Attributes", {})
            delivery = raw.get("MessageAttributes", {}).get(DELIVERY_ID_ATTRIBUTE, {}).get("StringValue")
            msg = Message(
                body=raw["Body"],
                message_id=delivery or raw["MessageId"],
                receipt_handle=raw["ReceiptHandle"],
                receive_count=int(attrs.get("ApproximateReceiveCount", "1")),
                sent_at=int(attrs.get("SentTimestamp", "0")) / 1000,
            )
            MESSAGES_RECEIVED.labels(self.queue).inc()
            if msg.sent_at:
                QUEUE_LAG.labels(self.queue).observe(max(0.0, time.time() - msg.sent_at))
            out.append(msg)
        return out

    def process(self, message: Message) -> str:
        """Handle one message and settle it; returns the outcome label."""
        bound = log.bind(queue=self.queue, message_id=message.message_id, receive_count=message.receive_count)
        heartbeat = _Heartbeat(
            self.sqs, self.queue_url, message, self.settings.visibility_timeout, self.visibility_cap_seconds
        )
        started = time.monotonic()
        heartbeat.start()
        WORKER_BUSY.labels(self.queue).set(1)
        self._tell_hooks(busy=True)
        self._in_hand = message
        try:
            self.handler(message)
            outcome = "success"
        except HandBack:
            outcome = "handed_back"
            bound.info("worker.handed_back")
        except Defer as exc:
            outcome = "deferred"
            delay = max(0, min(math.ceil(exc.seconds), MAX_DELAY_SECONDS))
            bound.info("worker.deferred", seconds=delay, reason=str(exc))
        except PermanentError as exc:
            outcome = "dead_lettered"
            bound.error("worker.permanent_error", error=str(exc))
        except TransientError as exc:
            outcome = "retry"
            bound.warning("worker.transient_error", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - any bug is retried, then redriven to the DLQ
            outcome = "retry"
            bound.exception("worker.handler_crashed", error=repr(exc))
        finally:
            self._in_hand = None
            heartbeat.stop()
            WORKER_BUSY.labels(self.queue).set(0)
            HANDLER_SECONDS.labels(self.queue).observe(time.monotonic() - started)
        try:
            if outcome == "success":
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle)
            elif outcome == "dead_lettered":
                self._dead_letter(message, bound)
            elif outcome == "deferred":
                self._defer(message, delay)
            elif outcome == "handed_back":
                self._set_visibility(message, 0)
            else:
                # Back off exponentially instead of waiting out the whole visibility timeout.
                self._set_visibility(message, min(2**message.receive_count, 300))
        except (ClientError, BotoCoreError) as exc:
            # Unsettled: the message reappears after its visibility timeout.
            bound.warning("worker.settle_failed", outcome=outcome, error=str(exc))
        MESSAGES_HANDLED.labels(self.queue, outcome).inc()
        return outcome

    def _dead_letter(self, message: Message, bound: structlog.stdlib.BoundLogger) -> None:
        # Copy first, delete second: a crash in between leaves a duplicate, never a loss.
        self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=message.body)
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle)
        bound.warning("worker.dead_lettered", dlq=self.dlq_url)

    def _defer(self, message: Message, seconds: int) -> None:
        """Re-send the message with DelaySeconds, then delete the copy in hand. SQS then
        counts it as delayed until due, not as in flight: in-flight stays "a worker holds
        it", which is what the QueueScaler scales on (docs/operator.md). Copy first, delete
        second: a crash in between leaves a duplicate, never a loss."""
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.body,
            DelaySeconds=seconds,
            MessageAttributes={DELIVERY_ID_ATTRIBUTE: {"DataType": "String", "StringValue": message.message_id}},
        )
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle)

    def _set_visibility(self, message: Message, seconds: int) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=seconds
        )

    def _release(self, messages: list[Message]) -> None:
        """Hand back messages received but not started, for another replica to take now."""
        for message in messages:
            try:
                self._set_visibility(message, 0)
            except (ClientError, BotoCoreError):
                pass  # they reappear after the visibility timeout anyway

    # -- the dead-letter queue ---------------------------------------------------------
    def _watch_dlq(self) -> None:
        while not self._stopping.is_set():
            try:
                self.sample_dlq()
            except (ClientError, BotoCoreError) as exc:
                log.warning("worker.dlq_watch_failed", queue=self.queue, error=str(exc))
            self._stopping.wait(self.settings.dlq_poll_seconds)

    def sample_dlq(self) -> None:
        """Export the DLQ's depth and the age of the oldest message among those sampled.

        SQS has no API for the oldest message's age (CloudWatch has it), so a few messages
        are peeked with VisibilityTimeout=0: they stay where they are. A message SQS moved
        after maxReceiveCount keeps its original SentTimestamp."""
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]
        depth = int(attrs.get("ApproximateNumberOfMessages", "0"))
        oldest = 0.0
        if depth:
            peeked = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                # Long polling asks every SQS server: a short poll samples a few and can
                # return nothing from a non-empty DLQ (an age of 0). It returns at once here.
                WaitTimeSeconds=DLQ_PEEK_WAIT_SECONDS,
                MessageSystemAttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            sent = [int(m.get("Attributes", {}).get("SentTimestamp", "0")) / 1000 for m in peeked]
            oldest = max((time.time() - t for t in sent if t), default=0.0)
        DLQ_MESSAGES.labels(self.queue).set(depth)
        DLQ_OLDEST_AGE.labels(self.queue).set(round(oldest, 1))


class _Heartbeat:
    """Keeps a message invisible while its handler runs, up to SQS's visibility cap: two
    timeouts before it, the heartbeat stops extending and cancels the message, so the
    handler hands it back (redelivered cleanly) while it is still invisible."""

    def __init__(self, sqs: Any, queue_url: str, message: Message, timeout: int, cap: float):
        self._sqs, self._url, self._message, self._timeout = sqs, queue_url, message, timeout
        self._cap_at = message.received_at + cap
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="visibility-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self._timeout / 2):
            left = self._cap_at - time.monotonic()
            capped = left <= 2 * self._timeout
            try:  # the last extension too: the handler gets a full timeout to hand it back
                self._sqs.change_message_visibility(
                    QueueUrl=self._url, ReceiptHandle=self._message.receipt_handle, VisibilityTimeout=self._timeout
                )
            except (ClientError, BotoCoreError) as exc:
                log.warning("worker.heartbeat_failed", error=str(exc))
            if capped:
                log.warning(
                    "worker.visibility_cap",
                    message_id=self._message.message_id,
                    seconds_left=round(left),
                    reason="SQS keeps a message invisible for 12 hours at most: handing it back",
                )
                self._message.cancel.set()
                return
