"""The `jobs` blueprint: every route of a user's jobs (its view modules register on it)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("jobs", __name__)
