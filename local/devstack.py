"""The local stack: moto server on loopback, provisioning, web under gunicorn and every
worker as real processes. `make run` and the stack tests both start it through here,
so the tests exercise exactly what a developer runs.

With `iam=True` IAM is enforced (moto's INITIAL_NO_AUTH_ACTION_COUNT): provisioning
runs as an admin user, web and every worker as a user holding only its component's
policy from gas.core.iam, so a missing permission fails the way it would on AWS. Off by
default: moto cannot authorize browser requests (presigned POST) under enforcement.

    python local/devstack.py [--port 8080] [--moto-port 5100]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
# Requests moto serves before it enforces IAM: create the admin user, its policy, its key.
BOOTSTRAP_REQUESTS = 3
# Every queue consumer: process name -> command.
WORKERS = {
    "annotator": ["gas-annotator"],
    "notifier": ["gas-notifier"],
    "archiver-archive": ["gas-archiver", "archive"],
    "archiver-restore": ["gas-archiver", "restore"],
    "archiver-thaw": ["gas-archiver", "thaw"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before {url} answered")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


@dataclass
class DevStack:
    web_port: int = 8080
    moto_port: int = 5100
    prefix: str = "gas"
    log_dir: Path | None = None  # None: processes write to this terminal
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    iam: bool = False
    # IAM user credentials by component ("admin" for provisioning and test inspection).
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

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

        def user(iam, name: str, document: dict) -> dict[str, str]:
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
        sender = {"ses_sender": env["GAS_SES_SENDER"]} if "GAS_SES_SENDER" in env else {}
        settings = CoreSettings(prefix=self.prefix, AWS_REGION=env["AWS_REGION"], **sender)
        for component in COMPONENTS:
            self.credentials[component] = user(
                iam, f"{self.prefix}-{component}", for_moto(policy(component, settings, account))
            )

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        # Own session: a Ctrl-C reaches only the supervisor, which stops children in order.
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True
        )
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
        subprocess.run(
            [str(BIN / "gas-provision")],
            env=self.env(),
            check=True,
            stdout=subprocess.DEVNULL if self.log_dir else None,
        )
        web = self._spawn("web", [str(BIN / "gas-web")], self.component_env("web"))
        for name in WORKERS:
            self.start_worker(name)
        wait_http(f"{self.url}/readyz", 60, web)
        for name in WORKERS:
            # The annotator builds the annotation database on first use: allow for it.
            wait_http(f"http://127.0.0.1:{self.metrics_ports[name]}/readyz", 900, self.procs[name])
        return self

    def start_worker(self, name: str) -> subprocess.Popen:
        port = self.metrics_ports.setdefault(name, free_port())
        env = {**self.component_env(name.split("-")[0]), "GAS_METRICS_PORT": str(port), "GAS_RECEIVE_WAIT_SECONDS": "1"}
        command, *args = WORKERS[name]
        return self._spawn(name, [str(BIN / command), *args], env)

    def stop(self, grace: float = 30) -> None:
        # Reverse order: workers finish in-hand work while moto is still up.
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in reversed(list(self.procs.values())):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


# moto checks S3 and SQS permissions against the resource's ARN, as AWS does; for every
# other action (and sqs:GetQueueUrl, which names no queue URL) it checks against "*". The
# local stack therefore verifies those per action; AWS checks the ARNs as written.
# moto also names two actions its own way: HeadBucket "s3:HeadBucket" (AWS: s3:ListBucket)
# and a transaction "dynamodb:TransactWriteItems" (AWS: the per-item actions, here
# ConditionCheckItem + UpdateItem).
_MOTO_ALIASES = {"s3:ListBucket": "s3:HeadBucket", "dynamodb:ConditionCheckItem": "dynamodb:TransactWriteItems"}


def _moto_checks_arn(action: str) -> bool:
    return action.startswith(("s3:", "sqs:")) and action != "sqs:GetQueueUrl"


def for_moto(document: dict) -> dict:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run GAS locally: moto server, web and every worker.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GAS_PORT", 8080)))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("GAS_MOTO_PORT", 5100)))
    args = parser.parse_args(argv)
    stack = DevStack(web_port=args.port, moto_port=args.moto_port)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        stack.start()
        print(f"\nGAS is running: open {stack.url}  (local sign-in; Ctrl-C stops everything)\n", flush=True)
        while True:
            dead = [n for n, p in stack.procs.items() if p.poll() is not None]
            if dead:
                print(f"{', '.join(dead)} exited; stopping the stack", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping the local stack ...", file=sys.stderr, flush=True)
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
