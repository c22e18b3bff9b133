"""Health, readiness against moto (and without it), metrics, request ids, static assets."""

from __future__ import annotations

import re

from web_support import closed_port

from gas.web.app import create_app


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

    c, _ = sign_in()
    jobs = app.extensions["gas"].jobs

    def broken(*_a, **_k):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(jobs, "list_for_user", broken)
    capsys.readouterr()
    resp = c.get("/annotations")
    assert resp.status_code == 500 and "database on fire" not in resp.get_data(as_text=True)
    api = c.get("/api/annotations")
    assert api.status_code == 500 and "error" in api.get_json()
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    crash = [e for e in entries if e["event"] == "http.unhandled_exception"]
    assert crash and "database on fire" in crash[0]["exception"] and crash[0]["request_id"]
