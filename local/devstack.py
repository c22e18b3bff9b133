"""The local stack: moto server on loopback, provisioning, web under gunicorn and every
worker as real processes. `make run` and the stack tests both start it through here,
so the tests exercise exactly what a developer runs.

As `make run` (this file's main) it is also the developer's loop (docs/local.md): every
process logs JSON to its file under the log directory (`.run/<port>/`), and this
supervisor follows those files onto the terminal, readable on a terminal and as JSON
lines anywhere else; moto's access log stays in its file. A banner says where
everything is; an edit under services/ or libs/core restarts the processes it touches
(moto, and so every queued message, stays up); `--demo` signs in demo users and runs
jobs through the site into every state a job page can show; Ctrl-C prints what ran.

With `iam=True` IAM is enforced (moto's INITIAL_NO_AUTH_ACTION_COUNT): provisioning
runs as an admin user, web and every worker as a user holding only its component's
policy from gas.core.iam, so a missing permission fails the way it would on AWS. Off by
default: moto cannot authorize browser requests (presigned POST) under enforcement.

    python local/devstack.py [--port 8080] [--moto-port 5100] [--demo] [--no-reload]
                             [--log-format auto|console|json] [--log-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processes import BIN, free_port, spawn, stop, wait_http

from gas.core import components

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("GAS_SAMPLE_VCF_DIR", ROOT.parent / "shared" / "data" / "vcf"))
# Requests moto serves before it enforces IAM: create the admin user, its policy, its key.
BOOTSTRAP_REQUESTS = 3
# Every queue consumer: process name -> command, from the one table of GAS's processes.
WORKERS = {p.name: list(p.command) for p in components.WORKERS}
_PROCESS = {p.name: p for p in components.PROCESSES}
# What a cluster runs on a schedule (CronJobs) runs here every SCHEDULE_SECONDS.
SCHEDULED = {p.name: list(p.command) for p in components.PROCESSES if p.schedule}
SCHEDULE_SECONDS = 60
# The processes whose logs `make run` shows (moto's access log and provisioning's
# report stay in their files).
SHOWN = ["web", *WORKERS, *SCHEDULED]


@dataclass
class DevStack:
    web_port: int = 8080
    moto_port: int = 5100
    prefix: str = "gas"
    log_dir: Path | None = None  # None: processes write to this terminal
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    iam: bool = False
    # GAS_RECEIVE_WAIT_SECONDS of the workers; None keeps their default (the chart's).
    receive_wait_seconds: int | None = None
    # IAM user credentials by component ("admin" for provisioning and test inspection).
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    # Replaced workers finishing their last long poll (see restart).
    retiring: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def log_path(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir is not None else None

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "GAS_ENV": "local",
            "GAS_PREFIX": self.prefix,
            "GAS_LOCAL_SIGNIN": "true",
            "GAS_PUBLIC_URL": self.url,
            "GAS_WEB_BIND": f"127.0.0.1:{self.web_port}",
            "GAS_METRICS_HOST": "127.0.0.1",
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_REGION": "us-east-1",
            # moto accepts any credentials; real ones must never reach it.
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        }
        if self.log_dir is not None:
            env["GAS_LOG_FORMAT"] = "json"  # files are for machines; the supervisor renders for people
            # The web's local copies of variant tables, per stack (not one /tmp for every stack).
            env["GAS_RESULT_CACHE_DIR"] = str(self.log_dir / "result-cache")
        env.setdefault("GAS_SECRET_KEY", secrets.token_hex(32))
        env.update(self.extra_env)
        env.update(self.credentials.get("admin", {}))
        return env

    def component_env(self, component: str) -> dict[str, str]:
        """The environment of one component's process: its own least-privilege user."""
        return {**self.env(), **self.credentials.get(component, {})}

    def _create_iam_users(self) -> None:
        import boto3

        from gas.core.config import CoreSettings
        from gas.core.iam import COMPONENTS, policy

        def user(iam: Any, name: str, document: dict[str, Any]) -> dict[str, str]:
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(document))
            key = iam.create_access_key(UserName=name)["AccessKey"]
            return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

        def session(creds: dict[str, str]) -> boto3.session.Session:
            return boto3.session.Session(
                aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                region_name="us-east-1",
            )

        bootstrap = session({"AWS_ACCESS_KEY_ID": "bootstrap", "AWS_SECRET_ACCESS_KEY": "bootstrap"})
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        self.credentials["admin"] = user(
            bootstrap.client("iam", endpoint_url=self.moto_url), f"{self.prefix}-admin", everything
        )
        env = self.env()
        admin = session(env)
        iam = admin.client("iam", endpoint_url=self.moto_url)
        account = admin.client("sts", endpoint_url=self.moto_url).get_caller_identity()["Account"]
        # The settings the processes will read from this same environment.
        settings = CoreSettings(prefix=self.prefix, AWS_REGION=env["AWS_REGION"])
        if "GAS_SES_SENDER" in env:
            settings = settings.model_copy(update={"ses_sender": env["GAS_SES_SENDER"]})
        for component in COMPONENTS:
            self.credentials[component] = user(
                iam, f"{self.prefix}-{component}", for_moto(policy(component, settings, account))
            )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = spawn(argv, env, self.log_path(name))
        self.procs[name] = proc
        return proc

    def start(self) -> DevStack:
        env = self.env()
        self.extra_env.setdefault("GAS_SECRET_KEY", env["GAS_SECRET_KEY"])  # same key on restarts
        moto_env = {**env, "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_REQUESTS)} if self.iam else env
        moto = self._spawn("moto", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.moto_port)], moto_env)
        wait_http(f"{self.moto_url}/moto-api/", 30, moto)
        if self.iam:
            self._create_iam_users()
        provision = spawn([str(BIN / "gas-provision")], self.env(), self.log_path("provision"))
        if provision.wait() != 0:
            raise RuntimeError(f"gas-provision exited with {provision.returncode} (see {self.log_path('provision')})")
        web = self.start_web()
        for name in WORKERS:
            self.start_worker(name)
        for name in SCHEDULED:
            self.start_scheduled(name)
        wait_http(f"{self.url}/readyz", 60, web)
        for name in WORKERS:
            # The annotator builds the annotation database on first use: allow for it.
            wait_http(f"http://127.0.0.1:{self.metrics_ports[name]}/readyz", 900, self.procs[name])
        return self

    def start_web(self) -> subprocess.Popen[bytes]:
        return self._spawn("web", [str(BIN / "gas-web")], self.component_env("web"))

    def start_scheduled(self, name: str) -> subprocess.Popen[bytes]:
        command, *args = SCHEDULED[name]
        every = [str(BIN / command), *args, "--every", str(SCHEDULE_SECONDS)]
        return self._spawn(name, every, self.component_env(_PROCESS[name].identity))

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        port = self.metrics_ports.setdefault(name, free_port())
        env = {**self.component_env(_PROCESS[name].identity), "GAS_METRICS_PORT": str(port)}
        if self.receive_wait_seconds is not None:
            env["GAS_RECEIVE_WAIT_SECONDS"] = str(self.receive_wait_seconds)
        command, *args = WORKERS[name]
        return self._spawn(name, [str(BIN / command), *args], env)

    def restart(self, name: str, code: bool = True) -> None:
        """New code into a running process, with nothing queued lost (moto stays up).

        web: a template or static file (`code` False) by SIGHUP, gunicorn's graceful
        reload: new workers read them afresh while the old ones finish their requests.
        Python code by a full restart (a few seconds of refused connections): SIGHUP's
        new workers are forked from the gunicorn master and would keep the modules it
        imported itself (gunicorn_conf, the settings). A worker: the old process gets
        SIGTERM (it takes nothing new, hands back or finishes what it holds) and a new
        one starts at once beside it rather than after its last long poll."""
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is not None:
            proc = None  # it exited (say, on a syntax error): start it anew
        if name == "web":
            if proc is not None and not code:
                proc.send_signal(signal.SIGHUP)
                return
            if proc is not None:
                stop([proc])
            self.start_web()
            return
        if name in SCHEDULED:
            if proc is not None:
                stop([proc])
            self.start_scheduled(name)
            return
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            self.retiring.append(proc)
            self.metrics_ports.pop(name, None)  # its port is still taken until it exits
        self.start_worker(name)

    def job_counts(self) -> Counter[str]:
        """What this stack ran, read from its jobs table: counts by status, and by storage
        for results not hot."""
        import boto3

        env = self.env()
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )
        ddb = session.client("dynamodb", endpoint_url=self.moto_url)
        counts: Counter[str] = Counter()
        for page in ddb.get_paginator("scan").paginate(TableName=f"{self.prefix}-jobs"):
            for item in page["Items"]:
                counts[item["status"]["S"]] += 1
                storage = item.get("storage", {}).get("S")
                if storage and storage != "HOT":
                    counts[storage] += 1
        return counts

    def stop(self, grace: float = 30) -> None:
        # Web and workers first, together: they finish in-hand work while moto is still up.
        stop([p for name, p in self.procs.items() if name != "moto"] + self.retiring, grace)
        if "moto" in self.procs:
            stop([self.procs["moto"]], 10)
        self.procs.clear()
        self.retiring.clear()


