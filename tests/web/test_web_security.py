"""Start-up refusals, CSRF, cookies, headers and per-user isolation of every job route."""

from __future__ import annotations

import pytest
from web_support import completed_job, csrf_token

from gas.core.jobs import new_job_id
from gas.web.app import create_app


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"env": "dev"}, "GAS_LOCAL_SIGNIN=true is refused with GAS_ENV=dev"),
        ({"env": "production"}, "GAS_LOCAL_SIGNIN=true is refused with GAS_ENV=production"),
        ({"web_bind": "0.0.0.0:8080"}, "GAS_LOCAL_SIGNIN=true is refused with GAS_WEB_BIND=0.0.0.0:8080"),
        ({"web_bind": "10.1.2.3:8080"}, "GAS_WEB_BIND=10.1.2.3:8080"),
        ({"web_bind": "unix:/tmp/gas.sock"}, "GAS_WEB_BIND=unix:/tmp/gas.sock"),
        ({"local_signin": False, "globus_client_id": None, "globus_client_secret": None}, "no sign-in configured"),
        ({"globus_client_secret": None}, "must be set together"),
    ],
)
def test_create_app_refuses_unsafe_configuration(settings_factory, capsys, overrides, needle):
    with pytest.raises(SystemExit) as exc:
        create_app(settings_factory(**overrides))
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err


@pytest.mark.parametrize("bind", ["127.0.0.1:8080", "127.0.0.5:9000", "[::1]:8080", "localhost:8080"])
def test_local_signin_allowed_on_loopback_in_local_env(settings_factory, bind):
    assert create_app(settings_factory(web_bind=bind)) is not None


def test_local_signin_absent_when_disabled(settings_factory):
    app = create_app(settings_factory(local_signin=False))
    assert app.test_client().get("/auth/local").status_code == 404


def test_missing_secret_key_exits_with_one_line(monkeypatch, capsys):
    monkeypatch.delenv("GAS_SECRET_KEY", raising=False)
    with pytest.raises(SystemExit) as exc:
        create_app()
    assert exc.value.code == 2
    assert "GAS_SECRET_KEY is required" in capsys.readouterr().err


def test_post_without_csrf_token_is_400(client, sign_in):
    assert client.post("/auth/local", data={"name": "A", "email": "a@example.org"}).status_code == 400
    c, _ = sign_in()
    assert c.post("/auth/logout").status_code == 400
    with c.session_transaction() as s:
        assert "user_id" in s  # still signed in: the forged logout did nothing
    token = csrf_token(c, "/profile")
    assert c.post("/auth/logout", data={"csrf_token": "x" + token[1:]}).status_code == 400


def test_session_cookie_flags_local(client):
    resp = client.post(
        "/auth/local", data={"csrf_token": csrf_token(client, "/auth/local"), "name": "A", "email": "a@example.org"}
    )
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # GAS_ENV=local over http


def test_session_cookie_secure_outside_local(settings_factory):
    app = create_app(settings_factory(env="production", local_signin=False, public_url="https://gas.example.org"))
    resp = app.test_client().get("/auth/globus")
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers(client):
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "form-action 'self' http://127.0.0.1:" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


JOB_ROUTES = [
    "/annotations/{id}",
    "/annotations/{id}/log",
    "/annotations/{id}/download",
    "/api/annotations/{id}",
]


def test_another_users_job_is_404_on_every_route(sign_in, web_aws):
    owner, owner_id = sign_in()
    other, _ = sign_in()
    job_id = completed_job(web_aws, owner_id)
    for route in JOB_ROUTES:
        path = route.format(id=job_id)
        assert other.get(path).status_code == 404, path
        assert owner.get(path).status_code in (200, 302), path
    # Same answer as a job that does not exist at all (nothing to learn from it).
    assert other.get(f"/annotations/{new_job_id()}").status_code == 404
    assert other.get("/annotations/not-a-uuid").status_code == 404
    api_missing = other.get("/api/annotations/not-a-uuid")
    assert api_missing.status_code == 404 and "error" in api_missing.get_json()
    assert job_id not in other.get("/annotations").get_data(as_text=True)


def test_job_routes_need_sign_in(client, sign_in, web_aws):
    _, owner_id = sign_in()
    job_id = completed_job(web_aws, owner_id)
    for route in JOB_ROUTES[:3]:
        resp = client.get(route.format(id=job_id))
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/auth/login")
    assert client.get(f"/api/annotations/{job_id}").status_code == 401


def test_untrusted_names_are_escaped(sign_in, web_aws):
    c, user_id = sign_in(name="<b>Mallory</b>")
    job_id = completed_job(web_aws, user_id, name="<script>alert(1)</script>.vcf")
    for path in (f"/annotations/{job_id}", "/annotations", f"/annotations/{job_id}/log", "/profile"):
        html = c.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<b>Mallory" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.vcf" in c.get(f"/annotations/{job_id}").get_data(as_text=True)


def test_session_cookie_secure_unless_plain_http_outside_production(settings_factory):
    """Dev mode on kind serves plain HTTP (a browser would drop a Secure cookie there);
    production always sets Secure, even if misconfigured with an http:// public URL."""
    for env, url, secure in (
        ("dev", "http://gas.localtest.me", False),
        ("dev", "https://gas.dev.example.org", True),
        ("production", "http://gas.example.org", True),
    ):
        app = create_app(settings_factory(env=env, local_signin=False, public_url=url))
        cookie = app.test_client().get("/auth/globus").headers["Set-Cookie"]
        assert ("Secure" in cookie) is secure, (env, url)
