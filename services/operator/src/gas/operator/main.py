"""gas-operator: run the kopf operator (all namespaces or GAS_WATCH_NAMESPACE).

`gas-operator --release-scalers` is the chart's pre-delete hook: it deletes the QueueScalers
while the operator still runs, so that it stops their daemons and removes its finalizer.
`helm uninstall` otherwise deletes the operator, its RBAC and the QueueScalers at once and
they stay Terminating forever (the one-node cluster test found that)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
from typing import Any, cast

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from gas.operator import handlers  # noqa: F401 - registers the handlers
from gas.operator.reconcile import FINALIZER, GROUP, PLURAL, VERSION


def release_scalers(namespace: str, timeout: float) -> int:
    """Delete every QueueScaler of `namespace`, wait for the operator to release them, and
    strip the finalizer of those it has not released by then (no operator running)."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    api = client.CustomObjectsApi()

    def remaining() -> list[dict[str, Any]]:
        listed = cast(dict[str, Any], api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
        return list(listed["items"])

    names = [s["metadata"]["name"] for s in remaining()]
    for name in names:
        try:
            api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status != 404:
                raise
    deadline = time.monotonic() + timeout
    while (left := remaining()) and time.monotonic() < deadline:
        time.sleep(1)
    stripped = []
    for scaler in left:
        finalizers = [f for f in scaler["metadata"].get("finalizers") or [] if f != FINALIZER]
        meta = scaler["metadata"]
        api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, meta["name"], {"metadata": {"finalizers": finalizers}}
        )
        stripped.append(meta["name"])
    print(
        json.dumps(
            {
                "event": "operator.scalers_released",
                "namespace": namespace,
                "deleted": names,
                "finalizer_stripped": stripped,
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gas-operator",
        description="Run the GAS QueueScaler operator (kopf): scales worker Deployments to their SQS queues.",
        epilog="Environment: GAS_WATCH_NAMESPACE (default: all namespaces), GAS_PEERING_NAME, GAS_HEALTH_PORT, "
        "GAS_METRICS_PORT; in-cluster ServiceAccount or KUBECONFIG.",
    )
    parser.add_argument(
        "--release-scalers",
        action="store_true",
        help="delete the QueueScalers of GAS_WATCH_NAMESPACE and wait until the operator released them (uninstall)",
    )
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the operator (default 60)")
    args = parser.parse_args(argv)
    namespace = os.environ.get("GAS_WATCH_NAMESPACE")
    if args.release_scalers:
        if not namespace:
            parser.error("--release-scalers needs GAS_WATCH_NAMESPACE")
        return release_scalers(namespace, args.timeout)
    asyncio.run(
        kopf.operator(
            clusterwide=not namespace,
            namespaces=[namespace] if namespace else [],
            peering_name=os.environ.get("GAS_PEERING_NAME", "gas-operator"),
            # Random priority: replicas elect one active peer, the others stand by.
            priority=secrets.randbelow(1000),
            liveness_endpoint=f"http://0.0.0.0:{os.environ.get('GAS_HEALTH_PORT', '8080')}/healthz",
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
