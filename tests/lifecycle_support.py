"""The job lifecycle as a user drives it through a deployed GAS (dev mode), shared by the kind
end-to-end (tests/kind, through the ingress) and the one-node cluster (tests/cluster, through
the web Service): signed in -> upload (the presigned POST goes to S3 itself) -> annotated ->
log -> download -> email -> archived after retention -> upgrade -> restored -> download.

Signing in: the local sign-in is refused in a cluster (by design) and a Globus sign-in needs
a real Globus app, so the user record is created as a sign-in would create it and the
session cookie is signed with the dev values' secret key (what web sets after a sign-in).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from siteclient import User, job_id_of
from support import ROOT, SAMPLES

from gas.core.components import PROCESSES

# The Deployments of the chart with the dev values: every long-running process, and moto.
DEV_DEPLOYMENTS = {f"gas-{p.name}" for p in PROCESSES if not (p.schedule or p.hook)} | {"gas-moto"}


@dataclass
class Site:
    """A deployed GAS as the test reaches it."""

    base: str  # the public URL (GAS_PUBLIC_URL): http://gas.localtest.me
    aws_endpoint: str  # moto as the test reaches it (its S3, DynamoDB, SES store)
    cookie_domain: str
    secret_key: str = field(
        default_factory=lambda: yaml.safe_load((ROOT / "k8s" / "values-dev.yaml").read_text())["secrets"]["secretKey"]
    )
    prefix: str = "gas"
    timings: dict[str, float] = field(default_factory=dict)

    def aws(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def job_item(self, job_id: str) -> dict:
        item = self.aws("dynamodb").get_item(TableName=f"{self.prefix}-jobs", Key={"job_id": {"S": job_id}})["Item"]
        return {k: next(iter(v.values())) for k, v in item.items()}


@contextlib.contextmanager
def resolving(resolve: Callable[[str], str | None]) -> Iterator[None]:
    """Make every connection of requests/boto3 (urllib3) resolve host names with `resolve`
    (None: the system resolver) - the site's names without touching /etc/hosts."""
    import urllib3.util.connection as connection

    real = connection.create_connection

    def create_connection(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        host, port = address
        return real((resolve(host) or host, port), *args, **kwargs)

    connection.create_connection = create_connection
    try:
        yield
    finally:
        connection.create_connection = real


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}: {last!r}")


def signed_in_user(site: Site, name: str = "Cluster Tester") -> User:
    """A user as a sign-in leaves them: the users-table record and the signed session cookie."""
    from flask import Flask

    from gas.core.aws import Aws
    from gas.core.config import CoreSettings
    from gas.core.users import UserStore

    user = User(site.base, name=name)
    user_id = f"e2e-{uuid.uuid4().hex[:12]}"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    settings = CoreSettings(prefix=site.prefix, AWS_ENDPOINT_URL=site.aws_endpoint, AWS_REGION="us-east-1")
    profile = UserStore(Aws(settings)).upsert(user_id, user.name, user.email)
    signer = Flask("e2e-test")
    signer.secret_key = site.secret_key
    # what web's sign-in puts in the session (gas.web.auth._sign_in)
    cookie = signer.session_interface.get_signing_serializer(signer).dumps(  # type: ignore[attr-defined]
        {"user_id": user_id, "generation": profile.session_generation, "_permanent": True}
    )
    user.http.cookies.set("gas_session", cookie, domain=site.cookie_domain)
    # what a browser sends with a same-origin form post: over HTTPS Flask-WTF refuses a POST
    # without a Referer of the site (its strict SSL check)
    user.http.headers["Referer"] = f"{site.base}/"
    user.user_id = user_id  # type: ignore[attr-defined]
    assert user.name in user.get("/profile").text
    return user


def submit(user: User, site: Site, name: str, content: bytes) -> str:
    """Upload through the presigned POST (the browser posts to S3 itself) and follow S3's redirect."""
    form = user.upload_form()
    s3 = user.post_to_s3(form, name, content)
    assert s3.status_code in (302, 303), s3.text[:500]
    assert s3.headers["Location"].startswith(site.base + "/annotations/new?"), s3.headers["Location"]
    return job_id_of(user.http.get(s3.headers["Location"], timeout=60))


def emails_to(site: Site, address: str) -> list[dict]:
    messages = requests.get(f"{site.aws_endpoint}/moto-api/data.json", timeout=30).json()["ses"].get("Message", [])
    return [m for m in messages if m["destinations"]["ToAddresses"] == [address]]


def download(user: User, job_id: str) -> str:
    resp = user.get(f"/annotations/{job_id}/download", allow_redirects=False)
    assert resp.status_code in (302, 303), (resp.status_code, resp.text[:300])
    annotated = requests.get(resp.headers["Location"], timeout=60)
    assert annotated.ok and annotated.text.startswith("##fileformat=VCF"), annotated.text[:300]
    return annotated.text


def body_lines(vcf: str) -> list[str]:
    return [line for line in vcf.splitlines() if line and not line.startswith("#")]


def job_lifecycle(site: Site, archive_timeout: float = 600, restore_timeout: float = 600) -> dict[str, Any]:
    """The whole lifecycle of one free user's job, then the upgrade that restores it.
    Returns the user (premium by then) and the figures."""
    t0 = time.monotonic()
    user = signed_in_user(site)
    sample = (Path(SAMPLES) / "free_1.vcf").read_text()
    job_id = submit(user, site, "free_1.vcf", sample.encode())
    job = user.wait_finished(job_id, timeout=600)
    assert job["status"] == "COMPLETED", job
    site.timings["submit -> COMPLETED (s)"] = round(time.monotonic() - t0, 1)

    log = user.get(f"/annotations/{job_id}/log")
    assert log.ok and "1141" in log.text.replace(",", "")
    annotated = download(user, job_id)
    assert "##INFO=<ID=GENE," in annotated and len(body_lines(annotated)) == len(body_lines(sample)) == 1141
    (mail,) = wait_for(lambda: emails_to(site, user.email), 180, "the notification email")
    assert f"{site.base}/annotations/{job_id}" in mail["body"] and "free_1.vcf" in mail["subject"]

    # free tier: the result goes to cold storage once retention has passed
    wait_for(lambda: user.job(job_id)["storage"] == "ARCHIVED", archive_timeout, "the result archived")
    site.timings["submit -> ARCHIVED (s)"] = round(time.monotonic() - t0, 1)
    assert user.get(f"/annotations/{job_id}/download", allow_redirects=False).status_code == 409

    # upgrade: the restore brings it back
    token = user.csrf_token("/subscribe")
    assert user.http.post(f"{site.base}/subscribe", data={"csrf_token": token}, timeout=30).ok
    t1 = time.monotonic()
    wait_for(lambda: user.job(job_id)["storage"] == "HOT", restore_timeout, "the result restored")
    site.timings["upgrade -> restored (s)"] = round(time.monotonic() - t1, 1)
    assert body_lines(download(user, job_id)) == body_lines(annotated)
    assert "premium" in user.get("/profile").text.lower()
    site.timings["lifecycle total (s)"] = round(time.monotonic() - t0, 1)
    return {"user": user, "job_id": job_id}


def large_vcf(min_variants: int) -> tuple[bytes, int]:
    """A big VCF made of the premium sample's records repeated (a long job, for a kill test)."""
    text = (Path(SAMPLES) / "premium_2.vcf").read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    body = body_lines(text)
    copies = -(-min_variants // len(body))
    return ("\n".join(header + body * copies) + "\n").encode(), len(body) * copies


def count_in(text: str, pattern: str) -> int:
    return len(re.findall(pattern, text))
