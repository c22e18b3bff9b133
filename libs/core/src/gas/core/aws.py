"""The one AWS client factory: every client takes its endpoint and region from config,
so the same code talks to moto server locally and to AWS in production."""

from __future__ import annotations

import functools
import threading
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
# A queue's approximate message counts: visible, in flight (received, not yet deleted), delayed.
_QUEUE_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def queue_counts(sqs: Any, url: str) -> tuple[int, int, int]:
    """The queue's approximate (visible, in flight, delayed) message counts, in one SQS read."""
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_QUEUE_COUNTS))["Attributes"]
    visible, in_flight, delayed = (int(attrs.get(name, 0)) for name in _QUEUE_COUNTS)
    return visible, in_flight, delayed


class Aws:
    """Lazily created clients for one settings object, cached per instance.

    boto3 clients are thread-safe once made, but making them from one session is not:
    the lock serialises creation, so threads that start together may share an Aws.
    """

    def __init__(self, settings: CoreSettings):
        self.settings = settings
        self.names = ResourceNames(settings.prefix)
        self._session = boto3.session.Session(region_name=settings.aws_region)
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str | None, Config], Any] = {}
        self._queue_urls: dict[str, str] = {}

    def _cached_client(self, service: str, endpoint_url: str | None, config: Config) -> Any:
        key = (service, endpoint_url, config)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._session.client(service, endpoint_url=endpoint_url, config=config)
                self._clients[key] = client
            return client

    def client(self, service: str) -> Any:
        return self._cached_client(service, self.settings.aws_endpoint_url, _BOTO_CONFIG)

    def client_at(self, service: str, endpoint_url: str | None, config: Config | None = None) -> Any:
        """A client for another endpoint of the same account (e.g. the address a browser
        uses for S3 when the service's own endpoint is in-cluster only), optionally with
        other timeouts and retries (pass a module-level Config: clients are cached by it)."""
        return self._cached_client(service, endpoint_url or self.settings.aws_endpoint_url, config or _BOTO_CONFIG)

    def probe_client(self, service: str) -> Any:
        """A client with no retries and short timeouts, for /readyz."""
        return self._cached_client(service, self.settings.aws_endpoint_url, _PROBE_CONFIG)

    def queue_url(self, name: str) -> str:
        url = self._queue_urls.get(name)
        if url is None:
            url = self._queue_urls[name] = self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return url

    @functools.cached_property
    def account_id(self) -> str:
        # GetCallerIdentity needs no IAM permission, so runtime roles stay minimal.
        return str(self.client("sts").get_caller_identity()["Account"])

    def topic_arn(self, short: str) -> str:
        region = self.settings.aws_region
        return f"arn:aws:sns:{region}:{self.account_id}:{self.names.topic(short)}"
