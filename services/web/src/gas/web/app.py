"""The Flask application factory (gunicorn: 'gas.web.app:create_app()')."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from flask import Flask, g, jsonify, render_template, request
from flask_bootstrap import Bootstrap5
from flask_openapi3 import OpenAPI
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from gas.core.aws import Aws
from gas.core.config import load_settings, refuse
from gas.core.jobs import JobStore
from gas.core.observability import configure_logging
from gas.core.tokens import TokenStore
from gas.core.users import UserStore
from gas.web import api_v1, auth, filters, jobs, ops, profile
from gas.web.api_v1.bearer import Authenticator
from gas.web.api_v1.problems import from_http_exception
from gas.web.context import Services, after_response, load_user
from gas.web.samples import JobGenotypes
from gas.web.settings import WebSettings, startup_problem
from gas.web.variants import ResultCache, VariantStore

log = structlog.get_logger()


def _s3_origin(services: Services) -> str:
    """Where the browser POSTs uploads (for the CSP form-action)."""
    parts = urlsplit(services.browser_s3.meta.endpoint_url)
    return f"{parts.scheme}://{parts.netloc}"


def create_app(settings: WebSettings | None = None) -> Flask:
    if settings is None:
        settings = load_settings(WebSettings)
    problem = startup_problem(settings)
    if problem:
        refuse(problem)
    configure_logging("web", settings.log_level)

    # flask-openapi3's Flask: /api/v1's operations are validated and documented from
    # their pydantic models; every other route is plain Flask.
    app = OpenAPI(__name__, **api_v1.app_options())
    # Secure cookies except where the site itself is plain HTTP outside production (the
    # laptop stack, dev mode on kind): a browser would never send them back there.
    secure_cookie = not (settings.env in ("local", "dev") and settings.public_url.startswith("http://"))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="gas_session",
        SESSION_COOKIE_SECURE=secure_cookie,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        # Bootstrap's CSS/JS come from the bootstrap-flask wheel, served by this app.
        BOOTSTRAP_SERVE_LOCAL=True,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=secure_cookie,
        MAX_CONTENT_LENGTH=64 * 1024,  # uploads go to S3, never through us
    )
    if settings.web_proxy_hops:
        # The client address (API lookup limit) from the last N X-Forwarded-For entries,
        # the ones our own proxies appended; anything before them is the client's to forge.
        # X-Forwarded-Proto stays gunicorn's (GAS_WEB_FORWARDED_ALLOW_IPS).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.web_proxy_hops, x_proto=0)  # type: ignore[method-assign]
    aws = Aws(settings)
    tokens, users = TokenStore(aws), UserStore(aws)
    cache = ResultCache(settings.result_cache_dir, settings.result_cache_bytes)
    svc = Services(
        settings=settings,
        aws=aws,
        jobs=JobStore(aws),
        users=users,
        tokens=tokens,
        authenticator=Authenticator(settings, tokens, users),
        variants=VariantStore(
            aws.client("s3"), aws.names.results_bucket, cache, genotypes=JobGenotypes, defer=after_response
        ),
    )
    app.extensions["gas"] = svc
    csrf = CSRFProtect(app)
    Bootstrap5(app)
    for module in (profile, auth, jobs, ops, filters):
        app.register_blueprint(module.bp)
    api_v1.register(app, csrf)
    app.before_request(load_user)
    ops.install_request_hooks(app)
    _install_security_headers(app, _s3_origin(svc))
    _install_error_pages(app)
    # Unhandled exceptions as one JSON log line (with request id) instead of a bare traceback.
    app.log_exception = lambda exc_info: log.error("http.unhandled_exception", exc_info=exc_info)  # type: ignore[method-assign]
    app.jinja_env.filters["when"] = _when
    app.context_processor(
        lambda: {
            "limits": {"free": settings.free_upload_limit, "premium": settings.premium_upload_limit},
            "current_user": g.get("user"),
        }
    )
    return app


def warm_up(app: Flask) -> None:
    """Load in a new worker what its first results page would otherwise load on a user's
    request (gunicorn's post_worker_init): the HPO artifact (~0.13 s of CPU) and the
    compiled templates of the job and table pages (decision 105: the first open)."""
    from gas.core.phenotypes import load

    load()
    for name in ("jobs/annotation.html", "jobs/variants.html"):
        app.jinja_env.get_template(name)


def _when(value: str | None) -> str:
    """'2026-11-28T17:53:59.123Z' -> '2026-11-28 17:53:59 UTC'."""
    if not value:
        return "—"
    return value.replace("T", " ")[:19] + " UTC"


def _install_security_headers(app: Flask, s3_origin: str) -> None:
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action 'self' {s3_origin}; frame-ancestors 'none'; "
        "base-uri 'self'; object-src 'none'"
    )

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(("/annotations", "/api/", "/profile", "/annotate")):
            response.headers.setdefault("Cache-Control", "no-store")  # per-user pages
        return response


def _install_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return render_template(
            "error.html",
            code=400,
            message=f"The form expired or was not sent from this site ({exc.description}). Please try again.",
        ), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        code = exc.code or 500
        if request.path.startswith(api_v1.PREFIX + "/"):
            return from_http_exception(exc)
        if request.path.startswith("/api/"):
            return jsonify(error=exc.description or exc.name), code
        return render_template("error.html", code=code, message=exc.description or exc.name), code
