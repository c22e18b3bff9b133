"""An HTTP client that uses the site the way a browser does: sign in with the local
sign-in, fill the upload form, POST the file straight to S3, follow the redirect.
Shared by the stack tests and the benchmarks."""

from __future__ import annotations

import re
import time
import uuid
from html.parser import HTMLParser
from urllib.parse import quote

import requests


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "method": attrs.get("method", "get"), "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def forms_of(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class User:
    """A signed-in user driving the site over HTTP, as a browser would."""

    def __init__(self, base: str, name: str | None = None, email: str | None = None):
        self.base = base
        self.http = requests.Session()
        self.name = name or f"Tester {uuid.uuid4().hex[:6]}"
        self.email = email or f"{uuid.uuid4().hex[:10]}@example.org"

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.base + path, timeout=30, **kw)

    def csrf_token(self, path: str) -> str:
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.get(path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def sign_in(self) -> User:
        token = self.csrf_token("/auth/local")
        resp = self.http.post(
            self.base + "/auth/local", data={"name": self.name, "email": self.email, "csrf_token": token}, timeout=30
        )
        assert resp.ok and self.name in self.get("/profile").text
        return self

    def job_ids(self) -> list[str]:
        """The jobs on the first page of the user's job list, newest first."""
        return re.findall(r'<tr data-job-id="([^"]+)"', self.get("/annotations").text)

    def upload_form(self) -> dict:
        page = self.get("/annotate")
        assert page.ok, page.text
        (form,) = [f for f in forms_of(page.text) if "key" in f["fields"]]
        return form

    def post_to_s3(
        self, form: dict, file_name: str, content: bytes, assembly: str | None = None, name: str | None = None
    ) -> requests.Response:
        fields = dict(form["fields"])
        fields["key"] = fields["key"].replace("${filename}", "") + file_name  # what the page's JS does
        fields.pop("file", None)
        if assembly is not None:  # the form's assembly choice (a <select>, so not in `fields`)
            fields["x-amz-meta-assembly"] = assembly
        if name is not None:  # upload.js percent-encodes the job name
            fields["x-amz-meta-job-name"] = quote(name)
        return requests.post(
            form["action"], data=fields, files={"file": (file_name, content)}, allow_redirects=False, timeout=60
        )

    def submit(
        self, file_name: str, content: bytes, assembly: str | None = None, name: str | None = None
    ) -> requests.Response:
        """Upload through the presigned POST and follow S3's redirect back to the site."""
        s3 = self.post_to_s3(self.upload_form(), file_name, content, assembly, name)
        assert s3.status_code in (303, 302), s3.text
        return self.http.get(s3.headers["Location"], timeout=30)

    def job(self, job_id: str) -> dict:
        resp = self.get(f"/api/annotations/{job_id}")
        assert resp.ok, resp.text
        return resp.json()

    def wait_finished(self, job_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] in ("COMPLETED", "FAILED"):
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
            time.sleep(0.2)

    def wait_storage(self, job_id: str, storage: str, timeout: float = 60) -> dict:
        """Until the job's result is in `storage` (HOT, ARCHIVED, RESTORING), as the API says."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job.get("storage") == storage:
                return job
            assert time.monotonic() < deadline, f"job {job_id} is {job.get('storage')}, not {storage}"
            time.sleep(0.5)

    def upgrade(self) -> None:
        """Profile -> Upgrade to premium: the form's POST (the archiver then restores)."""
        token = self.csrf_token("/subscribe")
        resp = self.http.post(self.base + "/subscribe", data={"csrf_token": token}, timeout=30)
        assert resp.ok and 'id="profile-tier">premium<' in self.get("/profile").text, resp.text[:300]


def job_id_of(resp: requests.Response) -> str:
    match = re.search(r"/annotations/([0-9a-f-]{36})$", resp.url)
    assert match, f"not on a job page: {resp.url} {resp.status_code} {resp.text[:300]}"
    return match.group(1)
