"""End-to-end on kind: create the cluster, install ingress-nginx, `skaffold run -p kind`,
then check through the ingress (plain HTTP on 127.0.0.1:80):

  - the provisioning Job (helm post-install hook) completed, and moto holds the
    buckets, tables and queues it creates;
  - every Deployment is Available (web's readiness = DynamoDB + S3 reachable);
  - the home page and the sign-in page render through the ingress, /readyz /healthz
    /metrics do not (web's ops port, read through the API server's service proxy: ready);
  - `helm test gas` passes;
  - tear down.

  - the job lifecycle through the ingress, as a browser does it (tests/lifecycle_support.py,
    shared with the one-node cluster test tests/cluster): the upload form's presigned POST
    goes to S3 (moto, published by the chart's dev-mode ingress at s3.gas.localtest.me), S3
    redirects back to the site, the annotator (its image carries the annotation database)
    completes the job, the log page and the presigned download work through the ingress,
    the notifier's email is in moto's SES store; the result is archived after retention,
    the upgrade restores it.

Needs: docker (a running engine), kind, kubectl, skaffold, helm, and network access for
the base images and ingress-nginx. Skips with a one-line reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import lifecycle_support as lc
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "gas"
CONTEXT = f"kind-{CLUSTER}"
NS = "gas"
HOST = "gas.localtest.me"
INGRESS_NGINX = os.environ.get(
    "GAS_INGRESS_NGINX_MANIFEST",
    "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1/deploy/static/provider/kind/deploy.yaml",
)


def _why_not() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker engine (docker info fails): the kind end-to-end needs one"
    for tool in ("kind", "kubectl", "skaffold"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    if shutil.which("helm") is None and not (ROOT / ".cache" / "bin" / "helm").exists():
        return "helm not installed (tools/install-helm.sh)"
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


def run(*argv: str, timeout: float = 1800, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.cache' / 'bin'}:{env['PATH']}"
    return subprocess.run(argv, cwd=ROOT, check=True, timeout=timeout, text=True, env=env, **kw)


def kubectl(*args: str, **kw) -> subprocess.CompletedProcess:
    return run("kubectl", "--context", CONTEXT, *args, **kw)


def get(path: str, timeout: float = 10) -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1{path}", headers={"Host": HOST})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


@pytest.fixture(scope="module")
def stack():
    existing = run("kind", "get", "clusters", capture_output=True).stdout.split()
    created = CLUSTER not in existing
    if created:
        run("kind", "create", "cluster", "--config", "k8s/kind-config.yaml", "--wait", "120s")
    try:
        kubectl("apply", "-f", INGRESS_NGINX)
        kubectl(
            "-n",
            "ingress-nginx",
            "wait",
            "--for=condition=Available",
            "deployment/ingress-nginx-controller",
            "--timeout=300s",
        )
        run("skaffold", "run", "-p", "kind", "--kube-context", CONTEXT, "--status-check=true", timeout=3600)
        yield
    finally:
        if os.environ.get("GAS_KEEP_KIND") != "1":
            if created:
                run("kind", "delete", "cluster", "--name", CLUSTER)
            else:
                subprocess.run(["helm", "--kube-context", CONTEXT, "-n", NS, "uninstall", "gas"], cwd=ROOT)


def test_provisioning_job_completed(stack):
    job = json.loads(kubectl("-n", NS, "get", "job", "gas-provision", "-o", "json", capture_output=True).stdout)
    assert job["status"].get("succeeded") == 1
    logs = kubectl("-n", NS, "logs", "job/gas-provision", capture_output=True).stdout
    assert "provisioned prefix=gas" in logs


def test_every_deployment_available(stack):
    deps = json.loads(kubectl("-n", NS, "get", "deploy", "-o", "json", capture_output=True).stdout)["items"]
    names = {d["metadata"]["name"] for d in deps}
    assert names == lc.DEV_DEPLOYMENTS
    for d in deps:
        conds = {c["type"]: c["status"] for c in d["status"].get("conditions", [])}
        assert conds.get("Available") == "True", d["metadata"]["name"]


def test_ingress_pages_and_no_ops_endpoints(stack):
    status, body = lc.wait_for(lambda: (lambda r: r if r[0] == 200 else None)(get("/")), 300, "/ via ingress")
    assert status == 200 and "GAS" in body
    # /readyz, /healthz and /metrics live on web's ops port, which the ingress never routes
    for path in ("/readyz", "/healthz", "/metrics"):
        status, _ = get(path)
        assert status == 404, path
    ready = kubectl(
        "-n",
        NS,
        "get",
        "--raw",
        "/api/v1/namespaces/gas/services/gas-web-metrics:9100/proxy/readyz",
        capture_output=True,
    )
    assert '"status": "ready"' in ready.stdout or '"status":"ready"' in ready.stdout
    # the sign-in page offers Globus (placeholder credentials in dev) and never the local form
    status, body = get("/auth/login")
    assert status == 200 and "globus" in body.lower()
    status, _ = get("/auth/local")
    assert status in (403, 404)


def test_helm_test(stack):
    run("helm", "--kube-context", CONTEXT, "-n", NS, "test", "gas", "--timeout", "5m")


def test_job_lifecycle_through_the_ingress(stack):
    """The lifecycle the one-node cluster test runs too (tests/lifecycle_support.py), here
    through ingress-nginx: the site at gas.localtest.me, moto's S3 at s3.gas.localtest.me
    (both 127.0.0.1, where kind maps the node's port 80); the dev values' retention (180 s)."""
    site = lc.Site(base=f"http://{HOST}", aws_endpoint=f"http://s3.{HOST}", cookie_domain=HOST)
    with lc.resolving(lambda host: "127.0.0.1" if host == HOST or host.endswith("." + HOST) else None):
        lc.job_lifecycle(site, archive_timeout=900, restore_timeout=900)
    print(f"kind lifecycle figures: {site.timings}")