# moto checks S3 and SQS permissions against the resource's ARN, as AWS does; for every
# other action (and sqs:GetQueueUrl, which names no queue URL) it checks against "*". The
# local stack therefore verifies those per action; AWS checks the ARNs as written.
# moto also names two actions its own way: HeadBucket "s3:HeadBucket" (AWS: s3:ListBucket)
# and a transaction "dynamodb:TransactWriteItems" (AWS: the per-item actions, here
# ConditionCheckItem + UpdateItem).
_MOTO_ALIASES = {
    "s3:ListBucket": "s3:HeadBucket",
    "dynamodb:ConditionCheckItem": "dynamodb:TransactWriteItems",
    "cloudwatch:GetMetricData": "monitoring:GetMetricData",  # moto names CloudWatch by its endpoint
}


def _moto_checks_arn(action: str) -> bool:
    return action.startswith(("s3:", "sqs:")) and action != "sqs:GetQueueUrl"


def for_moto(document: dict[str, Any]) -> dict[str, Any]:
    statements = []
    for s in document["Statement"]:
        actions = list(s["Action"]) + [_MOTO_ALIASES[a] for a in s["Action"] if a in _MOTO_ALIASES]
        by_arn = [a for a in actions if _moto_checks_arn(a)]
        anywhere = [a for a in actions if not _moto_checks_arn(a)]
        if by_arn:
            statements.append({**s, "Action": by_arn})
        if anywhere:
            statements.append({**s, "Sid": s["Sid"] + "Moto", "Action": anywhere, "Resource": "*"})
    return {**document, "Statement": statements}


