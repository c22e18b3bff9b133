"""A soak of the local stack at 10x its planning load, against 1x in the same run.

The planning load (docs/kubernetes.md "Scale", decision 110): 120 jobs an hour and 1
read a second. One local stack (moto server, gunicorn web, the real annotator, notifier
and archiver processes, as `make run` starts them) takes, for a bounded time at a steady
open-loop rate (a slow answer does not slow the schedule): uploads through /api/v1 (the
`gas` CLI's client: POST /uploads, the presigned POST to S3, POST /jobs) by several users
(free and premium, the sample VCFs of ../shared/data/vcf), and reads: the job list and
job pages (signed-in session) and /api/v1 jobs, job and variant-table calls (tokens).

First the peer, 1x for --peer-minutes; then 10x (--factor) for --minutes, at the full
rate (not scaled down). Each phase then waits for its jobs (at most --drain seconds) and
reports: submit (start of the upload) -> COMPLETED p50/p95 from the job records, every job
completed or not, one email per completed job in moto's SES store, web request p50/p95
and error rate (5xx, refused connections, other 4xx; 429s apart), the annotate queue's
depth over time (visible + in flight, every 5 s), and each process's CPU seconds and peak
memory (PSS of its whole process tree, from /proc every 2 s: gunicorn's master and workers
as one, the annotator with its forkserver and engine child).

    .venv/bin/python bench/soak.py [--minutes 5] [--peer-minutes 1.5] [--factor 10]
                                   [--jobs-per-hour 120] [--reads-per-second 1] [--users 6] [--drain 60]
`make bench` runs the defaults: at most about 10 minutes, stack start and drains included.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from _common import SAMPLES, DevStack, User, bench_stack, job_id_of, make_token, moto_client, percentile

from gas.cli.client import ApiError, Client, send_file
from gas.core.timeutil import parse_iso

FREE_FILES = ["free_1.vcf", "test.vcf"]
PREMIUM_FILES = ["premium_1.vcf", "premium_2.vcf", "free_1.vcf"]
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Soaker:
    """One signed-in user with an API token: its session for pages, its client for the API."""

    user: User
    client: Client
    files: list[str]
    premium: bool
    jobs: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


@dataclass
class Phase:
    name: str
    jobs_per_second: float
    reads_per_second: float
    seconds: float
    submitted: dict[str, float] = field(default_factory=dict)  # job id -> epoch the upload began
    submit_failures: list[str] = field(default_factory=list)
    requests: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # kind -> ms
    answers: Counter[str] = field(default_factory=Counter)  # "2xx", "5xx", "429", "error: ..."
    queue: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    emailed: set[str] = field(default_factory=set)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    wall: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, answer: str) -> None:
        with self.lock:  # the pool's threads answer together
            self.answers[answer] += 1


# -- the processes: CPU and RSS of each one's tree, from /proc ---------------------------


def _proc_table() -> dict[int, tuple[int, float, int]]:
    """pid -> (parent pid, CPU seconds incl. reaped children, PSS bytes) of every process.
    PSS, not RSS: the annotator's forkserver and engine child share the preloaded engine and
    its mapped database, which RSS would count once a process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/smaps_rollup") as f:
                pss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
        except (OSError, IndexError, StopIteration):
            continue  # it exited meanwhile (a kernel thread has no Pss)
        # fields[0] is field 3 (state): ppid is 4, utime..cstime are 14..17.
        cpu = sum(int(x) for x in fields[11:15]) / TICK
        table[int(entry)] = (int(fields[1]), cpu, pss)
    return table


def _trees(roots: dict[str, int]) -> dict[str, tuple[float, int]]:
    """name -> (CPU seconds, PSS bytes) of each root's live process tree."""
    table = _proc_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)
    out = {}
    for name, root in roots.items():
        cpu, rss, todo = 0.0, 0, [root]
        while todo:
            pid = todo.pop()
            if pid in table:
                cpu += table[pid][1]
                rss += table[pid][2]
                todo += children.get(pid, [])
        out[name] = (cpu, rss)
    return out


