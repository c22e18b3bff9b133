"""Home page and the user's profile (name, email, tier)."""

from __future__ import annotations

from typing import Any

import structlog
from flask import Blueprint, flash, g, redirect, render_template, session, url_for

from gas.core import events
from gas.core.users import PREMIUM
from gas.web.context import login_required, services

log = structlog.get_logger()

bp = Blueprint("profile", __name__)


@bp.get("/")
def home() -> Any:
    return render_template("home.html")


@bp.get("/profile")
@login_required
def profile() -> Any:
    svc = services()
    user = svc.users.get_profile(g.user_id) or {
        # Signed in but the record is gone (e.g. a reset local stack): show the session's view.
        "name": session.get("name"),
        "email": session.get("email"),
        "tier": "free",
    }
    return render_template("profile.html", user=user, upload_limit=svc.upload_limit(user.get("tier")))


@bp.get("/subscribe")
@login_required
def subscribe() -> Any:
    profile = services().users.get_profile(g.user_id) or {}
    return render_template("subscribe.html", premium=profile.get("tier") == PREMIUM)


@bp.post("/subscribe")
@login_required
def subscribe_post() -> Any:
    """Upgrade to premium (no payment provider) and announce it: the archiver restores
    every archived result. Announced again on a repeat POST, which repairs a crash
    between the upgrade and the publish (the restore is idempotent)."""
    svc = services()
    upgraded = svc.users.upgrade(g.user_id)
    profile = svc.users.get_profile(g.user_id) or {}
    if profile.get("tier") != PREMIUM:
        flash("Your account could not be found; please sign in again.", "danger")
        return redirect(url_for("profile.profile"))
    event = events.new_event(events.USER_UPGRADED, user_id=g.user_id)
    svc.aws.client("sns").publish(TopicArn=svc.aws.topic_arn("user-upgraded"), Message=event.to_json())
    log.info("user.upgraded", first_time=upgraded)
    flash("Welcome to premium: large uploads, and your archived results are being restored.", "success")
    return redirect(url_for("profile.profile"))