# -- `make run`: the terminal, the log follower, live reload ---------------------------


class Terminal:
    """Everything `make run` writes: the processes' log lines and its own. Readable lines
    (gas.core.observability.ConsoleLines) on a terminal, JSON lines anywhere else; one
    write per line under one lock, as the processes themselves do."""

    def __init__(self, fmt: str, stream: Any = None):
        from gas.core.observability import ConsoleLines

        self.stream = stream if stream is not None else sys.stdout
        self.console = ConsoleLines() if fmt == "console" else None
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            if self.stream is None:
                return
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # the terminal went away: the stack must still stop
                self.stream = None

    def show(self, process: str, fields: dict[str, Any]) -> None:
        fields = {**fields, "service": process}
        if self.console is None:
            self.write(json.dumps(fields))
        else:
            self.write(self.console(None, str(fields.get("level", "info")), fields))

    def say(self, event: str, level: str = "info", **fields: Any) -> None:
        """The supervisor's own event, as a log line of process `devstack`."""
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.show("devstack", {"event": event, "level": level, "timestamp": now, **fields})

    def show_raw(self, process: str, line: str) -> None:
        """A line a process wrote that is not a JSON log line (a crash before logging was
        set up, a library printing): shown as it is, or wrapped as JSON under a pipe."""
        if self.console is None:
            self.say("process.output", level="warning", process=process, text=line)
        else:
            self.write(f"{self.console.prefix(process)} {line}")