class Sampler(threading.Thread):
    """Every process tree's CPU and peak PSS (every 2 s) and the queues' depth (every 5 s)."""

    def __init__(self, stack: DevStack):
        super().__init__(daemon=True)
        self.stack = stack
        self.phase: Phase | None = None
        self.halt = threading.Event()
        self.sqs = moto_client(stack.moto_url, "sqs")
        urls = self.sqs.list_queues(QueueNamePrefix=stack.prefix).get("QueueUrls", [])
        self.queues = {u.rsplit("/", 1)[1].removeprefix(stack.prefix + "-"): u for u in urls}

    def roots(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.stack.procs.items() if p.poll() is None}

    def begin(self, phase: Phase) -> None:
        self.start_cpu = {k: v[0] for k, v in _trees(self.roots()).items()}
        self.phase = phase

    def end(self) -> None:
        phase, self.phase = self.phase, None
        assert phase is not None
        for name, (cpu, _) in _trees(self.roots()).items():
            phase.cpu[name] = cpu - self.start_cpu.get(name, 0.0)

    def run(self) -> None:
        n = 0
        while not self.halt.wait(2):
            phase = self.phase
            if phase is None:
                continue
            for name, (_, rss) in _trees(self.roots()).items():
                phase.rss[name] = max(phase.rss.get(name, 0), rss)
            if n % 5 == 0:  # 10 s would miss short spikes; each sample costs moto a request per queue
                phase.queue.append((time.monotonic(), self.depths()))
            n += 1

    def depths(self) -> dict[str, int]:
        out = {}
        for name, url in self.queues.items():
            if name.endswith("dlq"):
                continue
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            out[name] = int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        return out


# -- the load ---------------------------------------------------------------------------


def paced(rate: float, seconds: float, pool: ThreadPoolExecutor, call: Callable[[int], None]) -> None:
    """call(i) at i / rate seconds from now, open loop, in the pool, for `seconds`."""
    if rate <= 0:
        return
    start, i = time.monotonic(), 0
    while (due := start + i / rate) < start + seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        pool.submit(call, i)
        i += 1


def submit(phase: Phase, soaker: Soaker, i: int) -> None:
    name = soaker.files[i % len(soaker.files)]
    path = SAMPLES / name
    began = time.time()
    try:
        t = time.perf_counter()
        upload = soaker.client.create_upload(name, path.stat().st_size)
        send_file(upload, str(path), path.stat().st_size, lambda _n: None)
        # premium_1.vcf is NCBI36, which GAS has no database of: annotated as GRCh37 anyway, as a user may.
        confirm = name == "premium_1.vcf"
        job = soaker.client.create_job(upload["upload_id"], f"soak {phase.name} {i}", "GRCh37", confirm)
        phase.requests["API submit (upload + job)"].append((time.perf_counter() - t) * 1000)
        phase.count("2xx")
    except (ApiError, requests.RequestException) as exc:
        phase.submit_failures.append(f"{name}: {exc}")
        phase.count(f"error: submit {getattr(exc, 'status', '')}")
        return
    phase.submitted[job["job_id"]] = began
    soaker.jobs.append(job["job_id"])


def read(phase: Phase, soaker: Soaker, i: int) -> None:
    """One read a user or a pipeline makes, in turn: pages, then the API."""
    job = random.choice(soaker.jobs) if soaker.jobs else None
    done = random.choice(soaker.completed) if soaker.completed else None
    kinds: list[tuple[str, Callable[[], requests.Response]]] = [
        ("page /annotations", lambda: soaker.user.get("/annotations")),
        ("API /jobs", lambda: soaker.client.http.get(soaker.client.url + "/api/v1/jobs", timeout=30)),
    ]
    if job:
        kinds.append(("page /annotations/<id>", lambda: soaker.user.get(f"/annotations/{job}")))
        kinds.append(
            ("API /jobs/<id>", lambda: soaker.client.http.get(f"{soaker.client.url}/api/v1/jobs/{job}", timeout=30))
        )
    if done and soaker.premium:  # free users' results go to cold storage 180 s after completion
        kinds.append(
            (
                "API /jobs/<id>/variants",
                lambda: soaker.client.http.get(f"{soaker.client.url}/api/v1/jobs/{done}/variants", timeout=30),
            )
        )
    kind, call = kinds[i % len(kinds)]
    t = time.perf_counter()
    try:
        resp = call()
    except requests.RequestException as exc:
        phase.count(f"error: {type(exc).__name__}")
        return
    phase.requests[kind].append((time.perf_counter() - t) * 1000)
    status = resp.status_code
    phase.count("2xx" if status < 400 else "429" if status == 429 else f"{status // 100}xx")
    if kind == "API /jobs/<id>" and job is not None and status == 200 and resp.json()["status"] == "COMPLETED":
        if job not in soaker.completed:
            soaker.completed.append(job)


