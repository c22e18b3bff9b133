"""AWS sometimes has no expedited retrieval capacity. moto never says so, so the restore
consumer talks to moto through a small HTTP proxy that answers expedited requests the
way AWS does when capacity is out (S3: 503 GlacierExpeditedRetrievalNotAvailable;
Glacier: InsufficientCapacityException)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests


class _Proxy(BaseHTTPRequestHandler):
    upstream = ""
    refused: list[str] = []

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "POST" and "restore" in self.path and b"<Tier>Expedited</Tier>" in body:
            self.refused.append("s3")
            return self._reply(
                503,
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>GlacierExpeditedRetrievalNotAvailable</Code>'
                b"<Message>Glacier expedited retrievals are currently not available</Message></Error>",
                "application/xml",
            )
        if (
            self.command == "POST"
            and self.path.endswith("/jobs")
            and b'"Tier": "Expedited"' in body.replace(b'"Tier":"', b'"Tier": "')
        ):
            self.refused.append("glacier")
            return self._reply(
                400,
                b'{"code":"InsufficientCapacityException","message":"Insufficient capacity","type":"Client"}',
                "application/json",
                {"x-amzn-ErrorType": "InsufficientCapacityException"},
            )
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        resp = requests.request(
            self.command, self.upstream + self.path, headers=headers, data=body, allow_redirects=False, timeout=30
        )
        skip = {"content-length", "transfer-encoding", "connection", "content-encoding"}
        self._reply(
            resp.status_code, resp.content, None, {k: v for k, v in resp.headers.items() if k.lower() not in skip}
        )

    def _reply(self, status, body, ctype, headers=None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_proxy(moto_url):
    handler = type("Proxy", (_Proxy,), {"upstream": moto_url, "refused": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.refused
    server.shutdown()


@pytest.mark.parametrize("backend", ["harness", "vault_harness"])
def test_restore_falls_back_to_standard_when_expedited_is_unavailable(request, backend, refusing_proxy):
    h = request.getfixturevalue(backend)
    proxy_url, refused = refusing_proxy
    user = h.user("free")
    job = h.completed_job(user)
    h.start("archive")
    h.wait_storage(job, "ARCHIVED", timeout=20)
    h.start("restore", AWS_ENDPOINT_URL=proxy_url)
    h.start("thaw")
    h.upgrade(user)
    record = h.wait_storage(job, "RESTORING", timeout=30)
    assert record.restore_tier == "Standard"
    assert refused and set(refused) == {"glacier" if backend == "vault_harness" else "s3"}
    h.wait_storage(job, "HOT", timeout=60)
    assert h.hot_intact(job)
