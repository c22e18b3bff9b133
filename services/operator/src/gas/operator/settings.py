"""The operator's settings: environment variables, typed and validated like every GAS process."""

from __future__ import annotations

import socket

from pydantic import Field, model_validator

from gas.core.config import CoreSettings


class OperatorSettings(CoreSettings):
    # Unset: every namespace (development); the chart sets the release's namespace.
    watch_namespace: str | None = None
    # This replica's name in the leader Lease (the chart passes the pod name).
    pod_name: str = Field(default_factory=socket.gethostname, min_length=1)
    leader_lease_name: str = Field("gas-operator", min_length=1)
    # Default: the watched namespace.
    leader_lease_namespace: str | None = None
    # A leader that stops renewing is replaced after this long; it renews every
    # leader_renew_seconds and stops acting leader_lease_seconds - leader_renew_seconds
    # after its last successful renewal, before anyone else may take over.
    leader_lease_seconds: float = Field(60, gt=0, le=3600)
    leader_renew_seconds: float = Field(15, gt=0)
    # Every Kubernetes request of the scaler loops and the elector (connect and read each).
    kube_timeout_seconds: float = Field(10, gt=0, le=300)
    # SQS connect and read timeouts of the queue reads (one retry).
    sqs_timeout_seconds: float = Field(5, gt=0, le=60)
    metrics_port: int = Field(9100, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    # /healthz and /readyz (also served on the metrics port); 0: only there.
    health_port: int = Field(8080, ge=0, le=65535)

    # The release's queues (short names, the workers' `queue` label; a JSON list) whose
    # depth and oldest-message age every replica exports (gas.operator.queues), and how often.
    watch_queues: tuple[str, ...] = ()
    queue_watch_seconds: float = Field(60, ge=5, le=3600)

    @model_validator(mode="after")
    def _renew_within_lease(self) -> OperatorSettings:
        if self.leader_renew_seconds >= self.leader_lease_seconds:
            raise ValueError("GAS_LEADER_RENEW_SECONDS must be less than GAS_LEADER_LEASE_SECONDS")
        return self

    @property
    def lease_namespace(self) -> str:
        return self.leader_lease_namespace or self.watch_namespace or "default"

    @property
    def pass_budget_seconds(self) -> float:
        """The longest a healthy reconcile pass can take: every call timed out, plus slack."""
        return 8 * self.kube_timeout_seconds + 4 * self.sqs_timeout_seconds + 10
