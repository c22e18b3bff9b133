"""Every GAS process, declared once: its name (Deployment, local process, values key),
the workspace package and image it comes from, its command, the queue it consumes and
the IAM identity it runs as. The IAM policies (gas.core.iam), the local stack
(local/devstack.py) and the queue provisioning derive from this table; a contract test
(tests/core/test_components.py) holds the chart, skaffold, the Dockerfile and the
workspace to it. Adding a service: docs/adding-a-service.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    name: str  # Deployment, local process and `workers.<name>` values key
    package: str  # workspace member services/<package> (gas-<package>) and image gas-<package>
    command: tuple[str, ...]
    identity: str  # IAM policy (gas-iam-policy) and ServiceAccount it runs as
    queue: str | None = None  # the SQS queue it consumes (workers only)
    schedule: bool = False  # run on a schedule (a CronJob), not as a Deployment
    hook: bool = False  # run once per install/upgrade (a Helm hook Job), not as a Deployment


PROCESSES: tuple[Process, ...] = (
    Process("web", "web", ("gas-web",), "web"),
    Process("annotator", "annotator", ("gas-annotator",), "annotator", queue="annotate"),
    Process("notifier", "notifier", ("gas-notifier",), "notifier", queue="notify"),
    Process("archiver-archive", "archiver", ("gas-archiver", "archive"), "archiver", queue="archive"),
    Process("archiver-restore", "archiver", ("gas-archiver", "restore"), "archiver", queue="restore"),
    Process("archiver-thaw", "archiver", ("gas-archiver", "thaw"), "archiver", queue="thaw"),
    # gas-sweep is part of gas-core, in every image; it runs from the web image.
    Process("sweeper", "web", ("gas-sweep",), "sweeper", schedule=True),
    Process("operator", "operator", ("gas-operator",), "operator"),
    # Builds the declared bundles and checks the sources (docs/kubernetes.md), annotator image.
    Process("references", "annotator", ("gas-build-references",), "references", hook=True),
)

WORKERS = tuple(p for p in PROCESSES if p.queue)
PACKAGES = tuple(dict.fromkeys(p.package for p in PROCESSES))
IDENTITIES = tuple(dict.fromkeys(p.identity for p in PROCESSES))


def queues_of(identity: str) -> tuple[str, ...]:
    """The queues an identity consumes (the archiver's three consumers share one)."""
    return tuple(p.queue for p in WORKERS if p.identity == identity and p.queue)
