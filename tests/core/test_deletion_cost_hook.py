"""A service's worker keeps its own pod's deletion cost through the worker loop's hooks:
gas-notifier, as the chart runs it (GAS_POD_DELETION_COST and the downward API), against a
stand-in API server over HTTPS that records each PATCH. (The chart's Role and admission
policy against a real API server: tests/operator/test_pod_deletion_cost.py.)"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support import BIN

from gas.core.deletion_cost import ANNOTATION


def _certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1: the pod's ca.crt and the server's own."""
    key, crt = tmp_path / "api.key", tmp_path / "ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, crt


def _api_server(key, crt):
    patches: list[tuple[str, str, str, dict]] = []

    class Api(BaseHTTPRequestHandler):
        def do_PATCH(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            patches.append((self.path, self.headers["Authorization"], self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(str(crt), str(key))
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, patches


def test_the_notifier_marks_its_pod_busy_while_it_works_and_idle_after(provisioned, aws_env, tmp_path):
    key, crt = _certificate(tmp_path)
    (tmp_path / "token").write_text("pod-token\n")
    server, patches = _api_server(key, crt)
    env = {
        **aws_env,
        "GAS_POD_DELETION_COST": "true",
        "GAS_KUBERNETES_API_URL": f"https://127.0.0.1:{server.server_port}",
        "GAS_POD_NAME": "gas-notifier-abc",
        "GAS_POD_NAMESPACE": "gas",
        "GAS_SERVICE_ACCOUNT_DIR": str(tmp_path),
        "GAS_RECEIVE_WAIT_SECONDS": "1",
        "GAS_METRICS_PORT": "0",
        "GAS_DLQ_POLL_SECONDS": "0",
    }
    proc = subprocess.Popen([str(BIN / "gas-notifier")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    costs = lambda: [p[3]["metadata"]["annotations"][ANNOTATION] for p in patches]  # noqa: E731

    def wait_for(want):
        deadline = time.monotonic() + 30
        while costs() != want:
            assert time.monotonic() < deadline and proc.poll() is None, costs()
            time.sleep(0.05)

    try:
        wait_for(["0"])  # the first poll found nothing
        sqs = provisioned.client("sqs")
        sqs.send_message(QueueUrl=provisioned.queue_url(provisioned.names.queue("notify")), MessageBody="not an event")
        wait_for(["0", "1000", "0"])  # took the message (dead-lettered: still work), then idle again
        time.sleep(2.5)
        assert costs() == ["0", "1000", "0"]  # two calls per burst of work, none per poll
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        server.shutdown()
    assert {(path, auth, kind) for path, auth, kind, _ in patches} == {
        ("/api/v1/namespaces/gas/pods/gas-notifier-abc", "Bearer pod-token", "application/merge-patch+json")
    }, out.decode()[-2000:]
