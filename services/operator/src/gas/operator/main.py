"""gas-operator: run the kopf operator (GAS_WATCH_NAMESPACE, or every namespace)."""

from __future__ import annotations

import argparse
import asyncio

import kopf

from gas.core.config import load_settings
from gas.core.observability import configure_logging
from gas.operator import handlers  # noqa: F401 - registers the handlers
from gas.operator.settings import OperatorSettings


def main(argv: list[str] | None = None) -> int:
    # No options: everything comes from the environment. `--help` answers after the imports
    # above, which is how the image test proves the entrypoint and kopf load.
    argparse.ArgumentParser(
        prog="gas-operator",
        description="Run the GAS QueueScaler operator: scales worker Deployments to their SQS queues.",
        epilog="Configured by the environment (gas.operator.settings: GAS_WATCH_NAMESPACE, ...).",
    ).parse_args(argv)
    settings = load_settings(OperatorSettings)
    configure_logging("operator", settings.log_level)
    namespace = settings.watch_namespace
    asyncio.run(
        kopf.operator(
            clusterwide=not namespace,
            namespaces=[namespace] if namespace else [],
            # One active replica through the operator's own Lease (gas.operator.leader), not
            # kopf's peering: kopf's freeze stops only kopf's own handlers.
            standalone=True,
            memo=kopf.Memo(settings=settings),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
