"""Home page and the user's profile (name, email, tier)."""

from __future__ import annotations

from typing import Any

import structlog
from flask import Blueprint, flash, g, redirect, render_template, url_for

from gas.core.events import Publisher, UserUpgraded
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
    user = g.user  # loaded and checked for this request (context.load_user)
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
    Publisher(svc.aws).publish(UserUpgraded(g.user_id))
    log.info("user.upgraded", first_time=upgraded)
    flash("Welcome to premium: large uploads, and your archived results are being restored.", "success")
    return redirect(url_for("profile.profile"))
