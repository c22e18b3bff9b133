"""`helm test` with tests.probe.enabled: one job round trip through the queue, the way a
pipeline submits one (docs/api.md): upload by presigned POST -> job created -> job.requested
through SNS and the annotate queue -> annotated by a worker -> COMPLETED -> the annotated VCF
downloaded and checked -> the job deleted. It authenticates with a personal access token of a
probe user (tests.probe.tokenSecret): no AWS credentials, no Kubernetes API access. The file is
one synthetic record (no research data). Stdlib only; runs in the web image (gas.core.vocab)."""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

from gas.core.vocab import INFO_IDS

BASE = os.environ["GAS_PROBE_URL"].rstrip("/")
TOKEN = os.environ["GAS_PROBE_TOKEN"].strip()
DEADLINE = time.monotonic() + float(os.environ.get("GAS_PROBE_TIMEOUT_SECONDS", "300"))
RECORD = "1\t100000\t.\tA\tG\t50\tPASS\t."
VCF = f"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n{RECORD}\n".encode()


def call(method, path, body=None, headers=None, attempts=5):
    """One API call; connection errors and 5xx are retried (web may still be rolling)."""
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json", **(headers or {})}
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    for attempt in range(attempts):
        req = urllib.request.Request(BASE + path, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == attempts - 1:
                detail = exc.read(500).decode(errors="replace")
                raise SystemExit(f"probe: {method} {path} -> {exc.code} {detail}") from None
        except OSError as exc:
            if attempt == attempts - 1:
                raise SystemExit(f"probe: {method} {path} -> {exc}") from None
        time.sleep(3)
    raise AssertionError("unreachable")


def post_form(url, fields, name, content):
    """A presigned POST (multipart: every field, then the file), as a browser sends it."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(url, data=b"".join(parts), method="POST")
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None  # S3 answers 303 to the site: the upload is done, nothing to follow

    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        if exc.code in (200, 201, 204, 303):
            return exc.code
        raise SystemExit(f"probe: upload to S3 -> {exc.code} {exc.read(500).decode(errors='replace')}") from None


def main():
    t0 = time.monotonic()
    _, me = call("GET", "/api/v1/me")
    print(f"probe: a {me['token']['kind']} token, scopes {me['token']['scopes']}", flush=True)
    _, upload = call("POST", "/api/v1/uploads", {"file_name": "helm-test-probe.vcf", "size": len(VCF)})
    print(f"probe: uploaded ({post_form(upload['url'], upload['fields'], 'helm-test-probe.vcf', VCF)})", flush=True)
    key = str(uuid.uuid4())
    _, job = call("POST", "/api/v1/jobs", {"upload_id": upload["upload_id"], "name": "helm test probe"},
                  headers={"Idempotency-Key": key})  # fmt: skip
    job_id = job["job_id"]
    try:
        while job["status"] not in ("COMPLETED", "FAILED", "CANCELLED"):
            if time.monotonic() > DEADLINE:
                raise SystemExit(f"probe: job {job_id} still {job['status']} at the deadline: the queue is stuck")
            time.sleep(2)
            _, job = call("GET", f"/api/v1/jobs/{job_id}")
        if job["status"] != "COMPLETED":
            raise SystemExit(f"probe: job {job_id} {job['status']}: {job.get('error')}")
        _, result = call("GET", f"/api/v1/jobs/{job_id}/result")
        with urllib.request.urlopen(result["url"], timeout=60) as resp:
            annotated = resp.read().decode()
        records = [line for line in annotated.splitlines() if line and not line.startswith("#")]
        missing = [i for i in INFO_IDS if f"##INFO=<ID={i}," not in annotated]
        if len(records) != 1 or not records[0].startswith("1\t100000\t") or missing:
            raise SystemExit(f"probe: the annotated file is wrong: {len(records)} records, INFO missing {missing}")
        print(f"probe: job {job_id} COMPLETED and annotated in {time.monotonic() - t0:.1f} s", flush=True)
    finally:
        status, _ = call("DELETE", f"/api/v1/jobs/{job_id}")
        print(f"probe: job {job_id} deleted ({status})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
