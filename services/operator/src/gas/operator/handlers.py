"""kopf wiring. kopf watches QueueScalers and HorizontalPodAutoscalers and hands every
change to the Supervisor (kept in kopf's `memo`), which runs one scaler loop per
QueueScaler while this replica holds the leader Lease. No kopf daemon or change
handler: kopf adds no finalizer and writes nothing to the objects (indexing and
on.event handlers only)."""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import kopf
import urllib3
from botocore.config import Config
from kubernetes import client, config

from gas.core.aws import Aws
from gas.core.observability import serve_ops
from gas.operator.leader import LeaseElector
from gas.operator.queues import QueueWatcher
from gas.operator.reconcile import GROUP, PLURAL, VERSION, Reconciler
from gas.operator.settings import OperatorSettings
from gas.operator.supervisor import HpaRef, Supervisor, gas_release


def _sqs_config(settings: OperatorSettings) -> Config:
    # One retry and short timeouts: a slow queue costs one poll, never a stuck loop.
    t = settings.sqs_timeout_seconds
    return Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=t, read_timeout=t)


def kube_api_client(settings: OperatorSettings) -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)
    # No hidden retries behind the request timeouts: a failed call is retried next poll.
    configuration.retries = 0
    if not configuration.verify_ssl:
        # The kubeconfig asked for it (insecure-skip-tls-verify): say so once, not per request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        logging.getLogger(__name__).warning("the Kubernetes API server's certificate is not verified")
    return client.ApiClient(configuration)


@dataclass
class Runtime:
    """Everything one operator process runs, built once at start-up."""

    settings: OperatorSettings
    api: client.ApiClient
    elector: LeaseElector = field(init=False)
    supervisor: Supervisor = field(init=False)
    queue_watcher: QueueWatcher = field(init=False)
    _aws: dict[str, Aws] = field(default_factory=dict)
    _aws_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        s = self.settings
        self._sqs_config = _sqs_config(s)
        self.elector = LeaseElector(
            client.CoordinationV1Api(self.api),
            namespace=s.lease_namespace,
            name=s.leader_lease_name,
            identity=f"{s.pod_name}_{uuid.uuid4().hex[:8]}",  # unique per process, as client-go
            lease_seconds=s.leader_lease_seconds,
            renew_seconds=s.leader_renew_seconds,
            request_timeout=s.kube_timeout_seconds,
            on_change=lambda leading: self.supervisor.set_leader(leading),
        )
        reconciler = Reconciler(
            client.AppsV1Api(self.api),
            client.CoreV1Api(self.api),
            client.CustomObjectsApi(self.api),
            self.sqs,
            request_timeout=s.kube_timeout_seconds,
            may_write=self.elector.is_leader,
            reporter=s.pod_name,
        )
        self.supervisor = Supervisor(reconciler, s.pass_budget_seconds, self.elector.is_leader)
        aws = self._aws_in(None)
        self.queue_watcher = QueueWatcher(
            [(q, aws.names.queue(q)) for q in s.watch_queues],
            aws.client_at("sqs", None, self._sqs_config),
            aws.client_at("cloudwatch", None, self._sqs_config),
            s.queue_watch_seconds,
        )

    def _aws_in(self, region: str | None) -> Aws:
        region = region or self.settings.aws_region
        with self._aws_lock:
            aws = self._aws.get(region)
            if aws is None:
                aws = self._aws[region] = Aws(self.settings.model_copy(update={"aws_region": region}))
        return aws

    def sqs(self, region: str | None, endpoint: str | None) -> Any:
        """One Aws (one boto3 session) per region, shared by every loop: Aws creates its
        clients under a lock, and boto3 clients are thread-safe once made."""
        return self._aws_in(region).client_at("sqs", endpoint, self._sqs_config)

    def alive(self) -> bool:
        return self.elector.alive() and self.supervisor.alive()

    def start(self) -> None:
        s = self.settings
        ports = {p for p in (s.metrics_port, s.health_port) if p}
        for port in sorted(ports):
            serve_ops(s.metrics_host, port, self.alive, self.alive)
        self.elector.start()
        self.queue_watcher.start()

    def stop(self) -> None:
        self.queue_watcher.stop()
        self.elector.stop()  # stops the loops first, then hands the Lease back
        self.supervisor.stop()


@kopf.on.startup()
def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    ours: OperatorSettings = memo.settings
    # Events are the operator's own (timed, counted); kopf posts none.
    settings.posting.enabled = False
    # No cluster-wide CRD scanning: the operator's RBAC stays namespaced.
    settings.scanning.disabled = True
    # kopf's own requests (list, watch) time out too; a silent watch is re-opened.
    settings.networking.connect_timeout = ours.kube_timeout_seconds
    settings.networking.request_timeout = 3 * ours.kube_timeout_seconds
    settings.watching.connect_timeout = ours.kube_timeout_seconds
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # One line per handled watch event is noise; kopf's warnings and errors stay.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    runtime = Runtime(ours, kube_api_client(ours))
    memo.runtime = runtime
    runtime.start()


@kopf.on.cleanup()
def cleanup(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        runtime.stop()


# Indexing handlers see every object of the initial listings before kopf runs any other
# handler: when the first on.event handler runs, every QueueScaler and HPA is known, so the
# first pass of a loop cannot miss a rival (mark_synced lets the loops start).
@kopf.index(GROUP, VERSION, PLURAL)
def queuescaler_seen(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    raw: dict[str, Any] = copy.deepcopy(dict(body))
    if raw["metadata"].get("deletionTimestamp"):
        runtime.supervisor.scaler_gone(raw["metadata"]["uid"])
    else:
        runtime.supervisor.scaler_seen(raw)


@kopf.index("autoscaling", "v2", "horizontalpodautoscalers")
def hpa_seen(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    meta, target = body["metadata"], (body.get("spec") or {}).get("scaleTargetRef") or {}
    deployment = target.get("kind") == "Deployment"
    release = gas_release(meta.get("labels"))
    hpa = HpaRef(meta["namespace"], meta["name"], target.get("name", ""), release) if deployment else None
    runtime.supervisor.hpa_seen(meta["uid"], hpa)


@kopf.on.event(GROUP, VERSION, PLURAL)
def queuescaler_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    if event["type"] == "DELETED":  # (indexing handlers never see a deletion)
        runtime.supervisor.scaler_gone(event["object"]["metadata"]["uid"])
    runtime.supervisor.mark_synced()


@kopf.on.event("autoscaling", "v2", "horizontalpodautoscalers")
def hpa_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    if event["type"] == "DELETED":
        runtime.supervisor.hpa_seen(event["object"]["metadata"]["uid"], None)
    runtime.supervisor.mark_synced()
