"""Helpers of the in-process API tests (fixtures are in conftest.py)."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import requests
from web_support import csrf_token


def create_token(client, name: str = "pipeline", scopes: tuple[str, ...] = ("read", "submit"), days: int = 30) -> str:
    """A personal access token made on the profile page, as a user does; the secret is
    read from the page that shows it once."""
    resp = client.post(
        "/profile/tokens",
        data={"csrf_token": csrf_token(client, "/profile"), "name": name, "scopes": list(scopes), "days": str(days)},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    match = re.search(r'id="new-token">([^<]+)<', resp.get_data(as_text=True))
    assert match, "the new token is not shown"
    return match.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload_through_api(api, token: str, name: str, content: bytes) -> str:
    """POST /api/v1/uploads, then the file to storage with the presigned POST (over HTTP
    to moto, as the CLI does); the upload id."""
    resp = api.post("/api/v1/uploads", json={"file_name": name, "size": len(content)}, headers=bearer(token))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    upload = resp.get_json()
    sent = requests.post(upload["url"], data=upload["fields"], files={"file": (name, content)}, timeout=10)
    assert sent.status_code == 204, sent.text
    return upload["upload_id"]


def api_rows(client, headers: dict[str, str], job_id: str, args: list[tuple[str, str]]) -> list[dict]:
    """Every row of a job's variants the filters `args` keep, through the API's pages."""
    rows, cursor = [], None
    while True:
        query = urlencode([*args, ("size", "500"), *([("cursor", cursor)] if cursor else [])])
        resp = client.get(f"/api/v1/jobs/{job_id}/variants?{query}", headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        page = resp.get_json()
        rows += page["variants"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows


PROBLEM_JSON = "application/problem+json"


def problem(resp, status: int, slug: str) -> dict:
    """The response's RFC 9457 problem document, checked for status and type."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type == PROBLEM_JSON
    body = resp.get_json()
    assert body["status"] == status and body["type"].endswith(f"/api/v1/problems/{slug}"), body
    assert body["title"] and body["detail"]
    return body


def fresh_window(seconds: int = 60) -> None:
    """Start well inside a fixed window on the clock (the rate limit's, the token-lookup
    limit's), so a test's counts are not split across two windows."""
    into = time.time() % seconds
    if into > seconds - 5:
        time.sleep(seconds - into + 0.05)
