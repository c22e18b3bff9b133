"""Bearer tokens of the API: personal access tokens and Globus Auth access tokens.

Only the `Authorization: Bearer` header counts: the API never reads the session cookie,
so a page elsewhere cannot make a signed-in browser change anything through it (no CSRF
token needed, none accepted).

- A personal access token (`gas_pat_…`) is looked up by its SHA-256 (gas.core.tokens).
- Anything else is a Globus access token, checked by token introspection: active, issued
  for GAS's scope, and to GAS as audience.

What a personal token stands for (user, scopes, expiry) never changes, so it is cached
per process until the token expires; revocation is caught by the request counter: each
request counts on the personal token's own item, conditionally on it existing
(gas.core.tokens). A Globus token can be revoked at Globus, where we cannot see it: its
principal is cached for GLOBUS_RECHECK_SECONDS only, then introspected again.

Refusals (unknown, inactive, foreign tokens) are cached apart from valid principals, so
a flood of bad tokens never evicts a good one. A token in neither cache costs a lookup
(an introspection or a DynamoDB read): those are limited per client address before they
happen (AddressLimiter, per process).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import globus_sdk
import structlog
from globus_sdk.transport import RetryConfig

from gas.core.tokens import PAT_PREFIX, TokenGone, TokenStore, digest, globus_key, pat_key, user_key
from gas.core.users import UserStore
from gas.web.api_v1.problems import ApiProblem
from gas.web.settings import WebSettings

log = structlog.get_logger()

FULL_ACCESS = frozenset({"read", "submit"})
# How long a valid Globus token is trusted before it is introspected again: a token
# revoked at Globus works for at most this long (docs/api.md, decision 58).
GLOBUS_RECHECK_SECONDS = 60
REFUSED_SECONDS = 60  # an unknown or refused token is not looked up again for this long
CACHE_SIZE = 10_000  # entries of each cache (valid principals, refusals)
LOOKUP_WINDOW_SECONDS = 60
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


T = TypeVar("T")


class TokenCache(Generic[T]):
    """A bounded, thread-safe map: token digest -> (value, until); least recently used out."""

    def __init__(self, size: int):
        self._size = size
        self._items: OrderedDict[str, tuple[T, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> T | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            if entry[1] <= now:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return entry[0]

    def put(self, key: str, value: T, until: float) -> None:
        with self._lock:
            self._items[key] = (value, until)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


def client_key(address: str | None) -> str:
    """What the lookup limit counts by: the address, or its /64 for IPv6 (one host
    usually holds a whole /64, so single addresses would be free to rotate)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class AddressLimiter:
    """Token lookups per client address per fixed window, in this process only (each
    gunicorn worker and replica has its own: the bound is `limit` x processes). Bounded:
    the least recently seen addresses are forgotten beyond `size`."""

    def __init__(self, limit: int, window_seconds: int = LOOKUP_WINDOW_SECONDS, size: int = CACHE_SIZE):
        self._limit, self._window, self._size = limit, window_seconds, size
        self._items: OrderedDict[str, tuple[int, int]] = OrderedDict()  # key -> (window start, lookups)
        self._lock = threading.Lock()

    def take(self, address: str | None, now: float) -> float | None:
        """Take one lookup for this address: None if allowed, else the seconds to wait."""
        key = client_key(address)
        window = int(now // self._window) * self._window
        with self._lock:
            start, used = self._items.get(key, (window, 0))
            if start != window:
                start, used = window, 0
            allowed = used < self._limit
            self._items[key] = (start, used + 1 if allowed else used)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return None if allowed else start + self._window - now


class Authenticator:
    def __init__(self, settings: WebSettings, tokens: TokenStore, users: UserStore):
        self.settings = settings
        self.tokens = tokens
        self.users = users
        self.valid: TokenCache[Principal] = TokenCache(CACHE_SIZE)
        self.refused: TokenCache[bool] = TokenCache(CACHE_SIZE)
        self.lookups = AddressLimiter(settings.api_token_lookups_per_minute)

    def authenticate(self, authorization: str | None, client: str | None) -> Principal:
        """The principal of an Authorization header from this client address; ApiProblem
        otherwise (401; 429 when the address made too many lookups)."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Send Authorization: Bearer <token>.", error="")
        if len(token) > 4096:
            raise unauthorized("The token is not valid.")
        key = digest(token)
        now = time.time()
        principal = self.valid.get(key, now)
        if principal is None:
            if self.refused.get(key, now):
                raise unauthorized("The token is not valid, has expired or was revoked.")
            # Limit before the lookup: a stream of made-up tokens must not become a stream of
            # introspections or DynamoDB reads.
            wait = self.lookups.take(client, now)
            if wait is not None:
                retry = max(1, int(wait) + 1)
                log.info("api.lookups_limited", limit=self.settings.api_token_lookups_per_minute)
                raise ApiProblem(
                    "rate-limited",
                    f"More than {self.settings.api_token_lookups_per_minute} token checks from this address "
                    f"in {LOOKUP_WINDOW_SECONDS} s; retry in {retry} s.",
                    {"Retry-After": str(retry)},
                )
            principal = self._personal(token, key) if token.startswith(PAT_PREFIX) else self._globus(token, key, now)
            if principal is None:
                self.refused.put(key, True, now + REFUSED_SECONDS)
                raise unauthorized("The token is not valid, has expired or was revoked.")
        if principal.expires_epoch <= now:
            self.valid.drop(key)
            raise unauthorized("The token has expired.")
        return principal

    def _personal(self, secret: str, key: str) -> Principal | None:
        stored = self.tokens.get(secret)
        if stored is None:
            return None
        principal = Principal(
            user_id=stored.user_id,
            scopes=stored.scopes,
            kind="personal",
            expires_epoch=stored.expires_epoch,
            counter_key=pat_key(secret),
        )
        self.valid.put(key, principal, stored.expires_epoch)
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
            return None
        principal = Principal(
            user_id=str(info["sub"]),
            scopes=FULL_ACCESS,  # a token for GAS's scope acts as the user, like the web site
            kind="globus",
            expires_epoch=expires,
            counter_key=globus_key(token),
        )
        if self.users.get(principal.user_id) is None:
            # Someone who never signed in on the site: their profile, as sign-in makes it.
            name = info.get("name") or info.get("username") or principal.user_id
            self.users.upsert(principal.user_id, name, info.get("email") or info.get("username") or "")
        self.valid.put(key, principal, min(expires, now + GLOBUS_RECHECK_SECONDS))
        return principal

    def count(self, principal: Principal) -> tuple[int, float]:
        """Count one request of this principal on its token's counter and its user's:
        (the larger count in the window, when it ends). A revoked personal token is
        refused here (401) and dropped from the cache."""
        window = self.settings.api_rate_window_seconds
        try:
            token = self.tokens.count_request(
                principal.counter_key,
                window,
                must_exist=principal.kind == "personal",
                expires_epoch=principal.expires_epoch,
            )
        except TokenGone:
            self.valid.drop(principal.counter_key.partition("#")[2])
            raise unauthorized("The token was revoked.") from None
        # Per user too: more tokens (or revoking and re-creating one) buy no more requests.
        user = self.tokens.count_request(user_key(principal.user_id), window, must_exist=False, expires_epoch=None)
        return max(token.hits, user.hits), max(token.window_ends, user.window_ends)
