"""Per-app services (settings, AWS clients, stores) and the signed-in user."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from flask import (
    Response,
    abort,
    after_this_request,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)

from gas.core.aws import Aws
from gas.core.job_record import Job
from gas.core.jobs import JobStore
from gas.core.tokens import TokenStore
from gas.core.users import Tier, User, UserStore
from gas.web.settings import WebSettings
from gas.web.uploads import presigned_upload
from gas.web.variants import VariantStore

if TYPE_CHECKING:
    from gas.web.api_v1.bearer import Authenticator


@dataclass
class Services:
    settings: WebSettings
    aws: Aws
    jobs: JobStore
    users: UserStore
    tokens: TokenStore
    authenticator: Authenticator
    variants: VariantStore

    @property
    def browser_s3(self) -> Any:
        """The S3 client whose presigned URLs the browser follows (see WebSettings)."""
        return self.aws.client_at("s3", self.settings.s3_public_endpoint_url)

    def upload_limit(self, tier: Tier) -> int:
        s = self.settings
        return s.premium_upload_limit if tier is Tier.PREMIUM else s.free_upload_limit

    def upload_form(
        self, user_id: str, job_id: str, max_bytes: int, redirect_url: str | None = None, file_name: str | None = None
    ) -> dict[str, Any]:
        """The presigned POST a browser or API client sends this job's input file with
        (gas.web.uploads.presigned_upload into the inputs bucket, for the form's lifetime)."""
        return presigned_upload(
            self.browser_s3,
            self.aws.names.inputs_bucket,
            user_id,
            job_id,
            max_bytes,
            redirect_url,
            self.settings.upload_form_seconds,
            file_name,
        )


def after_response(run: Callable[[], None]) -> None:
    """Call `run` once the current response has been sent (now, outside a request)."""
    if not has_request_context():
        run()
        return

    @after_this_request
    def _on_close(response: Response) -> Response:
        response.call_on_close(run)
        return response


def services() -> Services:
    return current_app.extensions["gas"]


def current_user_id() -> str | None:
    """The signed-in user's id, once load_user has checked the session this request."""
    return g.get("user_id")


def load_user() -> None:
    """before_request: accept the session only if its user exists and the session's
    generation is the user's current one (sign-out moves it on, so a copied cookie dies
    with the sign-out). The cookie holds no name or email: they come from the profile."""
    if request.blueprint == "api_v1":
        return  # the API's operations read bearer tokens only, never the session (api_v1.bearer)
    user_id = session.get("user_id")
    if not user_id:
        return
    user = services().users.get(user_id)
    if user is None or user.session_generation != session.get("generation"):
        session.clear()
        return
    g.user_id, g.user = user_id, user


def current_user() -> User:
    """The signed-in user, read once per request: on the site by load_user (with the
    session check), under /api/v1 on first use (the token's user; 401 when it is gone)."""
    user: User | None = g.get("user")
    if user is None:
        user = services().users.get(g.user_id)
        if user is None:
            abort(401, "The token's user does not exist.")
        g.user = user
    return user


F = TypeVar("F", bound=Callable[..., Any])


def login_required(view: F) -> F:
    """Pages send a visitor to sign in; the JSON API answers 401."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user_id():
            if request.path.startswith("/api/"):
                return jsonify(error="sign in first"), 401
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def own_job_or_404(job_id: str) -> Job:
    """The job when the signed-in user (or the API token's) owns it; 404 otherwise (never
    reveal it exists): a page of the site, a `not-found` problem of the API."""
    try:
        valid = str(uuid.UUID(job_id)) == job_id
    except ValueError:
        valid = False
    if not valid:  # not even a job id: no DynamoDB round trip
        abort(404, "No such job.")
    job = services().jobs.get_for_user(job_id, g.user_id)
    if job is None:
        abort(404, "No such job.")
    return job
