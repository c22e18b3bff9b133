"""Sign in with Globus Auth (authorization-code flow), or with the local sign-in on the
laptop stack; sign out revokes the Globus tokens and clears the session."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import globus_sdk
import structlog
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from gas.web.context import current_user_id, services

bp = Blueprint("auth", __name__, url_prefix="/auth")
log = structlog.get_logger()

SCOPES = ["openid", "email", "profile"]
AUTH_RESOURCE_SERVER = "auth.globus.org"
# Local user ids are stable per email: uuid5 in a namespace of our own.
LOCAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:gas:local-signin")
EMAIL_MAX = 254


def valid_email(email: str) -> bool:
    """One @, something before it, a dot inside the domain, no spaces; at most 254
    characters, checked first. No regular expression: one linear pass (the old pattern
    backtracked for 23 s on `a@` + 64,000 dots + `@`)."""
    if len(email) > EMAIL_MAX or any(c.isspace() for c in email):
        return False
    local, _, domain = email.partition("@")
    return bool(local) and "@" not in domain and "." in domain[1:-1]


def local_user_id(email: str) -> str:
    return "local:" + str(uuid.uuid5(LOCAL_NAMESPACE, email.strip().lower()))


def _safe_next(target: str | None) -> str:
    """`target` when it is a path of this site, else the job list.

    An open redirect would make our sign-in a phishing aid. Browsers (and Werkzeug)
    drop tabs and newlines from URLs and read a backslash as a slash, so a path such as
    "/\\t/evil.example" becomes "//evil.example" on the way out: refuse any control
    character or backslash, then accept only what parses as a path with no scheme and
    no host, and rebuild the URL from its parts."""
    default = url_for("jobs.list_jobs")
    if not target or len(target) > 2048 or "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return default
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def _globus_client() -> globus_sdk.ConfidentialAppAuthClient:
    s = services().settings
    assert s.globus_client_id and s.globus_client_secret  # routes check globus_enabled first
    # One client per request: the flow manager lives on the client object.
    return globus_sdk.ConfidentialAppAuthClient(s.globus_client_id, s.globus_client_secret)


def _redirect_uri() -> str:
    return services().settings.public_url + url_for("auth.callback")


def _token_box() -> Fernet:
    """The session cookie is signed, not secret: the Globus tokens kept for sign-out are
    encrypted in it with a key derived from GAS_SECRET_KEY (HKDF, its own purpose label)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"gas web: globus tokens in the session").derive(
        services().settings.secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _sealed_tokens() -> list[str]:
    sealed = session.get("tokens")
    if not sealed:
        return []
    try:
        return json.loads(_token_box().decrypt(sealed.encode()))
    except (InvalidToken, AttributeError, ValueError):
        log.warning("auth.tokens_unreadable")  # e.g. GAS_SECRET_KEY rotated: they expire on their own
        return []


def _sign_in(user_id: str, name: str, email: str, tokens: list[str] | None = None) -> None:
    user = services().users.upsert(user_id, name, email)
    # A fresh session on sign-in: nothing from before (e.g. a planted cookie) carries over.
    session.clear()
    session.permanent = True
    session.update(user_id=user_id, generation=user.session_generation)
    if tokens:
        session["tokens"] = _token_box().encrypt(json.dumps(tokens).encode()).decode()
    structlog.contextvars.bind_contextvars(user_id=user_id)
    log.info("auth.signed_in", method="globus" if tokens else "local")


@bp.get("/login")
def login() -> Any:
    s = services().settings
    nxt = _safe_next(request.args.get("next"))
    if current_user_id():
        return redirect(nxt)
    return render_template("auth/login.html", globus=s.globus_enabled, local=s.local_signin, next=nxt)


@bp.get("/globus")
def globus_start() -> Any:
    if not services().settings.globus_enabled:
        abort(404)
    state = secrets.token_urlsafe(32)
    session["oauth_state"] = state
    session["oauth_next"] = _safe_next(request.args.get("next"))
    client = _globus_client()
    client.oauth2_start_flow(_redirect_uri(), SCOPES, state=state)
    return redirect(client.oauth2_get_authorize_url())


@bp.get("/callback")
def callback() -> Any:
    if not services().settings.globus_enabled:
        abort(404)
    expected = session.pop("oauth_state", None)
    nxt = _safe_next(session.pop("oauth_next", None))
    got = request.args.get("state", "")
    if not expected or not hmac.compare_digest(expected, got):
        # A forged or replayed callback (login CSRF): never sign anyone in from it.
        log.warning("auth.state_mismatch")
        return render_template(
            "error.html", code=400, message="Sign-in failed: the request was not started here. Please sign in again."
        ), 400
    if request.args.get("error"):
        log.info("auth.denied", error=request.args.get("error"))
        flash("Sign-in was cancelled.", "warning")
        return redirect(url_for("profile.home"))
    code = request.args.get("code")
    if not code:
        return render_template("error.html", code=400, message="Sign-in failed: no authorization code."), 400
    client = _globus_client()
    client.oauth2_start_flow(_redirect_uri(), SCOPES, state=expected)
    try:
        tokens = client.oauth2_exchange_code_for_tokens(code)
        auth_token = tokens.by_resource_server[AUTH_RESOURCE_SERVER]["access_token"]
        info = globus_sdk.AuthClient(authorizer=globus_sdk.AccessTokenAuthorizer(auth_token)).userinfo()
    except (globus_sdk.GlobusError, KeyError) as exc:
        log.warning("auth.exchange_failed", error=str(exc))
        return render_template("error.html", code=400, message="Sign-in failed at Globus. Please try again."), 400
    user_id = info["sub"]
    name = info.get("name") or info.get("preferred_username") or info.get("email") or user_id
    email = info.get("email") or info.get("preferred_username") or ""
    # Keep the access (and refresh) tokens only to revoke them at sign-out.
    held = [t[k] for t in tokens.by_resource_server.values() for k in ("access_token", "refresh_token") if t.get(k)]
    _sign_in(user_id, name, email, held)
    return redirect(nxt)


@bp.route("/local", methods=["GET", "POST"])
def local() -> Any:
    if not services().settings.local_signin:
        abort(404)
    nxt = _safe_next(request.values.get("next"))
    error = None
    name = request.form.get("name", "").strip()
    email = request.form.get("email", "").strip()
    if request.method == "POST":
        if not name or len(name) > 100:
            error = "Enter your name (at most 100 characters)."
        elif not valid_email(email):
            error = "Enter a valid email address."
        else:
            _sign_in(local_user_id(email), name, email)
            return redirect(nxt)
    return render_template("auth/local_signin.html", error=error, name=name, email=email, next=nxt), (
        400 if error else 200
    )


@bp.post("/logout")
def logout() -> Any:
    tokens = _sealed_tokens()
    if tokens and services().settings.globus_enabled:
        client = _globus_client()
        for token in tokens:
            try:
                client.oauth2_revoke_token(token)
            except globus_sdk.GlobusError as exc:
                # Sign-out still happens locally; the token expires on its own.
                log.warning("auth.revoke_failed", error=str(exc))
    user_id = current_user_id()
    if user_id:
        services().users.end_sessions(user_id)
    log.info("auth.signed_out")
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("profile.home"))
