"""Web settings (env prefix GAS_) and the start-up safety checks of the web process."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, model_validator

from gas.core.config import CoreSettings

KIB, GIB = 1024, 1024**3


class WebSettings(CoreSettings):
    # Signs the session cookie and the CSRF tokens; a short key is guessable.
    secret_key: str = Field(min_length=32)
    globus_client_id: str | None = None
    globus_client_secret: str | None = None
    # Name + email sign-in without a password: only for the laptop stack (see startup_problem
    # and listener_problem).
    local_signin: bool = False
    web_bind: str = "127.0.0.1:8080"
    web_workers: int = Field(2, ge=1, le=64)
    free_upload_limit: int = Field(150 * KIB, ge=1)
    premium_upload_limit: int = Field(GIB, ge=1)
    jobs_per_page: int = Field(20, ge=1, le=100)
    download_url_seconds: int = Field(60, ge=1, le=7 * 24 * 3600)
    upload_form_seconds: int = Field(900, ge=60, le=7 * 24 * 3600)
    # Where browsers reach S3, when it differs from AWS_ENDPOINT_URL (dev mode on kind:
    # moto is gas-moto:5000 in the cluster, s3.<host> through the ingress). Presigned
    # upload forms and download links use it; unset = the service's own endpoint.
    s3_public_endpoint_url: str | None = Field(None, pattern=r"^$|^https?://[^/\s]+$")
    # The API (docs/api.md): requests per token per fixed window, counted in DynamoDB so
    # every worker process and replica shares the count.
    api_rate_limit: int = Field(600, ge=1)
    api_rate_window_seconds: int = Field(60, ge=1, le=3600)
    # Token lookups (a token in neither cache: an introspection or a DynamoDB read) per
    # client address per minute, in each web process, checked before the lookup.
    api_token_lookups_per_minute: int = Field(60, ge=1)
    # Proxies in front of web that append to X-Forwarded-For (the chart's Ingress: 1).
    # The client address is the one the outermost of them saw; 0 = REMOTE_ADDR itself.
    web_proxy_hops: int = Field(0, ge=0, le=5)
    # Longest lifetime a personal access token may be given, in days.
    token_max_days: int = Field(365, ge=1, le=3650)
    # The Globus Auth scope of GAS's API: access tokens for it are accepted as bearer
    # tokens (introspected). Unset: https://auth.globus.org/scopes/<client id>/api.
    globus_api_scope: str | None = None
    # Local copies of variant tables (per job and ETag; least recently used out past the
    # bound): a writable volume of the web pod, shared by its workers.
    result_cache_dir: Path = Path("/tmp/gas-result-cache")
    result_cache_bytes: int = Field(4 * GIB, ge=0)
    variants_per_page: int = Field(50, ge=1, le=500)
    # Exports (.tsv/.csv/.vcf) streaming at once per web process; one more is refused
    # with 503 and Retry-After (docs/web.md).
    export_concurrency: int = Field(2, ge=1, le=64)

    @model_validator(mode="after")
    def _blank_is_unset(self) -> WebSettings:
        # An empty GAS_GLOBUS_CLIENT_ID="" (common in env files) means "not configured"; so
        # does an empty GAS_S3_PUBLIC_ENDPOINT_URL.
        for name in ("globus_client_id", "globus_client_secret", "s3_public_endpoint_url", "globus_api_scope"):
            if getattr(self, name) == "":
                object.__setattr__(self, name, None)
        return self

    @property
    def globus_enabled(self) -> bool:
        return bool(self.globus_client_id and self.globus_client_secret)

    @property
    def api_scope(self) -> str | None:
        """The Globus scope API bearer tokens must carry (None without Globus)."""
        if not self.globus_enabled:
            return None
        return self.globus_api_scope or f"https://auth.globus.org/scopes/{self.globus_client_id}/api"

    @property
    def bind_host(self) -> str:
        bind = self.web_bind
        if bind.startswith("unix:"):
            return bind
        host = bind.rsplit(":", 1)[0] if ":" in bind and not bind.endswith("]") else bind
        return host.strip("[]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname or a unix socket: cannot prove it is loopback-only


def startup_problem(settings: WebSettings) -> str | None:
    """One line saying why this configuration must not serve, or None."""
    if bool(settings.globus_client_id) != bool(settings.globus_client_secret):
        return "GAS_GLOBUS_CLIENT_ID and GAS_GLOBUS_CLIENT_SECRET must be set together"
    if not settings.globus_enabled and not settings.local_signin:
        return (
            "no sign-in configured: set GAS_GLOBUS_CLIENT_ID and GAS_GLOBUS_CLIENT_SECRET "
            "(or GAS_LOCAL_SIGNIN=true on the local stack)"
        )
    if settings.local_signin:
        # The password-less sign-in lets anyone be anyone: never reachable from a network.
        if settings.env != "local":
            return f"GAS_LOCAL_SIGNIN=true is refused with GAS_ENV={settings.env} (only GAS_ENV=local)"
        if not is_loopback(settings.bind_host):
            return (
                f"GAS_LOCAL_SIGNIN=true is refused with GAS_WEB_BIND={settings.web_bind} "
                "(bind a loopback address: 127.0.0.1, ::1 or localhost)"
            )
    return None


def listener_problem(settings: WebSettings, hosts: list[str]) -> str | None:
    """Why the sockets gunicorn actually listens on must not serve this configuration.

    startup_problem checks GAS_WEB_BIND, but gunicorn also takes --bind on its command
    line and in GUNICORN_CMD_ARGS: the password-less local sign-in is only ever served
    from sockets that are really loopback-only."""
    if not settings.local_signin:
        return None
    exposed = [host for host in hosts if not is_loopback(host)]
    if exposed:
        return (
            f"GAS_LOCAL_SIGNIN=true is refused on {', '.join(exposed)}: "
            "the local sign-in is served on loopback addresses only"
        )
    return None
