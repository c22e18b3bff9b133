"""QueueScaler reaction time, time to zero and API cost, against a real kube-apiserver
(etcd, kwok) and moto server, with the operator as a process.

Reaction: a spike of messages lands on the queue -> the Deployment's scale is patched;
N spikes, each after the scaler has settled at 0. Time to zero: a QueueScaler with the
CRD's defaults (KEDA's: poll 30 s, cooldown 300 s, scale-down window 300 s, min 0) from
the last message deleted to 0 replicas. Cost: Kubernetes and SQS calls per minute for one
QueueScaler at steady state, read from the operator's own metrics. The peers in the same
run: the polling interval itself (the bound any poller has) and KEDA's documented
cooldownPeriod.

    .venv/bin/python bench/operator_reaction.py [--interval 5] [--spikes 5]
Goals: reaction <= interval + 2 s; no scaler writes at steady state; zero at the
cooldown (+ at most one poll), not cooldown + window.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "local")]  # what pytest's pythonpath gives the tests
from _common import moto_client, options  # noqa: E402
from kube import ControlPlane, install, missing_binaries  # noqa: E402
from processes import BIN, free_port, wait_http  # noqa: E402


def wait_until(pred, timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(step)


def by_verb(port: int) -> dict[str, float]:
    """The operator's own count of its Kubernetes and SQS calls, "api:verb" -> total."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        f"{api}:{verb}": float(v)
        for api, verb, v in re.findall(r'gas_operator_api_calls_total\{api="([^"]+)",verb="([^"]+)"\} ([\d.]+)', text)
    }


def drain(sqs, url: str) -> None:
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)]
        )


def queue_scaler(name: str, queue: str, moto_url: str, **spec: Any) -> dict[str, Any]:
    """A QueueScaler of the Deployment of the same name; what `spec` does not set takes the CRD's default."""
    return {
        "apiVersion": "gas.dev/v1alpha1",
        "kind": "QueueScaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"name": name},
            "queue": {"name": queue, "endpoint": moto_url, "region": "us-east-1"},
            **spec,
        },
    }


