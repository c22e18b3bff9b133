"""The one AWS client factory: every client takes its endpoint and region from config,
so the same code talks to moto server locally and to AWS in production."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

from gas.core.config import CoreSettings
from gas.core.names import ResourceNames

_BOTO_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    # S3 presigned POST/GET must use virtual-host style only where DNS allows it;
    # path style works with moto and with AWS for these bucket names.
    s3={"addressing_style": "path"},
)


class Aws:
    """Lazily created, cached clients for one settings object (thread-safe in boto3)."""

    def __init__(self, settings: CoreSettings):
        self.settings = settings
        self.names = ResourceNames(settings.prefix)
        self._session = boto3.session.Session(region_name=settings.aws_region)

    @functools.cache
    def client(self, service: str) -> Any:
        return self._session.client(
            service, endpoint_url=self.settings.aws_endpoint_url, config=_BOTO_CONFIG
        )

    @functools.cache
    def queue_url(self, name: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]

    @functools.cached_property
    def account_id(self) -> str:
        # GetCallerIdentity needs no IAM permission, so runtime roles stay minimal.
        return self.client("sts").get_caller_identity()["Account"]

    def topic_arn(self, short: str) -> str:
        region = self.settings.aws_region
        return f"arn:aws:sns:{region}:{self.account_id}:{self.names.topic(short)}"
