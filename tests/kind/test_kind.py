"""End-to-end on kind: create the cluster, install ingress-nginx, `skaffold run -p kind`,
then check through the ingress (plain HTTP on 127.0.0.1:80):

  - the provisioning Job (helm post-install hook) completed, and moto holds the
    buckets, tables and queues it creates;
  - every Deployment is Available (web's readiness = DynamoDB + S3 reachable);
  - the home page and the sign-in page render through the ingress, /readyz /healthz
    /metrics do not (web's ops port, read through the API server's service proxy: ready);
  - `helm test gas` passes;
  - tear down.

  - the job lifecycle through the ingress, as a browser does it: the upload form's
    presigned POST goes to S3 (moto, published by the chart's dev-mode ingress at
    s3.gas.localtest.me), S3 redirects back to the site, the annotator (its image carries
    the annotation database) completes the job, the log page and the presigned download
    work through the ingress, and the notifier's email is in moto's SES store.

Signing in: the local sign-in is refused in a cluster (by design) and a Globus sign-in
needs a real Globus app, so the test signs the session cookie itself with the dev values'
secret key (exactly what the web app would have set after a sign-in) and creates the
user record the sign-in would have created.

Needs: docker (a running engine), kind, kubectl, skaffold, helm, and network access for
the base images and ingress-nginx. Skips with a one-line reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import requests
import yaml

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


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last = exc
        time.sleep(3)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


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
    assert names == {
        "gas-web",
        "gas-annotator",
        "gas-notifier",
        "gas-archiver-archive",
        "gas-archiver-restore",
        "gas-archiver-thaw",
        "gas-operator",
        "gas-moto",
    }
    for d in deps:
        conds = {c["type"]: c["status"] for c in d["status"].get("conditions", [])}
        assert conds.get("Available") == "True", d["metadata"]["name"]


def test_ingress_pages_and_no_ops_endpoints(stack):
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(get("/")), 300, "/ via ingress")
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


@pytest.fixture
def localtest_me_on_loopback(monkeypatch):
    """*.localtest.me is 127.0.0.1 in public DNS; make it so without DNS (kind maps :80 there)."""
    import urllib3.util.connection as connection

    real = connection.create_connection

    def create_connection(address, *args, **kwargs):
        host, port = address
        return real(("127.0.0.1" if host == HOST or host.endswith("." + HOST) else host, port), *args, **kwargs)

    monkeypatch.setattr(connection, "create_connection", create_connection)


def _signed_in_user(base: str, s3_url: str):
    """A user as a sign-in leaves them: the users-table record and the signed session cookie."""
    from flask import Flask

    sys.path.insert(0, str(ROOT / "local"))
    from siteclient import User

    from gas.core.aws import Aws
    from gas.core.config import CoreSettings
    from gas.core.users import UserStore

    user = User(base, name="Kind Tester")
    user_id = f"kind-{uuid.uuid4().hex[:12]}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    UserStore(Aws(CoreSettings(prefix="gas", AWS_ENDPOINT_URL=s3_url, AWS_REGION="us-east-1"))).upsert(
        user_id, user.name, user.email
    )
    signer = Flask("kind-test")
    signer.secret_key = yaml.safe_load((ROOT / "k8s" / "values-dev.yaml").read_text())["secrets"]["secretKey"]
    cookie = signer.session_interface.get_signing_serializer(signer).dumps(
        {"user_id": user_id, "name": user.name, "email": user.email, "tokens": [], "_permanent": True}
    )
    user.http.cookies.set("gas_session", cookie, domain=HOST)
    return user


def test_job_lifecycle_through_the_ingress(stack, localtest_me_on_loopback):
    sys.path.insert(0, str(ROOT / "tests"))
    from support import SAMPLES

    base, s3_url = f"http://{HOST}", f"http://s3.{HOST}"
    user = _signed_in_user(base, s3_url)
    assert user.name in user.get("/profile").text

    form = user.upload_form()
    assert form["action"].startswith(s3_url + "/")  # the browser posts to S3 itself
    page = user.submit("free_1.vcf", (SAMPLES / "free_1.vcf").read_bytes())
    job_id = page.url.rsplit("/", 1)[-1]
    assert page.url == f"{base}/annotations/{job_id}", page.url
    job = user.wait_finished(job_id, timeout=600)
    assert job["status"] == "COMPLETED", job

    log = user.get(f"/annotations/{job_id}/log")
    assert log.ok and "1141" in log.text.replace(",", "")
    download = user.get(f"/annotations/{job_id}/download", allow_redirects=False)
    assert download.status_code in (302, 303) and download.headers["Location"].startswith(s3_url + "/")
    annotated = requests.get(download.headers["Location"], timeout=60)
    assert annotated.ok and annotated.text.startswith("##fileformat=VCF") and "##INFO=<ID=GENE," in annotated.text

    def email():
        messages = requests.get(f"{s3_url}/moto-api/data.json", timeout=30).json()["ses"].get("Message", [])
        return [m for m in messages if m["destinations"]["ToAddresses"] == [user.email]]

    (mail,) = wait_for(email, 120, "the notification email")
    assert f"{base}/annotations/{job_id}" in mail["body"]
