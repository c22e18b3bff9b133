"""The operator's Prometheus metrics. Per-scaler series are removed with their scaler."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DEPTH = Gauge("gas_operator_queue_messages", "Observed queue messages", ["scaler", "kind"])
DESIRED = Gauge("gas_operator_desired_replicas", "Replicas the scaler wants", ["scaler"])
ACTUAL = Gauge("gas_operator_actual_replicas", "Replicas the target has", ["scaler"])
ACTIVE = Gauge("gas_operator_active", "1 while the scaler's queue has work above its activation", ["scaler"])
PAUSED = Gauge("gas_operator_paused", "1 while the scaler is paused by annotation", ["scaler"])
FALLBACK = Gauge("gas_operator_fallback", "1 while the fallback replica count applies", ["scaler"])
SCALE_EVENTS = Counter("gas_operator_scale_events_total", "Scale changes made", ["scaler", "direction"])
ERRORS = Counter("gas_operator_errors_total", "Reconcile errors", ["scaler", "kind"])
PASS_SECONDS = Histogram(
    "gas_operator_reconcile_duration_seconds",
    "Duration of one reconcile pass",
    ["scaler"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOOP_LAG = Gauge("gas_operator_loop_lag_seconds", "How late the last pass started after it was due", ["scaler"])
API_CALLS = Counter("gas_operator_api_calls_total", "Calls to Kubernetes and SQS", ["api", "verb"])
LEADER = Gauge("gas_operator_leader", "1 while this replica holds the leader Lease and runs the scalers")
LEASE_ERRORS = Counter("gas_operator_lease_errors_total", "Failed attempts to read or renew the leader Lease")
# Every queue of the release, whatever scales its worker (gas.operator.queues).
QUEUE_MESSAGES = Gauge("gas_queue_messages", "Messages in the queue (SQS's approximate counts)", ["queue", "kind"])
QUEUE_OLDEST_AGE = Gauge(
    "gas_queue_oldest_message_age_seconds", "Age of the queue's oldest message (CloudWatch, AWS/SQS)", ["queue"]
)
QUEUE_READ_ERRORS = Counter("gas_queue_read_errors_total", "Failed reads of a queue's figures", ["queue", "source"])

ERROR_KINDS = ("queue", "target_missing", "kubernetes", "conflict", "invalid", "unexpected")
_PER_SCALER_GAUGES = (DESIRED, ACTUAL, ACTIVE, PAUSED, FALLBACK, LOOP_LAG)


def forget(scaler: str) -> None:
    """Drop every series of a deleted scaler (a gone scaler must not look stuck)."""
    series: list[tuple[Gauge | Counter | Histogram, tuple[str, ...]]] = [(g, (scaler,)) for g in _PER_SCALER_GAUGES]
    series += [(DEPTH, (scaler, kind)) for kind in ("visible", "in_flight", "delayed")]
    series += [(SCALE_EVENTS, (scaler, d)) for d in ("up", "down")]
    series += [(ERRORS, (scaler, kind)) for kind in ERROR_KINDS]
    series += [(PASS_SECONDS, (scaler,))]
    for metric, labels in series:
        try:
            metric.remove(*labels)
        except KeyError:
            pass  # never set
