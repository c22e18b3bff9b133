"""Bearer tokens of the API: personal access tokens and Globus Auth access tokens.

Only the `Authorization: Bearer` header counts: the API never reads the session cookie,
so a page elsewhere cannot make a signed-in browser change anything through it (no CSRF
token needed, none accepted).

- A personal access token (`gas_pat_…`) is looked up by its SHA-256 (gas.core.tokens).
- Anything else is a Globus access token, checked by token introspection: active, issued
  for GAS's scope, and to GAS as audience.

What a token stands for (user, scopes, expiry) never changes, so it is cached per process
until the token expires (a Globus token that introspection refused: for a minute). What
does change — revocation — is caught by the request counter: each request counts on the
personal token's own item, conditionally on it existing (gas.core.tokens).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import globus_sdk
import structlog
from globus_sdk.transport import RetryConfig

from gas.core.tokens import PAT_PREFIX, TokenGone, TokenStore, digest, globus_key, pat_key
from gas.core.users import UserStore
from gas.web.api_v1.problems import ApiProblem
from gas.web.settings import WebSettings

log = structlog.get_logger()

FULL_ACCESS = frozenset({"read", "submit"})
REFUSED_GLOBUS_SECONDS = 60
CACHE_SIZE = 10_000
_CHALLENGE = 'Bearer realm="gas"'
INTROSPECT_RETRIES = RetryConfig(max_retries=1, max_sleep=0.5)


@dataclass(frozen=True)
class Principal:
    """Who a bearer token speaks for, and what it may do."""

    user_id: str
    scopes: frozenset[str]
    kind: Literal["personal", "globus"]
    expires_epoch: int
    counter_key: str  # the gas.core.tokens item its requests are counted on


def unauthorized(detail: str, error: str = "invalid_token") -> ApiProblem:
    challenge = f'{_CHALLENGE}, error="{error}"' if error else _CHALLENGE
    return ApiProblem("unauthorized", detail, {"WWW-Authenticate": challenge})


class TokenCache:
    """A bounded, thread-safe map: token digest -> (principal or None for refused, until)."""

    def __init__(self, size: int = CACHE_SIZE):
        self._size = size
        self._items: OrderedDict[str, tuple[Principal | None, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> tuple[bool, Principal | None]:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return False, None
            if entry[1] <= now:
                del self._items[key]
                return False, None
            self._items.move_to_end(key)
            return True, entry[0]

    def put(self, key: str, principal: Principal | None, until: float) -> None:
        with self._lock:
            self._items[key] = (principal, until)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class Authenticator:
    def __init__(self, settings: WebSettings, tokens: TokenStore, users: UserStore):
        self.settings = settings
        self.tokens = tokens
        self.users = users
        self.cache = TokenCache()

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an Authorization header; ApiProblem (401) otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Send Authorization: Bearer <token>.", error="")
        if len(token) > 4096:
            raise unauthorized("The token is not valid.")
        key = digest(token)
        now = time.time()
        hit, principal = self.cache.get(key, now)
        if not hit:
            principal = self._personal(token) if token.startswith(PAT_PREFIX) else self._globus(token, key, now)
        if principal is None:
            raise unauthorized("The token is not valid, has expired or was revoked.")
        if principal.expires_epoch <= now:
            self.cache.drop(key)
            raise unauthorized("The token has expired.")
        return principal

    def _personal(self, secret: str) -> Principal | None:
        stored = self.tokens.get(secret)
        if stored is None:
            return None  # not cached: a token that does not exist yet costs one read each time
        principal = Principal(
            user_id=stored.user_id,
            scopes=stored.scopes,
            kind="personal",
            expires_epoch=stored.expires_epoch,
            counter_key=pat_key(secret),
        )
        self.cache.put(digest(secret), principal, stored.expires_epoch)
        return principal

    def _globus(self, token: str, key: str, now: float) -> Principal | None:
        s = self.settings
        if not s.globus_enabled:
            return None
        assert s.globus_client_id and s.globus_client_secret and s.api_scope
        # One retry, short sleeps: the API caller is waiting (and may retry itself, 503).
        client = globus_sdk.ConfidentialAppAuthClient(
            s.globus_client_id, s.globus_client_secret, retry_config=INTROSPECT_RETRIES
        )
        try:
            info = client.oauth2_token_introspect(token).data
        except globus_sdk.GlobusAPIError as exc:
            log.warning("api.introspect_failed", status=exc.http_status)
            raise ApiProblem("unavailable", "Globus Auth could not check the token just now.") from exc
        except globus_sdk.NetworkError as exc:
            log.warning("api.introspect_unreachable", error=str(exc))
            raise ApiProblem("unavailable", "Globus Auth could not be reached to check the token.") from exc
        audience = info.get("aud") or []
        scopes = str(info.get("scope") or "").split()
        expires = int(info.get("exp") or 0)
        if not info.get("active") or s.api_scope not in scopes or s.globus_client_id not in audience or expires <= now:
            log.info("api.globus_token_refused", active=bool(info.get("active")), scoped=s.api_scope in scopes)
            self.cache.put(key, None, now + REFUSED_GLOBUS_SECONDS)
            return None
        principal = Principal(
            user_id=str(info["sub"]),
            scopes=FULL_ACCESS,  # a token for GAS's scope acts as the user, like the web site
            kind="globus",
            expires_epoch=expires,
            counter_key=globus_key(token),
        )
        if self.users.get_profile(principal.user_id) is None:
            # Someone who never signed in on the site: their profile, as sign-in makes it.
            name = info.get("name") or info.get("username") or principal.user_id
            self.users.upsert(principal.user_id, name, info.get("email") or info.get("username") or "")
        self.cache.put(key, principal, expires)
        return principal

    def count(self, principal: Principal) -> tuple[int, float]:
        """Count one request of this principal: (requests in the window, when it ends).
        A revoked personal token is refused here (401) and dropped from the cache."""
        try:
            counted = self.tokens.count_request(
                principal.counter_key,
                self.settings.api_rate_window_seconds,
                must_exist=principal.kind == "personal",
                expires_epoch=principal.expires_epoch,
            )
        except TokenGone:
            self.cache.drop(principal.counter_key.partition("#")[2])
            raise unauthorized("The token was revoked.") from None
        return counted.hits, counted.window_ends