def run_phase(stack: DevStack, sampler: Sampler, soakers: list[Soaker], phase: Phase, drain: float) -> None:
    print(
        f"{phase.name}: {phase.jobs_per_second * 3600:.0f} jobs/h, {phase.reads_per_second:g} reads/s, "
        f"{phase.seconds:.0f} s",
        flush=True,
    )
    sampler.begin(phase)
    started = time.monotonic()

    def task(call: Callable[[Phase, Soaker, int], None]) -> Callable[[int], None]:
        def go(i: int) -> None:
            try:  # a user in turn; its i-th call of this kind
                call(phase, soakers[i % len(soakers)], i // len(soakers))
            except Exception as exc:  # an answer the client could not read: an error, counted
                phase.count(f"error: {type(exc).__name__}")

        return go

    with ThreadPoolExecutor(32) as pool:
        threads = [
            threading.Thread(target=paced, args=(rate, phase.seconds, pool, task(call)))
            for rate, call in ((phase.jobs_per_second, submit), (phase.reads_per_second, read))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finish(stack, soakers, phase, time.monotonic() + drain)
    phase.wall = time.monotonic() - started
    sampler.end()
    phase.load = os.getloadavg()


def finish(stack: DevStack, soakers: list[Soaker], phase: Phase, deadline: float) -> None:
    """Wait for every job of the phase to end and for its email (until `deadline`)."""
    owner = {j: s for s in soakers for j in s.jobs if j in phase.submitted}
    pending = set(phase.submitted)
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            if time.monotonic() >= deadline:
                break  # a slow round must not stretch the bench past its bound
            try:
                record = owner[job_id].client.job(job_id)
            except ApiError:
                continue  # asked again on the next round
            phase.records[job_id] = record
            if record["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                pending.discard(job_id)
        time.sleep(2)
    completed = {j for j, r in phase.records.items() if r["status"] == "COMPLETED"}
    deadline = max(deadline, time.monotonic() + 10)  # each email follows its job's event
    while time.monotonic() < deadline:
        sent = emails(stack)  # one read of moto's store a round: it holds every object
        phase.emailed = {j for j in completed if any(j in m for m in sent)}
        if phase.emailed == completed:
            break
        time.sleep(5)


def emails(stack: DevStack) -> list[str]:
    """Every email moto's SES has accepted, as JSON text (the body links the job)."""
    with urllib.request.urlopen(f"{stack.moto_url}/moto-api/data.json", timeout=60) as resp:
        return [json.dumps(m) for m in json.load(resp)["ses"].get("Message", [])]


# -- the report -------------------------------------------------------------------------


def report(phase: Phase) -> bool:
    ends = {j: r for j, r in phase.records.items() if r.get("completed_at") and r["status"] == "COMPLETED"}
    waits = [parse_iso(r["completed_at"]).timestamp() - phase.submitted[j] for j, r in ends.items()]
    statuses = Counter(r["status"] for r in phase.records.values())
    total = sum(phase.answers.values())
    errors = sum(n for k, n in phase.answers.items() if k not in ("2xx", "429"))
    reads = [ms for kind, values in phase.requests.items() for ms in values if not kind.startswith("API submit")]
    print(
        f"== {phase.name}: {len(phase.submitted)} jobs submitted in {phase.seconds:.0f} s "
        f"({phase.wall:.0f} s with the drain), load average {phase.load[0]:.1f} {phase.load[1]:.1f}"
    )
    print(
        f"  jobs: {dict(statuses)}; submit failures {len(phase.submit_failures)}"
        + (f" (first: {phase.submit_failures[0]})" if phase.submit_failures else "")
    )
    if waits:
        print(
            f"  submit -> COMPLETED: p50 {percentile(waits, 50):.1f} s  p95 {percentile(waits, 95):.1f} s"
            f"  max {max(waits):.1f} s  (n={len(waits)})"
        )
    print(f"  emails: {len(phase.emailed)} of {len(ends)} completed jobs")
    if reads:
        print(
            f"  web reads: {len(reads)}  p50 {percentile(reads, 50):.0f} ms  p95 {percentile(reads, 95):.0f} ms"
            f"  max {max(reads):.0f} ms"
        )
    for kind, values in sorted(phase.requests.items()):
        print(
            f"    {kind:<28} n={len(values):<5} p50 {percentile(values, 50):6.0f} ms"
            f"  p95 {percentile(values, 95):6.0f} ms"
        )
    print(
        f"  answers: {dict(phase.answers)}; error rate {errors / max(total, 1):.2%} (429s apart: "
        f"{phase.answers['429']})"
    )
    if phase.queue:
        t0 = phase.queue[0][0]
        annotate = [(t - t0, d.get("annotate", 0)) for t, d in phase.queue]
        peaks = {q: max(d.get(q, 0) for _, d in phase.queue) for q in phase.queue[0][1]}
        print(f"  queue depth, max over the phase: {peaks}")
        step = max(1, len(annotate) // 12)
        print("  annotate queue (s: messages): " + "  ".join(f"{t:.0f}:{n}" for t, n in annotate[::step]))
    print("  process           CPU s   CPU %   peak PSS MiB")
    for name in sorted(phase.cpu):
        print(
            f"    {name:<15} {phase.cpu[name]:7.1f} {100 * phase.cpu[name] / phase.wall:6.1f}"
            f"  {phase.rss.get(name, 0) / 2**20:8.0f}"
        )
    return (
        bool(phase.submitted)
        and statuses.get("COMPLETED", 0) == len(phase.submitted)
        and not phase.submit_failures
        and len(phase.emailed) == len(ends)
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5, help="the 10x phase, at the full rate")
    parser.add_argument("--peer-minutes", type=float, default=1.5, help="the 1x phase (the peer)")
    parser.add_argument("--factor", type=float, default=10)
    parser.add_argument("--jobs-per-hour", type=float, default=120, help="1x (decision 110)")
    parser.add_argument("--reads-per-second", type=float, default=1, help="1x (decision 110)")
    parser.add_argument("--users", type=int, default=6, help="a third of them premium")
    parser.add_argument("--drain", type=float, default=60, help="seconds a phase waits for its jobs and emails")
    args = parser.parse_args()
    began = time.monotonic()

    with bench_stack() as stack:
        soakers = []
        for n in range(args.users):
            user = User(stack.url).sign_in()
            premium = n % 3 == 2
            if premium:
                user.upgrade()
            soakers.append(
                Soaker(user, Client(stack.url, make_token(user)), PREMIUM_FILES if premium else FREE_FILES, premium)
            )
        warm = soakers[0].user
        warm.wait_finished(job_id_of(warm.submit("test.vcf", (SAMPLES / "test.vcf").read_bytes())), timeout=600)
        sampler = Sampler(stack)
        sampler.start()
        phases = [
            Phase("1x (peer)", args.jobs_per_hour / 3600, args.reads_per_second, args.peer_minutes * 60),
            Phase(
                f"{args.factor:g}x",
                args.factor * args.jobs_per_hour / 3600,
                args.factor * args.reads_per_second,
                args.minutes * 60,
            ),
        ]
        for phase in phases:
            run_phase(stack, sampler, soakers, phase, args.drain)
        sampler.halt.set()

    print(
        f"soak of the local stack ({args.users} users, 1 annotator, CPUs: {os.cpu_count()}), "
        f"total wall {time.monotonic() - began:.0f} s"
    )
    ok = [report(phase) for phase in phases]
    verdicts = ", ".join(f"{p.name}: {'yes' if k else 'no'}" for p, k in zip(phases, ok, strict=True))
    print(f"every job completed and every email arrived: {'yes' if all(ok) else 'NO'} ({verdicts})")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
