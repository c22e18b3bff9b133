"""GAS on a real one-node Kubernetes cluster built on this machine (tests/cluster/node_support.py):
etcd, the control plane, containerd + runc, CNI bridge, kubelet, kube-proxy, CoreDNS; every
image built here (tools/images/build.py) and imported into containerd, no registry.

Traefik (built here from its Go module, tools/install-traefik.sh; tests/cluster/traefik.yaml)
is the ingress controller: `helm install` of charts/gas with the dev values and the chart's
Ingresses (web at gas.localtest.me, moto's S3 at s3.gas.localtest.me) with TLS from Secrets
signed by a local CA made here, into a namespace enforcing the restricted Pod Security
Standard; real containers start (UID 10001, read-only root, the chart's volumes, seccomp
RuntimeDefault); then, as a user through Traefik over HTTPS (the certificate verified against
the local CA), the kind test's lifecycle (tests/lifecycle_support.py); the operator scaling the
annotator on a real queue spike (each worker setting its own pod's deletion cost: busy while
annotating, idle after); an annotator pod killed mid-job losing nothing; `helm test` with the
round-trip probe (a job through the queue, tests.probe); KEDA (built here) taking the
annotator over by `helm upgrade` and scaling it on a queue spike through the aggregation
layer; and a tear-down that leaves nothing behind.

Test-only values on top of the dev values: the Ingress class `traefik` with TLS and the
HTTPRoute on Traefik's Gateway (traefik_support.INGRESS_VALUES), retention 5 s
and restore checks every 2 s (the lifecycle in seconds, not minutes), queue visibility 15 s
(a killed worker's message comes back sooner), moto's memory limit 2Gi (the kill test's big
file; see TEST_VALUES), the probe's token Secret, CA and host alias (probe_values).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from hashlib import sha256

import chartlib
import keda_support
import kube
import lifecycle_support as lc
import pytest
import traefik_support as ingress
import yaml
from node_support import CLUSTER_DOMAIN, DNS_SERVICE_IP, HERE, NODE_NAME, dns_query
from siteclient import job_id_of
from support import SAMPLES
from traefik_support import DEV, GATEWAY_HOST, HOST, INGRESS_VALUES, NS, S3_HOST

from gas.core.deletion_cost import ANNOTATION

TEST_VALUES = [
    *INGRESS_VALUES,
    "--set", "provisioning.queueVisibilityTimeout=15",
    # moto keeps S3 in memory (upload, claimed copy, result): with the dev values' 512Mi its
    # container restarted during a 43 MB kill-test job, losing every table
    "--set", "devMode.moto.resources.limits.memory=2Gi",
    "--set-string", "workers.archiver-archive.env.GAS_RETENTION_SECONDS=5",
    "--set-string", "workers.archiver-restore.env.GAS_RESTORE_CHECK_EXPEDITED_SECONDS=2",
    "--set-string", "workers.archiver-restore.env.GAS_RESTORE_CHECK_STANDARD_SECONDS=2",
    "--set-string", "workers.archiver-thaw.env.GAS_RESTORE_CHECK_EXPEDITED_SECONDS=2",
    "--set-string", "workers.archiver-thaw.env.GAS_RESTORE_CHECK_STANDARD_SECONDS=2",
]  # fmt: skip
DEPLOYMENTS = lc.DEV_DEPLOYMENTS
PROBE_TOKEN_SECRET = "gas-probe-token"


def probe_values(node) -> list[str]:
    """The helm test probe's values: its token Secret, the local CA (the S3 host's certificate)
    and the S3 host resolving to Traefik inside the cluster (as split-horizon DNS would)."""
    aliases = [{"ip": node.service_ip("traefik", "traefik"), "hostnames": [S3_HOST]}]
    return [
        "--set", "tests.probe.enabled=true",
        "--set", f"tests.probe.tokenSecret={PROBE_TOKEN_SECRET}",
        "--set", "tests.probe.caSecret=gas-local-ca",
        "--set-json", f"tests.probe.hostAliases={json.dumps(aliases)}",
    ]  # fmt: skip


def install_traefik(node, ca: kube.Pki) -> str:
    """Traefik as an SRE installs it (the Gateway API CRDs first), with the chart's TLS Secrets
    signed by the local CA; its Service IP once it is Available."""
    crds = ingress.gateway_api_crds()
    node.apply(crds)

    def established() -> bool:
        for crd in crds:
            got = node.cp.api(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}")
            conditions = {c["type"]: c["status"] for c in got.json().get("status", {}).get("conditions", [])}
            if conditions.get("Established") != "True":
                return False
        return True

    lc.wait_for(established, 60, "the Gateway API CRDs established")
    cert, key = ca.serving("ingress", [HOST, S3_HOST, GATEWAY_HOST])
    tls = {"tls.crt": cert.read_text(), "tls.key": key.read_text()}
    secrets = [(f"{NS}-tls", "kubernetes.io/tls", tls), (f"{NS}-s3-tls", "kubernetes.io/tls", tls),
               ("gas-local-ca", "Opaque", {"ca.crt": (ca.dir / "ca.crt").read_text()})]  # fmt: skip
    node.apply(
        [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": n, "namespace": NS}, "type": t, "stringData": d}
         for n, t, d in secrets]
    )  # fmt: skip
    objects = [o for o in yaml.safe_load_all((HERE / "traefik.yaml").read_text()) if o]
    for obj in objects:
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = node.images["traefik"]["ref"]
    node.apply(objects)
    node.wait_deployments("traefik", {"traefik"}, timeout=180)
    return node.service_ip("traefik", "traefik")


def helm(node, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(chartlib.HELM), "--kubeconfig", str(node.cp.admin_kubeconfig), "-n", NS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}\n{node.pod_report(NS)}"
    return proc


@pytest.fixture(scope="module")
def gas(node):
    """helm install with the dev values; every Deployment Available with real containers."""
    why = chartlib.install_tools()
    if why:
        pytest.fail(why)
    node.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": NS,
                    "labels": {
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": "latest",
                    },
                },
            }
        ]
    )
    t0 = time.monotonic()
    ca = kube.Pki(node.workdir / "ingress-pki").ca("gas-local-ca")
    traefik_ip = install_traefik(node, ca)
    node.timings["traefik Available (s)"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    # no --wait (docs/kubernetes.md): helm still waits for the provisioning hook Job
    helm(node, "install", "gas", str(chartlib.CHART), *DEV, *TEST_VALUES, *probe_values(node),
         "--timeout", "10m")  # fmt: skip
    node.wait_deployments(NS, DEPLOYMENTS, timeout=600)
    node.timings["helm install -> all pods Ready (s)"] = round(time.monotonic() - t0, 1)

    def resolve(host: str) -> str | None:
        if host in (HOST, S3_HOST):  # the public hosts: the ingress controller
            return traefik_ip
        if "." not in host:  # a Service name, as a pod in the namespace resolves it
            (ip, *_) = dns_query(DNS_SERVICE_IP, f"{host}.{NS}.svc.{CLUSTER_DOMAIN}") or [None]
            return ip
        return None

    site = lc.Site(base=f"https://{HOST}", aws_endpoint="http://gas-moto:5000", cookie_domain=HOST)
    site.ca_file = str(ca.dir / "ca.crt")  # type: ignore[attr-defined]
    site.traefik_ip = traefik_ip  # type: ignore[attr-defined]
    # requests verifies every HTTPS connection against the local CA alone (never verify=False)
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = site.ca_file  # type: ignore[attr-defined]
    try:
        with lc.resolving(resolve):
            yield site
    finally:
        if before is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = before
    node.timings.update(site.timings)


def test_the_node_is_real(node):
    status = node.cp.api(f"/api/v1/nodes/{NODE_NAME}").json()["status"]
    info = status["nodeInfo"]
    assert info["kubeletVersion"] == "v1.34.3" and info["containerRuntimeVersion"].startswith("containerd://")
    assert {a["address"] for a in status["addresses"]} >= {"10.255.0.2"}
    (coredns,) = node.pods("kube-system", "k8s-app=kube-dns")
    assert coredns["status"]["phase"] == "Running"
    assert dns_query(DNS_SERVICE_IP, f"kubernetes.default.svc.{CLUSTER_DOMAIN}") == ["10.96.0.1"]


def test_every_pod_runs_real_containers(node, gas):
    pods = node.pods(NS)
    running = [p for p in pods if p["status"]["phase"] == "Running"]
    components = {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in running}
    assert components >= {"web", "annotator", "notifier", "archiver-archive", "archiver-restore", "archiver-thaw"}
    assert components >= {"operator", "moto"}
    for pod in running:
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"] and status["containerID"].startswith("containerd://"), status
        assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    # the provisioning hook ran as a real Job; its log comes through the API server from the kubelet
    # (earlier attempts may have failed while moto was starting: the Job's backoffLimit covers it)
    attempts = [p for p in pods if p["metadata"]["labels"]["app.kubernetes.io/component"] == "provision"]
    (job,) = [p for p in attempts if p["status"]["phase"] == "Succeeded"]
    print(f"provisioning Job: {len(attempts)} pod(s), {[p['status']['phase'] for p in attempts]}")
    log = node.cp.api(f"/api/v1/namespaces/{NS}/pods/{job['metadata']['name']}/log").text
    assert "provisioned prefix=gas" in log, log[-2000:]
    print(node.pod_report(NS))


def test_traefik_serves_the_chart_ingress_over_tls_from_the_local_ca(node, gas):
    ingresses = node.cp.api(f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses").json()["items"]
    assert {i["spec"]["ingressClassName"] for i in ingresses} == {"traefik"}
    assert {h for i in ingresses for t in i["spec"]["tls"] for h in t["hosts"]} == {HOST, S3_HOST}
    trusting = ssl.create_default_context(cafile=gas.ca_file)
    for host, path, status in ((HOST, "/", " 200 "), (S3_HOST, "/moto-api/", " 200 "), (HOST, "/readyz", " 404 ")):
        cert, line = lc.wait_for(
            lambda h=host, p=path, want=status: (
                (r := ingress.tls_get(gas.traefik_ip, h, p, trusting)) and want in r[1] and r
            ),
            60,
            f"{host}{path} answering{status}",
        )  # /readyz is web's ops port: never routed (404)
        issuer = dict(x[0] for x in cert["issuer"])
        assert ("DNS", host) in cert["subjectAltName"] and issuer["commonName"] == "gas-local-ca", cert
    # the machine's own CAs do not know the local CA: verification is real
    with pytest.raises(ssl.SSLCertVerificationError):
        ingress.tls_get(gas.traefik_ip, HOST, "/", ssl.create_default_context())


def test_the_chart_httproute_through_traefiks_gateway(node, gas):
    """The HTTPRoute (Gateway API), attached to a Gateway Traefik serves: HTTPS on its listener."""
    route = node.cp.api(f"/apis/gateway.networking.k8s.io/v1/namespaces/{NS}/httproutes/gas-web").json()
    assert route["spec"]["hostnames"] == [GATEWAY_HOST]

    lc.wait_for(lambda: ingress.httproute_accepted(node.cp), 60, "the HTTPRoute accepted by Traefik")
    trusting = ssl.create_default_context(cafile=gas.ca_file)

    def get(path: str) -> tuple[dict, str]:
        return ingress.tls_get(gas.traefik_ip, GATEWAY_HOST, path, trusting, port=9443)

    cert, line = lc.wait_for(lambda: (r := get("/")) and " 200 " in r[1] and r, 60, "/ through the Gateway")
    assert ("DNS", GATEWAY_HOST) in cert["subjectAltName"]
    assert " 404 " in get("/readyz")[1]  # the ops port is not behind the route either


def test_job_lifecycle_through_traefik_over_https(node, gas):
    result = lc.job_lifecycle(gas, archive_timeout=180, restore_timeout=180)
    print(f"lifecycle figures: {gas.timings}")
    gas.premium_user = result["user"]  # type: ignore[attr-defined]


def _annotator_replicas(node) -> int:
    return node.deployments(NS)["gas-annotator"]["spec"].get("replicas", 0)


def _deletion_costs(node) -> dict[str, str | None]:
    pods = node.pods(NS, "app.kubernetes.io/component=annotator")
    live = [p for p in pods if "deletionTimestamp" not in p["metadata"]]
    return {p["metadata"]["name"]: p["metadata"].get("annotations", {}).get(ANNOTATION) for p in live}


def test_the_operator_scales_the_annotator_on_a_queue_spike(node, gas):
    user = lc.signed_in_user(gas, "Spike Tester")
    sample = (SAMPLES / "free_1.vcf").read_bytes()
    before = _annotator_replicas(node)
    assert before == 1  # the dev values' minReplicas; the QueueScaler owns it
    t0 = time.monotonic()
    jobs = [lc.submit(user, gas, f"spike_{i}.vcf", sample) for i in range(30)]
    scaled = lc.wait_for(lambda: _annotator_replicas(node) > 1 and _annotator_replicas(node), 120, "a scale-up")
    node.timings["spike: submit -> scaled up (s)"] = round(time.monotonic() - t0, 1)
    peak = scaled
    costs_seen = set()  # each worker sets its own pod's deletion cost (docs/operator.md)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        peak = max(peak, _annotator_replicas(node))
        costs_seen |= set(_deletion_costs(node).values())
        if all(user.job(j)["status"] == "COMPLETED" for j in jobs):
            break
        time.sleep(2)
    assert all(user.job(j)["status"] == "COMPLETED" for j in jobs)
    node.timings["spike: 30 jobs done (s)"] = round(time.monotonic() - t0, 1)
    # busy while annotating; idle once a poll finds the queue empty: first to go on the scale-down
    assert "1000" in costs_seen, costs_seen
    idle = lc.wait_for(lambda: (c := _deletion_costs(node)) and set(c.values()) == {"0"} and c, 60, "idle costs")
    print(f"deletion costs seen during the spike: {sorted(costs_seen, key=str)}; after: {idle}")
    scaler = node.cp.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers/gas-annotator").json()
    print(f"annotator replicas {before} -> peak {peak}; QueueScaler status {json.dumps(scaler.get('status'))[:400]}")
    assert 2 <= peak <= 3  # dev values: maxReplicas 3
    ready = node.deployments(NS)["gas-annotator"]["status"].get("readyReplicas", 0)
    assert ready >= 1


def test_an_annotator_pod_killed_mid_job_loses_nothing(node, gas):
    user = getattr(gas, "premium_user", None) or pytest.fail("needs the lifecycle test's premium user")
    (moto,) = node.pods(NS, "app.kubernetes.io/component=moto")
    moto_restarts = moto["status"]["containerStatuses"][0]["restartCount"]
    content, variants = lc.large_vcf(80_000)
    job_id = lc.submit(user, gas, "big.vcf", content)
    lc.wait_for(lambda: user.job(job_id)["status"] == "RUNNING", 300, "the job running", every=0.2)
    killed = []
    for pod in node.pods(NS, "app.kubernetes.io/component=annotator"):
        name = pod["metadata"]["name"]
        resp = node.cp.api(f"/api/v1/namespaces/{NS}/pods/{name}", "DELETE", json={"gracePeriodSeconds": 0})
        assert resp.status_code == 200, resp.text
        killed.append(name)
    assert user.job(job_id)["status"] == "RUNNING", "the job finished before its pod was killed: make it bigger"
    t0 = time.monotonic()
    job = user.wait_finished(job_id, timeout=600)
    node.timings["killed mid-job -> COMPLETED (s)"] = round(time.monotonic() - t0, 1)
    assert job["status"] == "COMPLETED", job
    # a new pod finished it: on a retry (attempt 2) or, if the dying worker handed the job back
    # in its last second (SIGTERM -> JobStore.release), on the same attempt
    node.timings["killed job's attempts"] = int(gas.job_item(job_id)["attempt"])
    annotated = lc.download(user, job_id)
    assert len(lc.body_lines(annotated)) == variants
    alive = {p["metadata"]["name"] for p in node.pods(NS, "app.kubernetes.io/component=annotator")}
    assert alive and not alive & set(killed)
    (moto,) = node.pods(NS, "app.kubernetes.io/component=moto")
    assert moto["status"]["containerStatuses"][0]["restartCount"] == moto_restarts, "moto restarted: state lost"
    dlq = gas.aws("sqs").get_queue_url(QueueName="gas-annotate-dlq")["QueueUrl"]
    attrs = gas.aws("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_bundle_served_from_moto_is_built_and_used_by_a_job(node, gas):
    """Issue 24 item 4: a bundle declared in the values by s3:// URLs (moto's S3) is built by
    the gas-references hook Job on `helm upgrade`, fetched by every annotator (and web's
    form) before it is Ready, and a job annotated with it carries transcript consequences."""
    from annotator.bundle_support import write_inputs

    paths = write_inputs(node.workdir / "bundle")  # the hand-made bundle: GENEA's CDS at chr1:111
    s3 = gas.aws("s3")
    s3.create_bucket(Bucket="acme-references")
    declared = {"name": "tiny"}
    for key, field, path in (("genes.gff3", "geneModel", paths["gff3"]), ("genome.fa", "fasta", paths["fasta"])):
        s3.put_object(Bucket="acme-references", Key=key, Body=path.read_bytes())
        declared[field] = {"url": f"s3://acme-references/{key}", "sha256": sha256(path.read_bytes()).hexdigest()}
    declared["geneModel"]["format"] = "gff3"
    small = [
        "--set-json", f"annotation.bundles=[{json.dumps(declared)}]",
        "--set", "annotation.storage.sizeLimit=256Mi",
        "--set", "annotation.build.scratchSizeLimit=256Mi",
        "--set", "annotation.build.resources.requests.cpu=100m",
        "--set", "annotation.build.resources.requests.memory=256Mi",
        "--set", "annotation.build.resources.limits.memory=1Gi",
        "--set", "annotation.fetch.waitSeconds=300",
    ]  # fmt: skip
    t0 = time.monotonic()
    helm(node, "upgrade", "gas", str(chartlib.CHART), *DEV, *TEST_VALUES, *probe_values(node), *small,
         "--timeout", "10m")  # fmt: skip
    node.timings["helm upgrade with a bundle: hooks (s)"] = round(time.monotonic() - t0, 1)
    (built,) = [
        p for p in node.pods(NS, "app.kubernetes.io/component=references") if p["status"]["phase"] == "Succeeded"
    ]
    log = node.cp.api(f"/api/v1/namespaces/{NS}/pods/{built['metadata']['name']}/log").text
    assert '"outcome": "built"' in log and '"name": "tiny"' in log, log[-2000:]

    def rolled() -> bool:
        pods = [
            p
            for c in ("annotator", "web")
            for p in node.pods(NS, f"app.kubernetes.io/component={c}")
            if "deletionTimestamp" not in p["metadata"]
        ]
        return bool(pods) and all(
            p["spec"].get("initContainers")
            and all(s["ready"] for s in p["status"].get("containerStatuses", [{"ready": False}]))
            for p in pods
        )

    lc.wait_for(rolled, 600, "annotator and web pods with their references, Ready", every=2)
    node.wait_deployments(NS, DEPLOYMENTS, timeout=300)
    node.timings["helm upgrade with a bundle -> pods Ready (s)"] = round(time.monotonic() - t0, 1)

    user = lc.signed_in_user(gas, "Bundle Tester")
    genome = paths["fasta"].read_text().split("\n", 1)[1].replace("\n", "")
    vcf = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    vcf += f"chr1\t117\t.\t{genome[116]}\tG\t.\t.\t.\n"
    assert "tiny" in user.get("/annotate").text  # the form offers the deployed bundle
    # The form's database choice travels as the upload's assembly metadata (the browser's <select>).
    uploaded = user.post_to_s3(user.upload_form(), "tx.vcf", vcf.encode(), assembly="tiny")
    assert uploaded.status_code in (302, 303), uploaded.text[:500]
    job_id = job_id_of(user.http.get(uploaded.headers["Location"], timeout=60))
    job = user.wait_finished(job_id, timeout=300)
    assert job["status"] == "COMPLETED", job
    assert gas.job_item(job_id)["database"] == "tiny"
    (record,) = lc.body_lines(lc.download(user, job_id))
    # c.7C>G: CTG>GTG, Leu3Val on GENEA's ENST1.3 (tests/annotator/bundle_support.py)
    assert "CSQ=" in record and "missense_variant" in record and "p.Leu3Val" in record, record


def _operator_errors(node) -> dict[str, float]:
    """gas_operator_errors_total per series (scaler, kind), from the operator's metrics Service
    (through the API server's service proxy)."""
    text = node.cp.api(f"/api/v1/namespaces/{NS}/services/gas-operator-metrics:metrics/proxy/metrics").text
    series = [line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("gas_operator_errors_total{")]
    return {labels: float(value) for labels, value in series}


def test_keda_built_here_scales_the_annotator_on_a_queue_spike(node, gas):
    """Issue 27 item 1: KEDA v2.21.1, built here (tools/install-keda.sh), installed from its own
    release manifests, serving external.metrics.k8s.io through the API server's aggregation
    layer; `helm upgrade` moves the annotator to `autoscaler: keda` (the dev values' moto through
    awsEndpoint, the Secret's keys); a queue spike of real jobs makes KEDA's HPA scale it up and,
    once the queue is empty, back down, while the operator stands down without an error."""
    errors_before = _operator_errors(node)
    node.timings.update(keda_support.install(node, node.images))
    t0 = time.monotonic()
    helm(
        node, "upgrade", "gas", str(chartlib.CHART), "--reuse-values",
        "--set", "workers.annotator.autoscaler=keda",
        "--set", "workers.annotator.scaler.scaleDownStabilizationSeconds=15",
        "--timeout", "10m",
    )  # fmt: skip
    node.timings["KEDA: helm upgrade (s)"] = round(time.monotonic() - t0, 1)
    api = node.cp.api
    assert api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers/gas-annotator").status_code == 404

    def scaled_object() -> dict:
        return api(f"/apis/keda.sh/v1alpha1/namespaces/{NS}/scaledobjects/gas-annotator").json()

    def ready() -> dict | None:
        so = scaled_object()
        conditions = {c["type"]: c for c in so.get("status", {}).get("conditions", [])}
        return so if conditions.get("Ready", {}).get("status") == "True" and so["status"].get("hpaName") else None

    try:
        so = lc.wait_for(ready, 120, "the ScaledObject Ready (KEDA read moto's queue) with its HPA")
    except AssertionError as exc:
        why = f"{scaled_object().get('status')}\n{keda_support.logs(node, 'keda-operator')}"
        raise AssertionError(f"{exc}\n{why}") from None
    hpa_path = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/{so['status']['hpaName']}"
    hpa = api(hpa_path).json()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gas-annotator"
    assert hpa["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gas"  # the operator's planned stand-down
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "External" and metric["external"]["target"]["averageValue"] == "5"
    # an idle queue: KEDA holds the annotator at minReplicas
    lc.wait_for(lambda: _annotator_replicas(node) == 1, 180, "the idle annotator at 1 replica")

    # A spike that outruns one warm annotator: four users submit at once. One user's 30 jobs in
    # a row were drained as fast as they came (a small job takes well under a second now), so
    # the queue KEDA polls every 5 s, and the HPA reads every 15 s, never held 5.
    users = [lc.signed_in_user(gas, f"KEDA Spike Tester {k}") for k in range(4)]
    sample = (SAMPLES / "free_1.vcf").read_bytes()
    t0 = time.monotonic()
    with ThreadPoolExecutor(len(users)) as pool:
        batches = pool.map(lambda u: [(u, lc.submit(u, gas, f"keda_spike_{i}.vcf", sample)) for i in range(15)], users)
        jobs = [job for batch in batches for job in batch]
    peak = lc.wait_for(lambda: _annotator_replicas(node) > 1 and _annotator_replicas(node), 150, "KEDA's scale-up")
    node.timings["KEDA spike: submit -> scaled up (s)"] = round(time.monotonic() - t0, 1)
    # what the HPA read: the queue depth KEDA's metrics server served through the aggregator
    current = lc.wait_for(lambda: api(hpa_path).json()["status"].get("currentMetrics"), 60, "the HPA's metric")
    print(f"KEDA HPA currentMetrics during the spike: {json.dumps(current)}")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not all(u.job(j)["status"] == "COMPLETED" for u, j in jobs):
        peak = max(peak, _annotator_replicas(node))
        time.sleep(2)
    assert all(u.job(j)["status"] == "COMPLETED" for u, j in jobs)
    node.timings["KEDA spike: 60 jobs done (s)"] = round(time.monotonic() - t0, 1)
    assert 2 <= peak <= 3  # dev values: maxReplicas 3
    t1 = time.monotonic()
    lc.wait_for(lambda: _annotator_replicas(node) == 1, 180, "KEDA's scale-down once the queue is empty")
    node.timings["KEDA: queue empty -> back to 1 replica (s)"] = round(time.monotonic() - t1, 1)
    # no series grew (the annotator's went with its QueueScaler): the stand-down is no error
    after = _operator_errors(node)
    assert all(value <= errors_before.get(labels, 0) for labels, value in after.items()), (errors_before, after)
    print(f"annotator replicas under KEDA: 1 -> peak {peak} -> 1")


def test_helm_test_round_trips_a_job_through_the_queue(node, gas):
    """`helm test`: web's /readyz, and the probe (tests.probe): a job through the API, the
    annotate queue and a worker, with a probe user's token made on the profile page."""
    from api.api_stack_support import make_token

    probe_user = lc.signed_in_user(gas, "Helm Test Probe")
    token = make_token(probe_user, name="helm test probe")
    node.apply([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": PROBE_TOKEN_SECRET, "namespace": NS},
                 "type": "Opaque", "stringData": {"token": token}}])  # fmt: skip
    t0 = time.monotonic()
    # no --logs: the chart deletes a test pod once it succeeds (hook-succeeded)
    out = helm(node, "test", "gas", "--timeout", "5m").stdout
    node.timings["helm test (readyz + probe) (s)"] = round(time.monotonic() - t0, 1)
    suites = dict(re.findall(r"TEST SUITE:\s+(\S+)\n(?:.*\n)*?\s*Phase:\s+(\w+)", out))
    assert suites == {"gas-test-probe": "Succeeded", "gas-test-readyz": "Succeeded"}, out
    # the probe's job went through the queue to a worker (the notifier's email for it) and was deleted
    (mail,) = lc.wait_for(lambda: lc.emails_to(gas, probe_user.email), 60, "the probe job's email")
    assert "is ready" in mail["subject"], mail["subject"]
    assert probe_user.job_ids() == []


def test_teardown_leaves_nothing(node, gas):
    t0 = time.monotonic()
    # the pre-delete hook releases the QueueScalers while the operator runs: nothing is left
    # Terminating, so the namespace itself can go too (with the provisioning Job helm keeps)
    helm(node, "uninstall", "gas", "--wait", "--timeout", "5m")
    scalers = node.cp.api(f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers").json()["items"]
    assert scalers == [], [s["metadata"] for s in scalers]
    assert node.cp.api(f"/api/v1/namespaces/{NS}", "DELETE").status_code == 200
    lc.wait_for(lambda: node.cp.api(f"/api/v1/namespaces/{NS}").status_code == 404, 180, "namespace gas gone")
    node.stop()
    node.timings["uninstall + tear-down (s)"] = round(time.monotonic() - t0, 1)
    assert node.leftovers() == []
    print(f"one-node cluster figures: {json.dumps(node.timings)}")
