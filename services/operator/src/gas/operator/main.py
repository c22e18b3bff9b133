"""gas-operator: run the kopf operator (all namespaces or GAS_WATCH_NAMESPACE)."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets

import kopf

from gas.operator import handlers  # noqa: F401 - registers the handlers


def main(argv: list[str] | None = None) -> int:
    # No options: everything comes from the environment. `--help` still answers (after the
    # imports above), which is how an image check proves the entrypoint and kopf load.
    argparse.ArgumentParser(
        prog="gas-operator",
        description="Run the GAS QueueScaler operator (kopf): scales worker Deployments to their SQS queues.",
        epilog="Environment: GAS_WATCH_NAMESPACE (default: all namespaces), GAS_PEERING_NAME, GAS_HEALTH_PORT, "
        "GAS_METRICS_PORT; in-cluster ServiceAccount or KUBECONFIG.",
    ).parse_args(argv)
    namespace = os.environ.get("GAS_WATCH_NAMESPACE")
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
