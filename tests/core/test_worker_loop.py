"""The shared SQS worker loop, against moto server over HTTP."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest
from prometheus_client import REGISTRY

from gas.core.aws import queue_counts
from gas.core.config import WorkerSettings
from gas.core.errors import Defer, HandBack, PermanentError, TransientError
from gas.core.worker import QueueWorker


def _worker(aws, handler, **settings):
    cfg = WorkerSettings(metrics_port=0, receive_wait_seconds=1, **settings)
    return QueueWorker("annotate", handler, cfg, aws)


def _send(aws, body):
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=aws.queue_url(aws.names.queue("annotate")), MessageBody=body)


def _receive_one(worker):
    for _ in range(5):
        batch = worker._receive()
        if batch:
            return batch[0]
    raise AssertionError("no message arrived")


def _counts(aws, queue_name):
    """(visible, in flight, delayed)"""
    return queue_counts(aws.client("sqs"), aws.queue_url(queue_name))


def _depth(aws, queue_name):
    visible, in_flight, _ = _counts(aws, queue_name)
    return visible + in_flight


def _run_until_handling(script, aws_env, started):
    """Start a worker script in a process of its own; return it once its handler has touched `started`."""
    proc = subprocess.Popen([sys.executable, "-c", script], env={**aws_env, "PATH": "/usr/bin:/bin"})
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    return proc


def test_success_deletes_the_message(provisioned):
    seen = []
    worker = _worker(provisioned, lambda m: seen.append(m.body))
    _send(provisioned, "job-1")
    assert worker.process(_receive_one(worker)) == "success"
    assert seen == ["job-1"] and _depth(provisioned, provisioned.names.queue("annotate")) == 0


def test_permanent_error_dead_letters_at_once_and_the_next_message_runs(provisioned):
    def handler(message):
        if message.body == "poison":
            raise PermanentError("not an event")

    worker = _worker(provisioned, handler)
    _send(provisioned, "poison")
    assert worker.process(_receive_one(worker)) == "dead_lettered"
    _send(provisioned, "good")
    assert worker.process(_receive_one(worker)) == "success"
    dlq = provisioned.queue_url(provisioned.names.dlq("annotate"))
    bodies = [m["Body"] for m in provisioned.client("sqs").receive_message(QueueUrl=dlq, WaitTimeSeconds=1)["Messages"]]
    assert bodies == ["poison"]
    assert _depth(provisioned, provisioned.names.queue("annotate")) == 0


@pytest.mark.parametrize("error", [TransientError("S3 is slow"), RuntimeError("bug")])
def test_transient_error_and_crash_leave_the_message_for_redelivery(provisioned, error):
    calls = []

    def handler(message):
        calls.append(message.receive_count)
        if len(calls) == 1:
            raise error

    worker = _worker(provisioned, handler)
    _send(provisioned, "retry-me")
    assert worker.process(_receive_one(worker)) == "retry"
    time.sleep(2.5)  # backoff after the first receive is 2 s
    assert worker.process(_receive_one(worker)) == "success"
    assert calls == [1, 2]


def test_deferred_message_waits_as_delayed_not_in_flight_and_comes_back_when_due(provisioned):
    """SQS counts a deferred message as delayed, not in flight: nobody holds it, so the
    QueueScaler (which scales on in-flight work) does not keep replicas for it."""
    seen = []

    def handler(message):
        seen.append((message.body, time.monotonic()))
        if len(seen) == 1:
            raise Defer(2.2, "not due yet")

    worker = _worker(provisioned, handler)
    queue = provisioned.names.queue("annotate")
    _send(provisioned, "later")
    first = _receive_one(worker)
    assert worker.process(first) == "deferred"
    assert _counts(provisioned, queue) == (0, 0, 1)  # (visible, in flight, delayed)
    assert worker._receive() == []  # not before it is due (rounded up to 3 s)
    again = _receive_one(worker)
    # A new SQS message, the same delivery: what holds a job's lease keeps its name.
    assert again.message_id == first.message_id and again.receipt_handle != first.receipt_handle
    assert worker.process(again) == "success"
    assert [body for body, _ in seen] == ["later", "later"] and seen[1][1] - seen[0][1] >= 2.2
    assert _counts(provisioned, queue) == (0, 0, 0)


def test_a_deferral_beyond_the_sqs_delay_ceiling_waits_15_minutes_then_is_asked_again(provisioned):
    def an_hour_early(message):
        raise Defer(3600, "an hour early")

    worker = _worker(provisioned, an_hour_early)
    _send(provisioned, "much-later")
    assert worker.process(_receive_one(worker)) == "deferred"
    # SQS refuses DelaySeconds above 900: without the cap the message would stay in flight.
    assert _counts(provisioned, provisioned.names.queue("annotate")) == (0, 0, 1)


def test_heartbeat_keeps_a_long_job_invisible(provisioned):
    other = _worker(provisioned, lambda m: None, visibility_timeout=5)
    stolen = []

    def slow(message):
        deadline = time.monotonic() + 8  # longer than the 5 s visibility timeout
        while time.monotonic() < deadline:
            stolen.extend(other._receive())

    worker = _worker(provisioned, slow, visibility_timeout=5)
    _send(provisioned, "long")
    assert worker.process(_receive_one(worker)) == "success"
    assert stolen == []


def test_sigterm_finishes_the_message_in_hand_and_exits(provisioned, aws_env, tmp_path):
    done = tmp_path / "done"
    script = textwrap.dedent(
        f"""
        import time, pathlib
        from gas.core.aws import Aws
        from gas.core.config import WorkerSettings
        from gas.core.worker import QueueWorker
        settings = WorkerSettings(metrics_port=0, receive_wait_seconds=1)
        def handler(message):
            pathlib.Path({str(tmp_path / "started")!r}).touch()
            time.sleep(3)
            pathlib.Path({str(done)!r}).write_text(message.body)
        raise SystemExit(QueueWorker("annotate", handler, settings, Aws(settings)).run())
        """
    )
    _send(provisioned, "in-hand")
    _send(provisioned, "not-started")
    proc = _run_until_handling(script, aws_env, tmp_path / "started")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert done.read_text() in ("in-hand", "not-started")
    # Exactly one was handled and deleted; the other stays for another replica.
    assert _depth(provisioned, provisioned.names.queue("annotate")) == 1


def test_sigterm_hands_back_a_message_whose_handler_outlasts_the_grace(provisioned, aws_env, tmp_path):
    """A handler that can stop early (it watches message.cancel) is asked to after the
    grace period; its message is visible again at once, not after the visibility timeout."""
    script = textwrap.dedent(
        f"""
        import pathlib
        from gas.core.aws import Aws
        from gas.core.config import WorkerSettings
        from gas.core.errors import HandBack
        from gas.core.worker import QueueWorker
        settings = WorkerSettings(metrics_port=0, receive_wait_seconds=1, shutdown_grace_seconds=2,
                                  visibility_timeout=300, dlq_poll_seconds=0)
        def handler(message):
            pathlib.Path({str(tmp_path / "started")!r}).touch()
            if message.cancel.wait(120):
                raise HandBack("stopping")
        raise SystemExit(QueueWorker("annotate", handler, settings, Aws(settings)).run())
        """
    )
    _send(provisioned, "long-job")
    proc = _run_until_handling(script, aws_env, tmp_path / "started")
    stopped = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert time.monotonic() - stopped < 10, "the worker did not stop after the grace period"
    visible, _, _ = _counts(provisioned, provisioned.names.queue("annotate"))
    assert visible == 1, "the handed-back message is not visible at once"


def test_dead_letters_moved_by_sqs_itself_show_in_the_metrics(provisioned, aws_env):
    """After maxReceiveCount receives SQS moves a message to the DLQ without any handler
    seeing it (a worker OOM-killed each time): the DLQ gauges must show it."""
    import requests
    from support import free_port

    sqs = provisioned.client("sqs")
    url = provisioned.queue_url(provisioned.names.queue("annotate"))
    _send(provisioned, "kills-its-worker")
    for _ in range(8):  # receive and "die" (visibility 0): the redrive policy moves it
        sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, WaitTimeSeconds=0)
    assert _depth(provisioned, provisioned.names.queue("annotate")) == 0
    time.sleep(1.1)
    port = free_port()
    env = {
        **aws_env,
        "PATH": "/usr/bin:/bin",
        "GAS_METRICS_PORT": str(port),
        "GAS_METRICS_HOST": "127.0.0.1",
        "GAS_DLQ_POLL_SECONDS": "1",
        "GAS_RECEIVE_WAIT_SECONDS": "1",
    }
    script = (
        "from gas.core.aws import Aws; from gas.core.config import WorkerSettings; "
        "from gas.core.worker import QueueWorker; s = WorkerSettings(); "
        "raise SystemExit(QueueWorker('annotate', lambda m: None, s, Aws(s)).run())"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except requests.ConnectionError:
                text = ""
            if 'gas_worker_dlq_messages{queue="annotate"} 1.0' in text:
                break
            assert time.monotonic() < deadline, "the DLQ depth never showed"
            time.sleep(0.3)
        age = next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith('gas_worker_dlq_oldest_message_age_seconds{queue="annotate"}')
        )
        assert age >= 1.0
    finally:
        proc.terminate()
        proc.wait(20)


def _lines(path):
    return path.read_text().split() if path.exists() else []


def _changes(events):
    return [e for i, e in enumerate(events) if i == 0 or events[i - 1] != e]


def _wait_for_changes(path, want, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while _changes(_lines(path)) != want:
        assert time.monotonic() < deadline and proc.poll() is None, _lines(path)
        time.sleep(0.05)


def test_hooks_hear_each_message_and_each_empty_poll_and_a_failing_hook_stops_nothing(provisioned, aws_env, tmp_path):
    """busy() as each message is taken, idle() after each empty poll (a hook acts on changes:
    the deletion cost makes two API calls per burst of work). A hook that raises is logged once
    while it keeps failing, and the loop and the other hooks go on."""
    heard = tmp_path / "heard"
    script = textwrap.dedent(
        f"""
        from gas.core.aws import Aws
        from gas.core.config import WorkerSettings
        from gas.core.worker import QueueWorker
        class Record:
            def busy(self):
                with open({str(heard)!r}, "a") as f: f.write("busy\\n")
            def idle(self):
                with open({str(heard)!r}, "a") as f: f.write("idle\\n")
        class Broken:
            def busy(self): raise RuntimeError("hook on fire")
            def idle(self): raise RuntimeError("hook on fire")
        settings = WorkerSettings(metrics_port=0, receive_wait_seconds=1, batch_size=1, dlq_poll_seconds=0)
        worker = QueueWorker("annotate", lambda m: None, settings, Aws(settings), hooks=[Broken(), Record()])
        raise SystemExit(worker.run())
        """
    )
    for n in range(3):
        _send(provisioned, f"first-burst-{n}")
    env = {**aws_env, "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE)
    try:
        _wait_for_changes(heard, ["busy", "idle"], proc)
        assert _lines(heard).count("busy") == 3  # one per message
        _send(provisioned, "second-burst")
        _wait_for_changes(heard, ["busy", "idle", "busy", "idle"], proc)
        time.sleep(2.5)  # more empty polls: idle again, nothing else
        events = _lines(heard)
        assert events.count("busy") == 4 and events.count("idle") >= 3
        assert _changes(events) == ["busy", "idle", "busy", "idle"]
        assert _depth(provisioned, provisioned.names.queue("annotate")) == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    failures = [line for line in out.decode().splitlines() if "worker.hook_failed" in line]
    assert len(failures) == 1 and "hook on fire" in failures[0] and "Broken" in failures[0], failures


def test_the_dlq_sampler_long_polls(provisioned):
    """A short poll (WaitTimeSeconds=0) samples a few SQS servers and can find nothing in a
    non-empty DLQ, exporting an age of 0 on AWS: the peek must long-poll (the request sent)."""
    worker = _worker(provisioned, lambda m: None)
    sqs = provisioned.client("sqs")
    sqs.send_message(QueueUrl=worker.dlq_url, MessageBody="dead")
    sent: list[dict] = []
    sqs.meta.events.register("provide-client-params.sqs.ReceiveMessage", lambda params, **_: sent.append(params))
    try:
        worker.sample_dlq()
    finally:
        sqs.meta.events.unregister("provide-client-params.sqs.ReceiveMessage")
    (params,) = sent
    assert params["WaitTimeSeconds"] >= 1 and params["VisibilityTimeout"] == 0
    assert REGISTRY.get_sample_value("gas_worker_dlq_messages", {"queue": "annotate"}) == 1
    assert REGISTRY.get_sample_value("gas_worker_dlq_oldest_message_age_seconds", {"queue": "annotate"}) >= 0


def test_a_message_nearing_the_sqs_visibility_cap_is_handed_back_before_it(provisioned):
    """SQS keeps a message invisible 12 hours at most after its receipt: two visibility
    timeouts before that (here a 14 s cap, 5 s timeouts) the heartbeat stops extending and
    cancels the message; the handler hands it back and it is redelivered, not left to
    reappear under a handler still at work."""
    cancelled_after: list[float] = []

    def long_job(message):
        if not message.cancel.wait(30):
            raise AssertionError("never cancelled")
        cancelled_after.append(time.monotonic() - message.received_at)
        raise HandBack("visibility cap")

    worker = _worker(provisioned, long_job, visibility_timeout=5)
    worker.visibility_cap_seconds = 14
    _send(provisioned, "a 13-hour job")
    message = _receive_one(worker)
    assert worker.process(message) == "handed_back"
    (after,) = cancelled_after
    assert 4 <= after <= 14 - 5  # at the first beat within two timeouts of the cap
    again = _receive_one(worker)  # handed back: visible at once, redelivered
    assert again.body == "a 13-hour job" and again.receive_count == 2
