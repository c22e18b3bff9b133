"""Home page and the user's profile (name, email, tier)."""

from __future__ import annotations

import time
from typing import Any

import structlog
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from gas.core.events import Publisher, UserUpgraded
from gas.core.tokens import MAX_TOKENS, SCOPES, TooManyTokens
from gas.web.context import current_user, login_required, services

log = structlog.get_logger()

bp = Blueprint("profile", __name__)


@bp.get("/")
def home() -> Any:
    return render_template("profile/home.html")


# Personal access tokens: lifetimes offered on the profile page (days).
TOKEN_LIFETIMES = (7, 30, 90, 365)


def _profile_page(new_token: str | None = None, error: str | None = None, status: int = 200) -> Any:
    svc = services()
    user = current_user()
    return render_template(
        "profile/profile.html",
        user=user,
        upload_limit=svc.upload_limit(user.tier),
        tokens=svc.tokens.list_for_user(g.user_id),
        lifetimes=[d for d in TOKEN_LIFETIMES if d <= svc.settings.token_max_days] or [svc.settings.token_max_days],
        scopes=SCOPES,
        new_token=new_token,
        token_error=error,
        now=time.time(),
    ), status


@bp.get("/profile")
@login_required
def profile() -> Any:
    return _profile_page()


@bp.post("/profile/tokens")
@login_required
def create_token() -> Any:
    """A new personal access token for the API, shown on this one page and never again
    (it is stored as a hash): answered directly, not through a redirect and a flash,
    so the secret never travels in the session cookie."""
    svc = services()
    name = request.form.get("name", "").strip()
    scopes = {s for s in request.form.getlist("scopes") if s in SCOPES}
    try:
        days = int(request.form.get("days", ""))
    except ValueError:
        days = 0
    if not name or len(name) > 100:
        return _profile_page(error="Give the token a name (at most 100 characters).", status=400)
    if not scopes:
        return _profile_page(error="Choose at least one scope.", status=400)
    if not 1 <= days <= svc.settings.token_max_days:
        return _profile_page(error=f"Choose a lifetime of 1 to {svc.settings.token_max_days} days.", status=400)
    try:
        secret, token = svc.tokens.create(g.user_id, name, scopes, days * 24 * 3600)
    except TooManyTokens:
        return _profile_page(error=f"You have {MAX_TOKENS} tokens; revoke one first.", status=400)
    log.info("token.created", token_id=token.token_id, scopes=sorted(scopes), days=days)
    return _profile_page(new_token=secret)


@bp.post("/profile/tokens/<token_id>/revoke")
@login_required
def revoke_token(token_id: str) -> Any:
    if services().tokens.revoke(g.user_id, token_id):
        log.info("token.revoked", token_id=token_id)
        flash("The token was revoked: it no longer works.", "success")
    else:
        flash("No such token.", "warning")
    return redirect(url_for("profile.profile") + "#api-tokens")


@bp.get("/subscribe")
@login_required
def subscribe() -> Any:
    return render_template("profile/subscribe.html", premium=current_user().premium)


@bp.post("/subscribe")
@login_required
def subscribe_post() -> Any:
    """Upgrade to premium (no payment provider) and announce it: the archiver restores
    every archived result. Announced again on a repeat POST, which repairs a crash
    between the upgrade and the publish (the restore is idempotent)."""
    svc = services()
    upgraded = svc.users.upgrade(g.user_id)
    user = svc.users.get(g.user_id)  # again: the upgrade just written
    if user is None or not user.premium:
        flash("Your account could not be found; please sign in again.", "danger")
        return redirect(url_for("profile.profile"))
    Publisher(svc.aws).publish(UserUpgraded(g.user_id))
    log.info("user.upgraded", first_time=upgraded)
    flash("Welcome to premium: large uploads, and your archived results are being restored.", "success")
    return redirect(url_for("profile.profile"))