class LogFollower:
    """Follows the processes' log files (as `tail -f` would) onto the terminal."""

    def __init__(self, log_dir: Path, names: list[str], terminal: Terminal):
        self.log_dir, self.names, self.terminal = log_dir, names, terminal
        self._offsets: dict[str, int] = {}
        self._partial: dict[str, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-follower", daemon=True)

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()  # the last lines: workers saying they stopped

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.poll()

    def poll(self) -> None:
        for name in self.names:
            path = self.log_dir / f"{name}.log"
            try:
                with open(path, "rb") as f:
                    f.seek(self._offsets.get(name, 0))
                    chunk = f.read()
            except FileNotFoundError:
                continue
            if not chunk:
                continue
            self._offsets[name] = self._offsets.get(name, 0) + len(chunk)
            *lines, rest = (self._partial.pop(name, b"") + chunk).split(b"\n")
            if rest:
                self._partial[name] = rest
            for raw in lines:
                self._show(name, raw.decode("utf-8", "replace"))

    def _show(self, name: str, line: str) -> None:
        if not line.strip():
            return
        try:
            fields = json.loads(line)
        except ValueError:
            fields = None
        if isinstance(fields, dict):
            self.terminal.show(name, fields)
        else:
            self.terminal.show_raw(name, line)


# Edits that matter to a running process; editors' swap and backup files do not.
_SOURCE_SUFFIXES = (".py", ".html", ".css", ".js", ".json", ".toml")


def processes_touched(paths: set[Path], root: Path = ROOT) -> dict[str, list[Path]]:
    """Which processes run the edited files (libs/core: all; services/<pkg>: its own),
    each with the files it runs."""
    touched: dict[str, list[Path]] = {}
    for path in sorted(paths):
        try:
            parts = path.resolve().relative_to(root.resolve()).parts
        except ValueError:
            continue
        if path.suffix not in _SOURCE_SUFFIXES or len(parts) < 3:
            continue
        if parts[:2] == ("libs", "core"):
            names = SHOWN
        elif parts[0] == "services":  # services/<package>/... (scheduled ones run libs/core only)
            names = [n for n in SHOWN if n not in SCHEDULED and _PROCESS[n].package == parts[1]]
        else:
            continue
        for name in names:
            touched.setdefault(name, []).append(path)
    return touched


def watch_sources(root: Path, changes: queue.Queue[set[Path]], stop_event: threading.Event) -> threading.Thread:
    """A thread putting each batch of edited files under services/ and libs/ on `changes`
    (watchfiles: inotify, debounced, so one save is one batch)."""
    import watchfiles

    def run() -> None:
        for batch in watchfiles.watch(root / "services", root / "libs", stop_event=stop_event, raise_interrupt=False):
            changes.put({Path(p) for _, p in batch})

    thread = threading.Thread(target=run, name="source-watcher", daemon=True)
    thread.start()
    return thread


def _shown_path(path: Path) -> str:
    """A path as short as it can be said from here."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("../..") else str(path)


def banner(stack: DevStack, terminal: Terminal, reload: bool) -> None:
    samples = sorted(p.name for p in SAMPLES.glob("*.vcf*"))
    logs = _shown_path(stack.log_dir) + os.sep if stack.log_dir else "this terminal"
    facts = {
        "url": stack.url,
        "sign_in": "any name and email (the local sign-in: this machine only)",
        "samples": f"{_shown_path(SAMPLES)}: {', '.join(samples) or 'none found'}",
        "logs": f"{logs} (one file per process; moto's access log: moto.log)",
        "emails": f"{stack.moto_url}/moto-api/data.json (moto's SES store, key ses.Message)",
        "reload": "on: edits under services/ and libs/core restart what they touch" if reload else "off",
    }
    if terminal.console is None:
        terminal.say("stack.ready", **facts)
        return
    rule = "-" * 78
    lines = [rule, f"GAS is running: open {stack.url}"]
    lines += [f"  {key.replace('_', ' '):<8} {value}" for key, value in facts.items() if key != "url"]
    lines += ["  Ctrl-C stops everything", rule]
    terminal.write("\n".join(lines))


def summary(counts: Counter[str], started: float) -> dict[str, Any]:
    return {
        "minutes": round((time.monotonic() - started) / 60, 1),
        "jobs_completed": counts["COMPLETED"],
        "jobs_failed": counts["FAILED"],
        "jobs_unfinished": counts["PENDING"] + counts["RUNNING"],
        "results_archived": counts["ARCHIVED"],
        "results_restoring": counts["RESTORING"],
    }


def _summary_line(facts: dict[str, Any], logs: str) -> str:
    return (
        f"GAS stopped after {facts['minutes']} min. Jobs: {facts['jobs_completed']} completed, "
        f"{facts['jobs_failed']} failed, {facts['jobs_unfinished']} unfinished; results: "
        f"{facts['results_archived']} archived, {facts['results_restoring']} restoring. Logs: {logs}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run GAS locally: moto server, web and every worker.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GAS_PORT", 8080)))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("GAS_MOTO_PORT", 5100)))
    parser.add_argument("--demo", action="store_true", help="seed demo users with a job in every state")
    parser.add_argument("--no-reload", dest="reload", action="store_false", help="do not restart on edits")
    parser.add_argument(
        "--log-format",
        choices=["auto", "console", "json"],
        default=os.environ.get("GAS_LOG_FORMAT", "auto") or "auto",
        help="auto: readable on a terminal, JSON lines otherwise (GAS_LOG_FORMAT)",
    )
    parser.add_argument("--log-dir", type=Path, help="default: .run/<port>/ in this checkout")
    args = parser.parse_args(argv)

    from gas.core.observability import log_format

    os.environ["GAS_LOG_FORMAT"] = args.log_format
    terminal = Terminal(log_format(sys.stdout, local=True))
    log_dir = args.log_dir or ROOT / ".run" / str(args.port)
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):  # every run starts afresh, its logs too
        old.unlink()
    import demo

    stack = DevStack(
        web_port=args.port, moto_port=args.moto_port, log_dir=log_dir, extra_env=demo.ENV if args.demo else {}
    )
    follower = LogFollower(log_dir, SHOWN, terminal).start()
    changes: queue.Queue[set[Path]] = queue.Queue()
    stop_watching = threading.Event()
    started = time.monotonic()
    counts: Counter[str] | None = None

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        terminal.say("stack.starting", logs=str(log_dir), moto=stack.moto_url)
        stack.start()
        if args.reload:
            watch_sources(ROOT, changes, stop_watching)
        banner(stack, terminal, args.reload)
        if args.demo:
            seeding = (stack.url, SAMPLES, terminal.say)
            threading.Thread(target=demo.seed, args=seeding, name="demo-seed", daemon=True).start()
        return supervise(stack, terminal, changes, args.reload)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001 - said once, as a line like every other
        terminal.say("stack.failed", level="error", error=f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan processes
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_watching.set()
        if stack.procs.get("moto") is not None and stack.procs["moto"].poll() is None:
            try:
                counts = stack.job_counts()
            except Exception as exc:  # noqa: BLE001 - the summary must not stop the stop
                terminal.say("stack.summary_failed", level="warning", error=str(exc))
        terminal.say("stack.stopping", note="workers finish in-hand work and their current long poll")
        stack.stop()
        follower.stop()
        facts = summary(counts or Counter(), started)
        logs = _shown_path(log_dir) + os.sep
        if terminal.console is None:
            terminal.say("stack.stopped", logs=logs, **facts)
        else:
            terminal.write(_summary_line(facts, logs))


def supervise(stack: DevStack, terminal: Terminal, changes: queue.Queue[set[Path]], reload: bool) -> int:
    """Until Ctrl-C: apply edits; a process that exits stops the stack, except while
    reloading, where it waits for the edit that fixes it."""
    reported: set[str] = set()
    while True:
        try:
            batch = changes.get(timeout=0.5)
        except queue.Empty:
            batch = set()
        for name, paths in processes_touched(batch).items():
            terminal.say("reload", process=name, changed=[_shown_path(p) for p in paths])
            stack.restart(name, code=any(p.suffix == ".py" for p in paths))
            reported.discard(name)
        stack.retiring = [p for p in stack.retiring if p.poll() is None]
        dead = {n: p.returncode for n, p in stack.procs.items() if p.poll() is not None}
        if dead and not reload:
            terminal.say("stack.process_exited", level="error", exited=dead, note="stopping the stack")
            return 1
        for name in set(dead) - reported:
            level = "error" if name == "moto" else "warning"
            terminal.say("process.exited", level=level, process=name, code=dead[name], note="an edit restarts it")
            reported.add(name)
        if "moto" in dead:
            return 1  # every process needs it, and its state is gone


if __name__ == "__main__":
    raise SystemExit(main())
