"""Least-privilege IAM policies, one per GAS component, derived from the resource names.

`gas-iam-policy COMPONENT --account ID [--partition P]` prints the policy document to
attach to that component's role (IRSA: the role of its ServiceAccount); prefix, region and
sender come from the environment, as the component's own process reads them. The local
stack runs every process under its own policy on moto server with IAM enforcement on,
so the stack tests fail if a component needs a permission its policy lacks.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from gas.core.components import queues_of
from gas.core.config import CoreSettings, load_settings
from gas.core.names import QUEUE_TOPICS, ResourceNames


class Arns:
    def __init__(self, names: ResourceNames, account: str, region: str, partition: str = "aws"):
        self.names, self.account, self.region, self.partition = names, account, region, partition

    def table(self, name: str) -> list[str]:
        base = f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"
        return [base, f"{base}/index/*"]

    def bucket(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"

    def objects(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}/*"

    def topic(self, short: str) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account}:{self.names.topic(short)}"

    def queue(self, name: str) -> str:
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{name}"


def _allow(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def _consumer(arns: Arns, queues: tuple[str, ...]) -> list[dict[str, Any]]:
    n = arns.names
    return [
        # The shared worker loop: long-poll, heartbeat (visibility), delete, defer (re-send
        # delayed until due).
        _allow(
            "ConsumeQueues",
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:SendMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
            ],
            [arns.queue(n.queue(q)) for q in queues],
        ),
        # A poison message is copied to its dead-letter queue at once.
        _allow("DeadLetter", ["sqs:SendMessage", "sqs:GetQueueUrl"], [arns.queue(n.dlq(q)) for q in queues]),
    ]


def _web(a: Arns, settings: CoreSettings) -> list[dict[str, Any]]:
    n = a.names
    jobs_actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    vault = f"arn:{a.partition}:glacier:{a.region}:{a.account}:vaults/{n.vault}"
    return [
        # DeleteItem: a user deletes a job (the record goes last, after its objects).
        _allow("Jobs", [*jobs_actions, "dynamodb:DeleteItem", "dynamodb:DescribeTable"], a.table(n.jobs_table)),
        _allow("Users", ["dynamodb:GetItem", "dynamodb:UpdateItem"], a.table(n.users_table)),
        # The API's tokens, per-token request counters and idempotency keys (gas.core.tokens).
        _allow(
            "Api",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"],
            a.table(n.api_table),
        ),
        # Presigned POSTs are signed with web's credentials: the browser's upload is
        # web's PutObject. Claiming copies the upload (GetObject + PutObject) and deletes
        # it; refused uploads are deleted; HEAD needs GetObject (+ListBucket for a 404
        # rather than a 403 on a missing key).
        _allow("Inputs", ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], [a.objects(n.inputs_bucket)]),
        _allow("InputsBucket", ["s3:ListBucket"], [a.bucket(n.inputs_bucket)]),
        # Reads results (log, summary, the variant table, filtered VCF exports); deleting a
        # job lists and deletes its results and their cold copies (HEAD of a missing key
        # answers 404 with ListBucket).
        _allow("Results", ["s3:GetObject", "s3:DeleteObject"], [a.objects(n.results_bucket)]),
        _allow("ResultsBucket", ["s3:ListBucket"], [a.bucket(n.results_bucket)]),
        _allow("Vault", ["glacier:DeleteArchive"], [vault]),
        _allow("Announce", ["sns:Publish"], [a.topic("job-requests"), a.topic("user-upgraded")]),
        # What the form and API offer: the built bundles' manifests only (gas.core.references).
        _allow("BundleManifests", ["s3:GetObject"], [f"{a.bucket(n.references_bucket)}/bundles/*/*.manifest.json"]),
        _allow("ReferencesBucket", ["s3:ListBucket"], [a.bucket(n.references_bucket)]),
    ]


def _annotator(a: Arns, settings: CoreSettings) -> list[dict[str, Any]]:
    n = a.names
    return [
        _allow("Jobs", ["dynamodb:GetItem", "dynamodb:UpdateItem"], a.table(n.jobs_table)),
        # The user's tier sets the engine's limits.
        _allow("Users", ["dynamodb:GetItem"], a.table(n.users_table)),
        _allow("Inputs", ["s3:GetObject"], [a.objects(n.inputs_bucket)]),
        _allow("InputsBucket", ["s3:ListBucket"], [a.bucket(n.inputs_bucket)]),
        _allow("Results", ["s3:PutObject"], [a.objects(n.results_bucket)]),
        _allow("Announce", ["sns:Publish"], [a.topic("job-completed")]),
        # Its init container fetches the built bundles and checked sources (read only;
        # ListBucket: a not-yet-built key answers 404, not 403, while it waits).
        _allow("References", ["s3:GetObject"], [a.objects(n.references_bucket)]),
        _allow("ReferencesBucket", ["s3:ListBucket"], [a.bucket(n.references_bucket)]),
        *_consumer(a, queues_of("annotator")),
    ]


def _notifier(a: Arns, settings: CoreSettings) -> list[dict[str, Any]]:
    n = a.names
    sender = f"arn:{a.partition}:ses:{a.region}:{a.account}:identity/{settings.ses_sender}"
    return [
        _allow("Jobs", ["dynamodb:GetItem", "dynamodb:UpdateItem"], a.table(n.jobs_table)),
        _allow("Users", ["dynamodb:GetItem"], a.table(n.users_table)),
        # Only as the provisioned sender identity.
        _allow("Email", ["ses:SendEmail"], [sender]),
        # The account's MaxSendRate, which the notifier paces its sends to (no resource-level
        # permission exists for it).
        _allow("SendQuota", ["ses:GetSendQuota"], ["*"]),
        *_consumer(a, queues_of("notifier")),
    ]


def _archiver(a: Arns, settings: CoreSettings) -> list[dict[str, Any]]:
    n = a.names
    vault = f"arn:{a.partition}:glacier:{a.region}:{a.account}:vaults/{n.vault}"
    glacier = ["UploadArchive", "InitiateJob", "DescribeJob", "GetJobOutput", "DeleteArchive"]
    return [
        _allow("Jobs", ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], a.table(n.jobs_table)),
        # The archive commit is a transaction: a condition on the user, an update of the job.
        _allow("Users", ["dynamodb:GetItem", "dynamodb:ConditionCheckItem"], a.table(n.users_table)),
        _allow(
            "Results",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:RestoreObject"],
            [a.objects(n.results_bucket)],
        ),
        _allow("ResultsBucket", ["s3:ListBucket"], [a.bucket(n.results_bucket)]),
        _allow("Vault", [f"glacier:{action}" for action in glacier], [vault]),
        # The restore consumer schedules completion checks on the thaw queue.
        _allow("ScheduleThaw", ["sqs:SendMessage"], [a.queue(n.queue("thaw"))]),
        *_consumer(a, queues_of("archiver")),
    ]


def _references(a: Arns, settings: CoreSettings) -> list[dict[str, Any]]:
    n = a.names
    return [
        # gas-build-references: reads what is built, writes what is new. The inputs' own
        # s3:// buckets are the deployment's: grant GetObject on them beside this policy.
        _allow("References", ["s3:GetObject", "s3:PutObject"], [a.objects(n.references_bucket)]),
        _allow("ReferencesBucket", ["s3:ListBucket"], [a.bucket(n.references_bucket)]),
    ]


def _sweeper(a: Arns, settings: CoreSettings) -> list[dict[str, Any]]:
    n = a.names
    return [
        # Reads the index of unfinished jobs and claims each re-announcement.
        _allow("Jobs", ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], a.table(n.jobs_table)),
        _allow("Announce", ["sns:Publish"], [a.topic("job-requests")]),
    ]


def _operator(a: Arns, settings: CoreSettings) -> list[dict[str, Any]]:
    n = a.names
    # every worker's queue and its DLQ (the dead-letter alerts read both with no worker running)
    queues = [a.queue(name) for q in QUEUE_TOPICS for name in (n.queue(q), n.dlq(q))]
    return [
        _allow("ReadQueueDepth", ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"], queues),
        # The oldest message's age (AWS/SQS in CloudWatch): GetMetricData takes no resource.
        _allow("ReadQueueAge", ["cloudwatch:GetMetricData"], ["*"]),
    ]


# Who may do what: the statements of each component, one function each.
STATEMENTS: dict[str, Callable[[Arns, CoreSettings], list[dict[str, Any]]]] = {
    "web": _web,
    "annotator": _annotator,
    "notifier": _notifier,
    "archiver": _archiver,
    "sweeper": _sweeper,
    "operator": _operator,
    "references": _references,
}
COMPONENTS = tuple(STATEMENTS)


def policy(component: str, settings: CoreSettings, account: str, partition: str = "aws") -> dict[str, Any]:
    """The policy document of one component (see COMPONENTS), for the prefix, region and
    sender of `settings` (what the component's own process reads)."""
    if component not in STATEMENTS:
        raise ValueError(f"unknown component {component!r}; one of {', '.join(COMPONENTS)}")
    arns = Arns(ResourceNames(settings.prefix), account, settings.aws_region, partition)
    return {"Version": "2012-10-17", "Statement": STATEMENTS[component](arns, settings)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the least-privilege IAM policy of a GAS component.")
    parser.add_argument("component", choices=COMPONENTS)
    parser.add_argument("--account", required=True, help="AWS account id (12 digits)")
    parser.add_argument("--partition", default="aws")
    args = parser.parse_args(argv)
    settings = load_settings(CoreSettings)  # GAS_PREFIX, AWS_REGION, GAS_SES_SENDER as the services see them
    doc = policy(args.component, settings, args.account, args.partition)
    print(json.dumps(doc, indent=2))
    return 0
