"""SES throttling through the worker loop. moto's SES never throttles, so the notifier talks
to moto through a real HTTP server that forwards every request and answers SendEmail with
SES's own `Throttling` error while told to: a throttled email waits and is sent, never
dead-lettered, and sends are paced to the account's rate."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jobs_support import new_job
from support import sent_emails

from gas.core.aws import Aws, queue_counts
from gas.core.events import JobCompleted, envelope
from gas.core.job_record import JobStatus
from gas.core.jobs import JobStore, new_job_id
from gas.core.users import UserStore
from gas.core.worker import QueueWorker
from gas.notifier.worker import Notifier, NotifierSettings

# What SES answers (awsQuery protocol) when a sender exceeds its rate or its daily quota.
_THROTTLING = (
    '<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>Sender</Type>'
    "<Code>Throttling</Code><Message>{}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
)
RATE = "Maximum sending rate exceeded."
DAILY = "Daily message quota exceeded."


class SesThrottle(ThreadingHTTPServer):
    """Forwards to moto; the next `throttle` SendEmail requests get a Throttling error
    saying `reason`. `sends` keeps the arrival time of every SendEmail."""

    daemon_threads = True

    def __init__(self, moto_url: str):
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = urllib.parse.urlsplit(moto_url).netloc
        self.throttle, self.reason = 0, RATE
        self.sends: list[tuple[float, bool]] = []  # (monotonic time, throttled)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: SesThrottle

    def log_message(self, *args: object) -> None:
        pass

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if b"Action=SendEmail" in body:
            with self.server.lock:
                throttled = self.server.throttle > 0
                self.server.throttle -= throttled
                self.server.sends.append((time.monotonic(), throttled))
            if throttled:
                return self._answer(400, {"Content-Type": "text/xml"}, _THROTTLING.format(self.server.reason).encode())
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=60)
        upstream.request(self.command, self.path, body, dict(self.headers))
        resp = upstream.getresponse()
        headers = {k: v for k, v in resp.getheaders() if k.lower() not in ("transfer-encoding", "connection")}
        self._answer(resp.status, headers, resp.read())
        upstream.close()

    def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any


@pytest.fixture
def ses_throttle(provisioned, moto_url, monkeypatch) -> Iterator[SesThrottle]:
    server = SesThrottle(moto_url)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)  # every client of the notifier goes through it
    yield server
    server.shutdown()
    server.server_close()


def _finished_jobs(aws, n: int) -> list[tuple[str, str]]:
    """n FAILED jobs of one new user, each with its job.completed event: (job_id, event)."""
    users, jobs = UserStore(aws), JobStore(aws)
    user_id = f"user-{new_job_id()}"
    users.upsert(user_id, "Ada", f"{user_id}@example.org")
    out = []
    for _ in range(n):
        job = new_job(user_id, "free_1.vcf")
        jobs.create(job)
        done = jobs.finish(job.job_id, jobs.start(job.job_id, "m", 60).attempt, JobStatus.FAILED, error="line 3")
        out.append((job.job_id, envelope(JobCompleted(job.job_id, user_id, "FAILED", done.completed_at))))
    return out


def _worker(**settings) -> tuple[QueueWorker, Aws]:
    cfg = NotifierSettings(metrics_port=0, receive_wait_seconds=1, **settings)
    aws = Aws(cfg)
    return QueueWorker("notify", Notifier(cfg, aws), cfg, aws), aws


def _send(aws, body: str) -> None:
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(aws.names.queue("notify")), MessageBody=body)


def _mine(moto_url: str, job_id: str) -> list[dict]:
    return [m for m in sent_emails(moto_url) if f"/annotations/{job_id}" in m["body"]]


def test_a_throttled_email_is_deferred_uncounted_until_sent_never_dead_lettered(ses_throttle, moto_url):
    worker, aws = _worker(ses_throttled_delay_seconds=1)
    assert worker.handler.rate.interval == 1.0  # moto's GetSendQuota: MaxSendRate 1
    ((job_id, event),) = _finished_jobs(aws, 1)
    ses_throttle.throttle = 7  # more than the queue's maxReceiveCount (5)
    _send(aws, event)
    outcomes: list[tuple[int, str]] = []  # (the delivery's receive count, outcome)
    deadline = time.monotonic() + 90
    while not outcomes or outcomes[-1][1] != "success":
        assert time.monotonic() < deadline, outcomes
        outcomes += [(m.receive_count, worker.process(m)) for m in worker._receive()]
    # each deferral is a new message: SQS counts no receive toward the DLQ against it
    assert outcomes == [(1, "deferred")] * 7 + [(1, "success")], ses_throttle.sends
    assert len(_mine(moto_url, job_id)) == 1
    assert JobStore(aws).get(job_id).notified_at
    assert sum(queue_counts(aws.client("sqs"), aws.queue_url(aws.names.dlq("notify")))) == 0
    assert sum(queue_counts(aws.client("sqs"), aws.queue_url(aws.names.queue("notify")))) == 0


def test_a_spent_daily_quota_defers_for_the_longest_delay(ses_throttle, moto_url):
    worker, aws = _worker(ses_max_send_rate=50)
    ((job_id, event),) = _finished_jobs(aws, 1)
    ses_throttle.throttle, ses_throttle.reason = 1, DAILY
    _send(aws, event)
    (message,) = worker._receive() or worker._receive()
    assert worker.process(message) == "deferred"
    time.sleep(2)
    visible, in_flight, delayed = queue_counts(aws.client("sqs"), aws.queue_url(aws.names.queue("notify")))
    assert (visible, in_flight, delayed) == (0, 0, 1)  # back in 900 s, not before
    assert not _mine(moto_url, job_id) and JobStore(aws).get(job_id).notified_at is None


def test_sends_are_paced_to_the_configured_rate(ses_throttle, moto_url):
    worker, aws = _worker(ses_max_send_rate=4)
    jobs = _finished_jobs(aws, 5)
    for _, event in jobs:
        _send(aws, event)
    handled: list[str] = []
    deadline = time.monotonic() + 60
    while len(handled) < 5:
        assert time.monotonic() < deadline, handled
        handled += [worker.process(m) for m in worker._receive()]
    assert handled == ["success"] * 5 and all(len(_mine(moto_url, j)) == 1 for j, _ in jobs)
    times = [t for t, _ in ses_throttle.sends]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 5 and min(gaps) >= 0.25 - 0.01, gaps  # at most 4 a second
