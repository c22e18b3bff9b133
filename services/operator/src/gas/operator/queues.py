"""The depth and the oldest message's age of every queue of the release, exported by the
operator whatever scales the queue's worker, and while no worker runs at all: the alerts
on stuck work must not depend on the processes they watch.

SQS gives the counts (GetQueueAttributes). The oldest message's age exists only in
CloudWatch (AWS/SQS ApproximateAgeOfOldestMessage, one point a minute): sampling it from
SQS would mean receiving messages, and every receive counts toward maxReceiveCount, so a
peeking exporter would dead-letter the work it watches. Every replica exports (the alerts
take the max), so the figures do not depend on the leader election either."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from gas.core.aws import queue_counts
from gas.operator.metrics import API_CALLS, QUEUE_MESSAGES, QUEUE_OLDEST_AGE, QUEUE_READ_ERRORS

log = structlog.get_logger()

AWS_ERRORS = (ClientError, BotoCoreError)
# CloudWatch publishes a queue's point about a minute late: look back far enough to find one.
AGE_LOOKBACK = timedelta(minutes=10)


class QueueWatcher:
    def __init__(
        self,
        queues: Sequence[tuple[str, str]],
        sqs: Any,
        cloudwatch: Any,
        interval: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        """queues: (label, SQS queue name) pairs; the label is the workers' `queue` label."""
        self.queues, self.sqs, self.cloudwatch, self.interval, self.now = list(queues), sqs, cloudwatch, interval, now
        self._urls: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-watch", daemon=True)

    def start(self) -> None:
        if self.queues:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def poll(self) -> None:
        """One read of every queue. A figure that could not be read is removed, never left stale."""
        visible: dict[str, int] = {}
        for label, name in self.queues:
            try:
                url = self._urls.get(name)
                if url is None:
                    API_CALLS.labels("sqs", "get-queue-url").inc()
                    url = self._urls[name] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
                API_CALLS.labels("sqs", "get-queue-attributes").inc()
                counts = queue_counts(self.sqs, url)
            except AWS_ERRORS as exc:
                QUEUE_READ_ERRORS.labels(label, "sqs").inc()
                log.warning("operator.queue_watch_failed", queue=label, source="sqs", error=str(exc)[:300])
                _remove(QUEUE_MESSAGES, *((label, kind) for kind in ("visible", "in_flight", "delayed")))
                continue
            for kind, value in zip(("visible", "in_flight", "delayed"), counts, strict=True):
                QUEUE_MESSAGES.labels(label, kind).set(value)
            visible[label] = sum(counts)
        self._ages(visible)

    def _ages(self, held: dict[str, int]) -> None:
        """The newest CloudWatch point of each queue, all in one GetMetricData call. No
        point (CloudWatch stops publishing for a queue idle for hours): 0 if the queue
        holds nothing, else unknown."""
        if not self.queues:
            return
        end = self.now()
        queries = [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateAgeOfOldestMessage",
                        "Dimensions": [{"Name": "QueueName", "Value": name}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
            for i, (_, name) in enumerate(self.queues)
        ]
        try:
            API_CALLS.labels("cloudwatch", "get-metric-data").inc()
            answer = self.cloudwatch.get_metric_data(
                MetricDataQueries=queries, StartTime=end - AGE_LOOKBACK, EndTime=end, ScanBy="TimestampDescending"
            )
        except AWS_ERRORS as exc:
            log.warning("operator.queue_watch_failed", source="cloudwatch", error=str(exc)[:300])
            for label, _ in self.queues:
                QUEUE_READ_ERRORS.labels(label, "cloudwatch").inc()
                _remove(QUEUE_OLDEST_AGE, (label,))
            return
        results = {r["Id"]: r for r in answer.get("MetricDataResults", [])}
        for i, (label, _) in enumerate(self.queues):
            result = results.get(f"q{i}", {})
            points = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=True))
            if points:
                QUEUE_OLDEST_AGE.labels(label).set(points[-1][1])
            elif held.get(label) == 0:
                QUEUE_OLDEST_AGE.labels(label).set(0)
            else:
                _remove(QUEUE_OLDEST_AGE, (label,))


def _remove(metric: Any, *label_sets: tuple[str, ...]) -> None:
    for labels in label_sets:
        try:
            metric.remove(*labels)
        except KeyError:
            pass  # never set
