"""The operator's queue exporter against moto over HTTP: depth from SQS and the oldest
message's age from CloudWatch (points put where AWS/SQS publishes them), exported with no
worker running; an unreadable figure is removed, never left stale, and nothing is received
from the queue (a receive would count toward maxReceiveCount)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from operator_support import chart_objects, deployment, metric, replicas, send, wait_for
from prometheus_client import REGISTRY

from gas.operator.queues import QueueWatcher


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def _watcher(aws, queues) -> QueueWatcher:
    return QueueWatcher(
        [(q, aws.names.queue(q)) for q in queues], aws.client("sqs"), aws.client("cloudwatch"), interval=60
    )


def test_depth_and_oldest_age_of_every_queue_with_no_worker(provisioned):
    aws = provisioned
    sqs, cw = aws.client("sqs"), aws.client("cloudwatch")
    url = aws.queue_url(aws.names.queue("annotate"))
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    now = datetime.now(UTC)
    for minutes_ago, age in ((3, 4680.0), (1, 4800.0)):  # stuck for 80 minutes
        cw.put_metric_data(
            Namespace="AWS/SQS",
            MetricData=[
                {
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": aws.names.queue("annotate")}],
                    "Value": age,
                    "Timestamp": now - timedelta(minutes=minutes_ago),
                }
            ],
        )
    _watcher(aws, ["annotate", "notify"]).poll()

    assert _value("gas_queue_messages", queue="annotate", kind="visible") == 3
    assert _value("gas_queue_messages", queue="annotate", kind="in_flight") == 0
    assert _value("gas_queue_oldest_message_age_seconds", queue="annotate") == 4800.0  # the newest point
    # An empty queue CloudWatch says nothing about has no old message.
    assert _value("gas_queue_messages", queue="notify", kind="visible") == 0
    assert _value("gas_queue_oldest_message_age_seconds", queue="notify") == 0
    # Nothing was received: the messages' receive counts are untouched.
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])["Messages"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in got} == {"1"}


def test_messages_with_no_age_point_and_unreadable_queues_export_no_figure(provisioned):
    aws = provisioned
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.queue_url(aws.names.queue("archive")), MessageBody="m")
    watcher = _watcher(aws, ["archive", "nosuch"])
    before = _value("gas_queue_read_errors_total", queue="nosuch", source="sqs") or 0
    watcher.poll()
    assert _value("gas_queue_messages", queue="archive", kind="visible") == 1
    # Messages wait and CloudWatch has no point yet: unknown, not 0.
    assert _value("gas_queue_oldest_message_age_seconds", queue="archive") is None
    assert _value("gas_queue_messages", queue="nosuch", kind="visible") is None
    assert _value("gas_queue_read_errors_total", queue="nosuch", source="sqs") == before + 1


def _put_age(cw, queue: str, age: float) -> None:
    """A point where AWS/SQS publishes the queue's oldest message age (a minute ago)."""
    cw.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
                "Value": age,
                "Timestamp": datetime.now(UTC) - timedelta(minutes=1),
            }
        ],
    )


def test_the_operator_process_exports_every_queue_and_dlq_with_its_worker_scaled_to_zero(
    cluster, operators, provisioned
):
    """Issue 27 item 2 as deployed: the gas-operator process, with the chart's GAS_WATCH_QUEUES
    and the chart's ServiceAccount, serves on /metrics the depth and age of a queue whose
    worker Deployment is at 0 replicas (500 messages stuck for 80 minutes) and of its DLQ."""
    (op_dep,) = [d for d in chart_objects({"Deployment"}) if d["metadata"]["name"] == "gas-operator"]
    env = {e["name"]: e.get("value") for e in op_dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    watched = json.loads(env["GAS_WATCH_QUEUES"])
    assert {"annotate", "annotate-dlq", "notify", "notify-dlq"} <= set(watched)
    deployment(cluster, "gas-annotator", replicas=0)  # scaled to zero: no worker exports anything
    aws = provisioned
    send(aws, aws.names.queue("annotate"), 500)
    send(aws, aws.names.dlq("annotate"), 2)
    cw = aws.client("cloudwatch")
    _put_age(cw, aws.names.queue("annotate"), 4800.0)
    _put_age(cw, aws.names.dlq("annotate"), 90_000.0)
    op = operators.start(GAS_WATCH_QUEUES=env["GAS_WATCH_QUEUES"], GAS_QUEUE_WATCH_SECONDS="5")

    def ages() -> dict[str, float]:
        """The exported ages by queue, once a whole poll has set them (SQS first, then CloudWatch)."""
        text = op.metrics()
        found = re.findall(r'^gas_queue_oldest_message_age_seconds\{queue="([^"]+)"\} (\S+)$', text, re.M)
        return {q: float(v) for q, v in found}

    exported = wait_for(lambda: len(a := ages()) == len(watched) and a, 30, "every watched queue's age")
    assert exported["annotate"] == 4800.0 and exported["annotate-dlq"] == 90_000.0
    assert exported["notify"] == exported["notify-dlq"] == 0  # empty, and CloudWatch has no point
    text = op.metrics()
    assert metric(text, "gas_queue_messages", queue="annotate", kind="visible") == 500
    assert metric(text, "gas_queue_messages", queue="annotate-dlq", kind="visible") == 2
    assert replicas(cluster, "gas-annotator") == 0
