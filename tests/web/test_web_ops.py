"""Health, readiness against moto (and without it), metrics, request ids, static assets; and
through gunicorn over HTTP: the ops port, trusted proxies, HSTS, readiness through an AWS hiccup."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from support import TcpProxy
from web_ops_support import GunicornWeb, anonymous_csrf
from web_support import SECRET, closed_port

from gas.web.app import create_app
from gas.web.ops import Readiness


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_readyz_with_moto(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["checks"] == {"dynamodb": "ok", "s3": "ok"}


def test_readyz_503_when_endpoint_down(settings_factory):
    app = create_app(settings_factory(AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}"))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    checks = resp.get_json()["checks"]
    assert checks["dynamodb"] != "ok" and checks["s3"] != "ok"


def test_readyz_503_when_resources_missing(settings_factory):
    app = create_app(settings_factory(prefix="never-provisioned"))
    assert app.test_client().get("/readyz").status_code == 503


def test_metrics_count_requests_by_route_template(client, sign_in):
    c, _ = sign_in()
    c.get("/annotations/00000000-0000-0000-0000-000000000000")  # 404 on a templated route
    client.get("/healthz")
    client.get("/no/such/page")
    text = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'gas_web_requests_total\{method="GET",route="/healthz",status="200"\} [1-9]', text)
    assert re.search(r'gas_web_requests_total\{method="GET",route="/annotations/<job_id>",status="404"\} [1-9]', text)
    assert 'route="<unmatched>",status="404"' in text
    assert "/no/such/page" not in text  # raw paths never become labels
    assert "gas_web_request_duration_seconds_bucket" in text


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id <with spaces>"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_request_log_line_is_json_with_request_and_user_id(sign_in, capsys):
    import json

    c, user_id = sign_in()
    capsys.readouterr()
    c.get("/profile", headers={"X-Request-ID": "req-42"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry.get("event") == "http.request"]
    assert access and access[-1]["request_id"] == "req-42" and access[-1]["user_id"] == user_id
    assert access[-1]["route"] == "/profile" and access[-1]["status"] == 200


def test_bootstrap_and_scripts_are_served_locally(client):
    html = client.get("/").get_data(as_text=True)
    assert "cdn" not in html.lower() and "jsdelivr" not in html
    css = re.search(r'href="(/bootstrap/static/[^"]+\.css)"', html).group(1)
    js = re.search(r'src="(/bootstrap/static/[^"]+\.js)"', html).group(1)
    assert client.get(css).status_code == 200 and client.get(js).status_code == 200
    assert b"safeFilename" in client.get("/static/upload.js").data


def test_unhandled_error_is_a_500_page_and_one_json_log_line(app, sign_in, monkeypatch, capsys):
    import json

    from gas.core.jobs import new_job_id

    c, _ = sign_in()
    jobs = app.extensions["gas"].jobs

    def broken(*_a, **_k):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(jobs, "list_for_user", broken)
    monkeypatch.setattr(jobs, "get_for_user", broken)
    capsys.readouterr()
    resp = c.get("/annotations")
    assert resp.status_code == 500 and "database on fire" not in resp.get_data(as_text=True)
    api = c.get(f"/api/annotations/{new_job_id()}")
    assert api.status_code == 500 and "error" in api.get_json() and "database on fire" not in api.get_data(as_text=True)
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    crash = [e for e in entries if e["event"] == "http.unhandled_exception"]
    assert crash and "database on fire" in crash[0]["exception"] and crash[0]["request_id"]


# --- through gunicorn over HTTP: ops port, trusted proxies, HSTS, readiness --------------


def _server_env(web_aws, endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "GAS_ENV": "production",
        "GAS_PREFIX": web_aws.settings.prefix,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "GAS_SECRET_KEY": SECRET,
        "GAS_GLOBUS_CLIENT_ID": "gas-test-client",
        "GAS_GLOBUS_CLIENT_SECRET": "gas-test-secret",
        "GAS_PUBLIC_URL": "https://gas.example.org",
        **extra,
    }


@pytest.fixture(scope="module")
def moto_proxy(moto_url):
    proxy = TcpProxy("127.0.0.1", int(moto_url.rsplit(":", 1)[1]))
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def prod_web(web_aws, moto_proxy, tmp_path_factory):
    """Production gas-web behind a proxy it trusts (loopback), AWS through the cuttable proxy;
    readiness checked on every probe (no cache) with a 3 s grace."""
    env = _server_env(
        web_aws,
        moto_proxy.url,
        GAS_WEB_FORWARDED_ALLOW_IPS="127.0.0.1",
        GAS_READYZ_CACHE_SECONDS="0",
        GAS_READYZ_GRACE_SECONDS="3",
    )
    server = GunicornWeb(env, tmp_path_factory.mktemp("prod-web"))
    yield server
    server.stop()


def test_ops_endpoints_only_on_the_ops_port(prod_web):
    assert requests.get(f"{prod_web.ops_url}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{prod_web.ops_url}/readyz", timeout=5).status_code == 200
    requests.get(f"{prod_web.url}/", timeout=5)
    metrics = requests.get(f"{prod_web.ops_url}/metrics", timeout=5)
    assert metrics.status_code == 200 and 'gas_web_requests_total{method="GET",route="/"' in metrics.text
    # the public port (what the Ingress routes) serves no ops endpoint ...
    for path in ("/metrics", "/readyz", "/healthz"):
        assert requests.get(f"{prod_web.url}{path}", timeout=5).status_code == 404, path
    assert requests.get(f"{prod_web.url}/", timeout=5).status_code == 200
    # ... and the ops port none of the site
    for path in ("/", "/auth/login", "/static/upload.js"):
        assert requests.get(f"{prod_web.ops_url}{path}", timeout=5).status_code == 404, path


def test_hsts_in_production_only(prod_web, client):
    assert requests.get(f"{prod_web.url}/", timeout=5).headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains"
    )
    assert "Strict-Transport-Security" not in client.get("/").headers  # GAS_ENV=local


def _logout(server: GunicornWeb, settings_factory, **headers: str) -> requests.Response:
    settings = settings_factory(env="production", public_url="https://gas.example.org", local_signin=False)
    cookie, token = anonymous_csrf(settings)
    return requests.post(
        f"{server.url}/auth/logout",
        data={"csrf_token": token},
        headers={"Cookie": f"gas_session={cookie}", **headers},
        allow_redirects=False,
        timeout=5,
    )


def test_trusted_proxy_makes_requests_secure_and_the_referer_check_run(prod_web, settings_factory):
    """X-Forwarded-Proto: https from the trusted proxy -> request.is_secure -> Flask-WTF's
    HTTPS-only Referer check runs (it never ran in the cluster before)."""
    https = {"X-Forwarded-Proto": "https"}
    no_referer = _logout(prod_web, settings_factory, **https)
    assert no_referer.status_code == 400 and "referrer header is missing" in no_referer.text
    foreign = _logout(prod_web, settings_factory, Referer="https://evil.example/", **https)
    assert foreign.status_code == 400 and "does not match" in foreign.text
    same_site = _logout(prod_web, settings_factory, Referer=f"https://127.0.0.1:{prod_web.port}/profile", **https)
    assert same_site.status_code == 302
    # plain HTTP (no forwarded proto): no Referer check
    assert _logout(prod_web, settings_factory).status_code == 302


def test_untrusted_proxy_headers_are_ignored(web_aws, moto_url, settings_factory, tmp_path):
    server = GunicornWeb(_server_env(web_aws, moto_url, GAS_WEB_FORWARDED_ALLOW_IPS="10.255.255.1"), tmp_path)
    try:
        # a client that is not the trusted proxy cannot claim HTTPS: is_secure stays false
        assert _logout(server, settings_factory, **{"X-Forwarded-Proto": "https"}).status_code == 302
    finally:
        server.stop()


def test_readiness_rides_out_a_short_aws_hiccup(prod_web, moto_proxy):
    ready = f"{prod_web.ops_url}/readyz"
    assert requests.get(ready, timeout=5).json()["status"] == "ready"
    moto_proxy.cut = True
    try:
        during = requests.get(ready, timeout=10)
        body = during.json()
        assert during.status_code == 200 and body["status"] == "ready", body
        assert body["checks"]["dynamodb"] != "ok" and body["failing_for_seconds"] >= 0
        deadline = time.monotonic() + 15
        while (resp := requests.get(ready, timeout=10)).status_code == 200:
            assert time.monotonic() < deadline, "still ready long after the grace period"
            time.sleep(0.5)
        assert resp.status_code == 503 and resp.json()["status"] == "not ready"
        assert resp.json()["failing_for_seconds"] > 3
    finally:
        moto_proxy.cut = False
    assert requests.get(ready, timeout=10).status_code == 200


def test_readiness_check_is_cached_and_never_ready_before_a_pass():
    calls: list[float] = []
    now = [100.0]
    results = [{"dynamodb": "EndpointConnectionError"}, {"dynamodb": "ok"}, {"dynamodb": "ClientError"}]

    def check() -> dict[str, str]:
        calls.append(now[0])
        return results[min(len(calls) - 1, len(results) - 1)]

    readiness = Readiness(check, cache_seconds=5, grace_seconds=60, clock=lambda: now[0])
    assert readiness.status()[0] is False  # never passed: not ready
    now[0] += 1
    assert readiness.status()[0] is False and len(calls) == 1  # cached for 5 s
    now[0] += 5
    assert readiness.status()[0] is True and len(calls) == 2
    now[0] += 5
    ready, body = readiness.status()
    assert ready and body["checks"] == {"dynamodb": "ClientError"} and body["failing_for_seconds"] == 5
    now[0] += 61
    assert readiness.status()[0] is False and len(calls) == 4


def test_ops_port_must_differ_from_the_public_port(web_aws, moto_url, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GAS_", "AWS_"))},
        **_server_env(web_aws, moto_url),
        "GAS_WEB_BIND": "127.0.0.1:8181",
        "GAS_WEB_OPS_BIND": "0.0.0.0:8181",
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "gas-web")], env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2 and "GAS_WEB_OPS_BIND=0.0.0.0:8181 must use another port" in proc.stderr