def main() -> int:
    args = options(interval=5, spikes=5, steady_seconds=60)
    if missing_binaries():
        install()
    work = Path(tempfile.mkdtemp(prefix="gas-operator-bench-"))
    moto_port = free_port()
    moto = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cp = ControlPlane(work / "cp")
    operator = None
    try:
        wait_http(f"http://127.0.0.1:{moto_port}/moto-api/", 30, moto)
        moto_url = f"http://127.0.0.1:{moto_port}"
        cp.start()
        # The chart's CRD, and the leader Lease the chart creates beside the operator.
        for crd in sorted((ROOT / "charts/gas/crds").glob("*.yaml")):
            for doc in yaml.safe_load_all(crd.read_text()):
                assert (
                    cp.api("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "POST", json=doc).status_code
                    == 201
                )
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "gas-operator"}}
        resp = cp.api("/apis/coordination.k8s.io/v1/namespaces/default/leases", "POST", json=lease)
        assert resp.status_code == 201, resp.text
        sqs = moto_client(moto_url, "sqs")
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        defaults_url = sqs.create_queue(QueueName=f"{queue}-defaults")["QueueUrl"]
        for name in ("worker", "worker-defaults"):
            dep = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "w", "image": "x"}]},
                    },
                },
            }
            assert cp.api("/apis/apps/v1/namespaces/default/deployments", "POST", json=dep).status_code == 201
        wait_until(lambda: cp.api("/apis/gas.dev/v1alpha1/queuescalers").status_code == 200, 30, "the QueueScaler CRD")
        scalers = "/apis/gas.dev/v1alpha1/namespaces/default/queuescalers"
        scaler = queue_scaler(
            "worker",
            queue,
            moto_url,
            messagesPerReplica=5,
            maxReplicas=10,
            pollingIntervalSeconds=args.interval,
            cooldownSeconds=0,
            scaleDownStabilizationSeconds=0,
        )
        assert cp.api(scalers, "POST", json=scaler).status_code == 201
        # Nothing but the target and the queue: every other field takes the CRD's default.
        with_defaults = queue_scaler("worker-defaults", f"{queue}-defaults", moto_url)
        created = cp.api(scalers, "POST", json=with_defaults)
        assert created.status_code == 201, created.text
        defaults = created.json()["spec"]
        port = free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(cp.admin_kubeconfig),
            "GAS_WATCH_NAMESPACE": "default",
            "GAS_METRICS_PORT": str(port),
            "GAS_METRICS_HOST": "127.0.0.1",
            "GAS_HEALTH_PORT": str(free_port()),
            "AWS_ACCESS_KEY_ID": "b",
            "AWS_SECRET_ACCESS_KEY": "b",
            "AWS_REGION": "us-east-1",
            "GAS_LOG_LEVEL": "WARNING",
        }
        operator = subprocess.Popen(
            [str(BIN / "gas-operator")], env=env, stdout=open(work / "operator.log", "wb"), stderr=subprocess.STDOUT
        )

        def replicas(name: str = "worker") -> int:
            scale = cp.api(f"/apis/apps/v1/namespaces/default/deployments/{name}/scale").json()
            return int(scale["spec"].get("replicas", 0))

        # Time to zero with the defaults: 10 messages -> 2 replicas; the workers delete
        # them; how long until 0? Runs beside the reaction spikes (its own Deployment).
        sqs.send_message_batch(QueueUrl=defaults_url, Entries=[{"Id": str(j), "MessageBody": "m"} for j in range(10)])
        wait_until(lambda: replicas("worker-defaults") == 2, 2 * defaults["pollingIntervalSeconds"] + 30, "scale to 2")
        drain(sqs, defaults_url)
        last_deleted = time.monotonic()

        reactions = []
        for i in range(args.spikes):
            wait_until(lambda: replicas() == 0, 4 * args.interval + 30, "scale to 0")
            time.sleep(args.interval * (i + 1) / (args.spikes + 1))  # land at different phases of the poll
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": "m"} for j in range(10)])
            t = time.monotonic()
            wait_until(lambda: replicas() == 2, 4 * args.interval + 30, "scale to 2", step=0.05)
            reactions.append(time.monotonic() - t)
            drain(sqs, url)  # (PurgeQueue is allowed once a minute)

        budget = defaults["cooldownSeconds"] + defaults["scaleDownStabilizationSeconds"] + 120
        wait_until(lambda: replicas("worker-defaults") == 0, budget, "the defaults scaler to reach 0", step=0.5)
        to_zero = time.monotonic() - last_deleted
        assert cp.api(f"{scalers}/worker-defaults", "DELETE").status_code == 200

        wait_until(lambda: replicas() == 0, 4 * args.interval + 30, "scale to 0")
        time.sleep(2 * args.interval)
        before = by_verb(port)
        time.sleep(args.steady_seconds)
        delta = {k: v - before.get(k, 0) for k, v in by_verb(port).items() if v != before.get(k, 0)}
        lease_calls = {k: v for k, v in delta.items() if k.endswith("-lease")}
        scaler_calls = {k: v for k, v in delta.items() if k not in lease_calls}
        per_minute = sum(scaler_calls.values()) * 60 / args.steady_seconds
        writes = sum(v for k, v in scaler_calls.items() if k.split(":")[1].startswith(("patch-", "create-")))
        lease_writes = lease_calls.get("kubernetes:update-lease", 0) * 60 / args.steady_seconds
        breakdown = ", ".join(f"{k} {v * 60 / args.steady_seconds:.0f}/min" for k, v in sorted(scaler_calls.items()))
        lease_reads = lease_calls.get("kubernetes:get-lease", 0) * 60 / args.steady_seconds
    finally:
        if operator:
            operator.terminate()
            operator.wait(30)
        cp.stop()
        moto.kill()
        moto.wait()
    print(
        f"QueueScaler, polling interval {args.interval}s, real kube-apiserver + moto,"
        f" {args.spikes} spikes of 10 messages"
    )
    print(f"  reaction (spike -> scale patched): median={statistics.median(reactions):.2f}s max={max(reactions):.2f}s")
    print(
        f"  peer: the polling interval itself = {args.interval}s; goal <= interval + 2 s: "
        f"{'met' if max(reactions) <= args.interval + 2 else 'NOT met'}"
    )
    print(
        f"  steady state, scaler loop: {per_minute:.1f} API calls/min (Kubernetes + SQS: {breakdown}),"
        f" writes in {args.steady_seconds}s: {writes:.0f}"
    )
    print(f"  goal no writes when nothing changes: {'met' if writes == 0 else 'NOT met'}")
    print(
        f"  leader election: {lease_writes:.1f} Lease renewals/min (+ {lease_reads:.1f} reads) by the one leader"
        " (kopf's peering it replaced: a keepalive patch per replica every 50-55 s, not counted then)"
    )
    cooldown, poll = defaults["cooldownSeconds"], defaults["pollingIntervalSeconds"]
    print(
        f"  last message deleted -> 0 replicas with the defaults (poll {poll}s, cooldown {cooldown}s,"
        f" window {defaults['scaleDownStabilizationSeconds']}s): {to_zero:.0f}s"
    )
    print(
        f"  peer: KEDA's cooldownPeriod = {cooldown}s (+ up to one poll); goal <= {cooldown + poll}s: "
        f"{'met' if to_zero <= cooldown + poll + 2 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
