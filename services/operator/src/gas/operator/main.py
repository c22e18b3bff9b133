"""gas-operator: run the kopf operator (all namespaces or GAS_WATCH_NAMESPACE)."""

from __future__ import annotations

import asyncio
import os
import secrets

import kopf

from gas.operator import handlers  # noqa: F401 - registers the handlers


def main() -> int:
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
