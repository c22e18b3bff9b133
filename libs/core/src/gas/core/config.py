"""Typed configuration from the environment (twelve-factor), validated at start-up.

Every process calls ``load_settings(SomeSettings)`` once; a missing or malformed
setting stops it with one line that names the variable.
"""

from __future__ import annotations

import sys
from typing import Literal, NoReturn, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoreSettings(BaseSettings):
    """Settings every GAS process shares."""

    model_config = SettingsConfigDict(env_prefix="GAS_", extra="ignore", frozen=True)

    # "local" is the laptop stack (moto, local sign-in allowed on loopback only).
    env: Literal["local", "dev", "production"] = "production"
    prefix: str = Field("gas", pattern=r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$")
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    # Unset in production (boto3's default endpoints); moto server's URL locally.
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Public base URL of the web site: email links and the S3 CORS origin.
    public_url: str = Field("http://127.0.0.1:8080", pattern=r"^https?://[^/\s]+$")
    # Where free users' results go after retention: S3 GLACIER class (default) or a
    # legacy Glacier vault (closed to new AWS customers since 2025-12-15).
    cold_backend: Literal["s3-glacier", "glacier-vault"] = "s3-glacier"
    # The verified SES address job emails come from (provisioned, used by the notifier).
    ses_sender: str = Field("gas-noreply@example.org", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # Partition values per status of the jobs table's index of unfinished jobs (each
    # takes up to 1,000 writes/s on DynamoDB): every process writing or reading jobs must agree.
    # The sweeper queries each. After a change, run gas-provision: it moves the unfinished
    # jobs to their new shards (raising it loses nothing meanwhile; lowering it hides the
    # jobs of the dropped shards from the sweeper until then).
    active_shards: int = Field(8, ge=1, le=64)

    @field_validator("aws_endpoint_url")
    @classmethod
    def _endpoint_is_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value or None


class WorkerSettings(CoreSettings):
    """Settings of every SQS queue consumer (the shared worker loop)."""

    metrics_port: int = Field(9100, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    receive_wait_seconds: int = Field(10, ge=0, le=20)
    batch_size: int = Field(1, ge=1, le=10)
    visibility_timeout: int = Field(60, ge=5, le=43200)
    # On SIGTERM the message in hand gets this long to finish before its handler is asked
    # to stop and hand it back. The pod's terminationGracePeriodSeconds must exceed it
    # (by the time a hand-back takes: a few seconds).
    shutdown_grace_seconds: int = Field(20, ge=0)
    # How often each worker samples its dead-letter queue for the DLQ metrics; 0 = never.
    dlq_poll_seconds: int = Field(60, ge=0)
    # Keep this pod's `controller.kubernetes.io/pod-deletion-cost` annotation current (busy
    # high, idle low) so a scale-down removes idle workers first (docs/operator.md). The
    # chart sets the pod's name and namespace from the downward API; the API server's
    # address comes from KUBERNETES_SERVICE_HOST/PORT unless kubernetes_api_url names it.
    pod_deletion_cost: bool = False
    pod_name: str = ""
    pod_namespace: str = ""
    kubernetes_api_url: str = Field("", pattern=r"^(https://\S+)?$")
    service_account_dir: str = "/var/run/secrets/kubernetes.io/serviceaccount"


S = TypeVar("S", bound=BaseSettings)


def _env_name(settings_cls: type[BaseSettings], field: str) -> str:
    info = settings_cls.model_fields.get(field)
    if info is None:  # pydantic reports aliased fields by their alias: the variable itself
        return field.upper()
    alias = info.validation_alias if info else None
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    prefix = settings_cls.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


def refuse(problem: str) -> NoReturn:
    """Stop a process that must not run as configured: one line naming the problem on
    stderr, exit code 2 (Kubernetes and gunicorn show exactly why)."""
    print(f"configuration error: {problem}", file=sys.stderr)
    raise SystemExit(2)


def load_settings(settings_cls: type[S], **overrides: object) -> S:
    """Load settings or exit(2) with one line naming the first bad variable."""
    try:
        return settings_cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        name = _env_name(settings_cls, field)
        problem = "is required but not set" if err["type"] == "missing" else err["msg"]
        refuse(f"{name} {problem}")
