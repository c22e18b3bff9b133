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
    # botocore would presign with the legacy SigV2 in us-east-1, which regions opened
    # since 2014 refuse. Path style works with moto and with AWS for these bucket names.
    signature_version="s3v4",
    s3={"addressing_style": "path"},
)
# Readiness probes must answer fast and say "not ready" rather than hang in retries.
_PROBE_CONFIG = _BOTO_CONFIG.merge(Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=3))


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
    def client_at(self, service: str, endpoint_url: str | None) -> Any:
        """A client for another endpoint of the same account (e.g. the address a browser
        uses for S3 when the service's own endpoint is in-cluster only)."""
        if not endpoint_url:
            return self.client(service)
        return self._session.client(service, endpoint_url=endpoint_url, config=_BOTO_CONFIG)

    @functools.cache
    def probe_client(self, service: str) -> Any:
        """A client with no retries and short timeouts, for /readyz."""
        return self._session.client(
            service, endpoint_url=self.settings.aws_endpoint_url, config=_PROBE_CONFIG
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
