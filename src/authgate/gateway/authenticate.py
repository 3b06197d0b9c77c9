"""Stage 2: who is calling. A registry of named authenticators, tried in the route's order.

Each authenticator answers NOT_MINE (it does not recognise the credential: the next one is
tried), raises AuthenticationFailed (it recognises a credential and it is bad: stop, 401),
or returns a Principal. A bad credential never falls through to a weaker authenticator, so
a revoked token cannot quietly become an anonymous request.

Ambient credentials are the exception: a browser sends its session cookie with every
request, so a dead session is NOT_MINE rather than a failure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from authgate.clients.registry import Client
from authgate.cookie_names import SESSION_COOKIE
from authgate.errors import InvalidClient, InvalidToken, NotFound, StorageUnavailable
from authgate.gateway.principal import ANONYMOUS, Principal
from authgate.gateway.request import GateRequest
from authgate.gateway.singleflight import SharedLookup
from authgate.identity.sessions import SignedIn
from authgate.store.records import UserRecord
from authgate.tokens.amr import claims_for
from authgate.tokens.jwt import MAX_TOKEN_BYTES
from authgate.tokens.service import TokenService, looks_like_jwt

REALM = "authgate"
USER_CHECK_TTL = 5.0
"""How stale the gate's view of a user (enabled, signed out everywhere) may be."""
CACHE_MAX = 10_000
MAX_BASIC = 4096


class _NotMine:
    def __repr__(self) -> str:
        return "NOT_MINE"


NOT_MINE: Final = _NotMine()
"""An authenticator's answer when the request carries no credential of its kind."""


class AuthenticationFailed(Exception):
    """401. `error` is the RFC 6750 3.1 code; None when no credential was presented at all,
    which gets a bare challenge (RFC 6750 3.1: no error code without authentication)."""

    def __init__(
        self, error: str | None, description: str, challenges: Sequence[str] = ("Bearer",)
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.challenges = tuple(challenges)

    @property
    def www_authenticate(self) -> list[str]:
        """One header value per challenge; the error code rides on each."""
        suffix = f', error="{self.error}"' if self.error else ""
        return [f'{scheme} realm="{REALM}"{suffix}' for scheme in self.challenges]


@dataclass(frozen=True)
class AuthContext:
    """What the route adds to a credential check: the audience a token must name."""

    audience: str | None = None


Outcome = Principal | _NotMine


class Authenticator(Protocol):
    async def __call__(self, request: GateRequest, context: AuthContext) -> Outcome: ...


class AccessTokens(Protocol):
    async def check_access_token(self, token: str) -> dict[str, Any]: ...


class Revocations(Protocol):
    async def check(self, jti: str) -> bool: ...


class Users(Protocol):
    async def get_user(self, sub: str) -> UserRecord: ...


class Clients(Protocol):
    def cached(self, client_id: str) -> Client | None: ...

    async def lookup(self, client_id: str) -> Client | None: ...

    async def authenticate(self, client_id: str, client_secret: str) -> Client: ...


class Sessions(Protocol):
    async def current(self, session_id: str | None) -> SignedIn | None: ...


class Inspector(Protocol):
    async def live_access_claims(self, token: str) -> dict[str, Any] | None: ...


class UserChanges:
    """When users last changed elsewhere (a notice from another replica), so the user
    check's cache drops what is older instead of serving it for up to USER_CHECK_TTL."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}
        self._everyone_at = -math.inf

    def changed(self, sub: str, at: float) -> None:
        """`sub` ("": every user) changed at `at`."""
        if not sub:
            self._everyone_at = at
            self._at.clear()
            return
        if len(self._at) >= CACHE_MAX:
            self._at.pop(next(iter(self._at)))
        self._at[sub] = at

    def since(self, sub: str) -> float:
        return max(self._everyone_at, self._at.get(sub, -math.inf))


@dataclass(frozen=True)
class Backends:
    """The domain services the authenticators ask; bootstrap passes the real ones."""

    tokens: AccessTokens
    deny: Revocations
    users: Users
    clients: Clients
    sessions: Sessions
    inspector: Inspector
    clock: Callable[[], float] = time.time
    user_changes: UserChanges = field(default_factory=UserChanges)


def _invalid(description: str) -> AuthenticationFailed:
    return AuthenticationFailed("invalid_token", description)


def _authorization(request: GateRequest) -> tuple[str, str] | None:
    """(scheme lower-cased, credentials) of the Authorization header, or None."""
    header = request.header("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    return scheme.lower(), value.strip()


def _bearer(request: GateRequest) -> str | None:
    """The bearer token, None when there is no Bearer credential; an empty or oversized one
    is a bad credential, never an absent one."""
    found = _authorization(request)
    if found is None or found[0] != "bearer":
        return None
    token = found[1]
    if not token or len(token) > MAX_TOKEN_BYTES or not token.isascii() or " " in token:
        raise _invalid("The bearer token is malformed.")
    return token


def check_audience(claims: Mapping[str, Any], audience: str | None) -> None:
    """Exact membership of `audience` in `aud` (a string or a list of strings)."""
    if audience is None:
        return
    aud = claims.get("aud")
    names = [aud] if isinstance(aud, str) else aud
    if not isinstance(names, list) or audience not in [a for a in names if isinstance(a, str)]:
        raise _invalid("The token is not meant for this audience.")


def principal_from_claims(claims: Mapping[str, Any], method: str) -> Principal:
    """The principal an access token (JWT or opaque, same claims) speaks for."""
    groups = claims.get("groups")
    username = claims.get("username")
    client_id = claims.get("client_id")
    return Principal(
        method=method,
        subject=str(claims["sub"]),
        client_id=client_id if isinstance(client_id, str) else None,
        username=username if isinstance(username, str) else None,
        scopes=frozenset(str(claims.get("scope", "")).split()),
        groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
        claims=dict(claims),
    )


class _UserCheck:
    """Whether a user token may still speak for its user, looked up at most every
    USER_CHECK_TTL seconds per user so the hot path rarely reaches the database.

    While the database is away the gate keeps admitting valid tokens (ARCHITECTURE.md:
    verification needs no database round trip): the last view of the user stands, or, for
    a user not seen yet, the token alone, unless a change to the user was noticed after
    the token was issued (a disabled user, announced over Redis): that fails closed. After
    one failed look-up the database is left alone for USER_CHECK_TTL, so an outage costs
    one `database.timeout`, not one per request.
    """

    def __init__(
        self, users: Users, clock: Callable[[], float], changes: UserChanges | None = None
    ) -> None:
        self._users = users
        self._changes = changes if changes is not None else UserChanges()
        self._clock = clock
        self._seen: dict[str, tuple[float, UserRecord | None]] = {}
        self._fetching = SharedLookup(self._fetch)
        self._away_until = -math.inf

    async def _fetch(self, sub: str) -> UserRecord | None:
        try:
            return await self._users.get_user(sub)
        except NotFound:
            return None

    def _remember(self, sub: str, at: float, user: UserRecord | None) -> None:
        if len(self._seen) >= CACHE_MAX:
            self._seen.pop(next(iter(self._seen)))
        self._seen[sub] = (at, user)

    async def _user(self, sub: str) -> UserRecord | None:
        now = self._clock()
        cached = self._seen.get(sub)
        fresh = cached is not None and cached[0] > self._changes.since(sub)
        if cached is not None and fresh and now - cached[0] < USER_CHECK_TTL:
            return cached[1]
        try:
            if now < self._away_until:
                raise StorageUnavailable()
            user = await self._fetching.get(sub)
        except StorageUnavailable:
            self._away_until = max(self._away_until, now + USER_CHECK_TTL)
            if cached is None or not fresh:
                raise
            return cached[1]
        self._remember(sub, now, user)
        return user

    async def allows(self, claims: Mapping[str, Any]) -> bool:
        sub = str(claims.get("sub"))
        try:
            user = await self._user(sub)
        except StorageUnavailable:
            iat = claims.get("iat")
            if not isinstance(iat, int | float) or self._changes.since(sub) >= iat:
                raise
            return True
        return user is not None and user.enabled and not TokenService.is_cut_off(dict(claims), user)


class JwtAuthenticator:
    """Bearer JWT access tokens signed by authgate (RFC 9068), verified in process.

    A verified token is cached by its hash until it expires, with the principal it speaks
    for; the deny list and the user (or client) check still run on every hit, so revocation
    and "sign out everywhere" stay prompt.
    """

    name = "jwt"

    def __init__(self, backends: Backends) -> None:
        self._b = backends
        self._verified: dict[bytes, _Verified] = {}
        self._users = _UserCheck(backends.users, backends.clock, backends.user_changes)
        self._clients = SharedLookup(self._client)

    async def _client(self, client_id: str) -> Client | None:
        return await self._b.clients.lookup(client_id)

    async def _checked(self, token: str) -> _Verified:
        key = hashlib.sha256(token.encode()).digest()
        now = self._b.clock()
        verified = self._verified.get(key)
        if verified is not None and now < verified.exp:
            if verified.jti is None or await self._b.deny.check(verified.jti):
                raise _invalid("The access token is revoked.")
            return verified
        try:
            claims = await self._b.tokens.check_access_token(token)
        except InvalidToken as exc:
            raise _invalid(exc.message) from None
        if len(self._verified) >= CACHE_MAX:
            self._verified = {k: v for k, v in self._verified.items() if now < v.exp}
            while len(self._verified) >= CACHE_MAX:
                self._verified.pop(next(iter(self._verified)))
        verified = _Verified(claims, principal_from_claims(claims, self.name))
        self._verified[key] = verified
        return verified

    async def __call__(self, request: GateRequest, context: AuthContext) -> Outcome:
        token = _bearer(request)
        if token is None or not looks_like_jwt(token):
            return NOT_MINE
        verified = await self._checked(token)
        claims = verified.claims
        check_audience(claims, context.audience)
        if "username" in claims:
            if not await self._users.allows(claims):
                raise _invalid("The access token is revoked.")
        else:
            client_id = str(claims.get("client_id"))
            if self._b.clients.cached(client_id) is None and (
                await self._clients.get(client_id) is None
            ):
                raise _invalid("The client of this token no longer exists.")
        return verified.principal


class _Verified:
    """A verified access token's claims and principal, kept until the token expires."""

    __slots__ = ("claims", "exp", "jti", "principal")

    def __init__(self, claims: dict[str, Any], principal: Principal) -> None:
        self.claims = claims
        self.exp: float = claims["exp"]
        jti = claims.get("jti")
        self.jti = jti if isinstance(jti, str) else None
        self.principal = principal


class IntrospectionAuthenticator:
    """Any bearer access token, opaque ones above all, checked by the token service in
    process (as /oauth2/introspect would answer), with its subject's liveness."""

    name = "introspection"

    def __init__(self, backends: Backends) -> None:
        self._b = backends

    async def __call__(self, request: GateRequest, context: AuthContext) -> Outcome:
        token = _bearer(request)
        if token is None:
            return NOT_MINE
        claims = await self._b.inspector.live_access_claims(token)
        if claims is None:
            raise _invalid("The access token is invalid, expired or revoked.")
        check_audience(claims, context.audience)
        return principal_from_claims(claims, self.name)


class CookieAuthenticator:
    """The hosted pages' browser session; a dead one is ignored (see the module note)."""

    name = "cookie"

    def __init__(self, backends: Backends) -> None:
        self._b = backends

    async def __call__(self, request: GateRequest, context: AuthContext) -> Outcome:
        session_id = request.cookie(SESSION_COOKIE)
        if not session_id:
            return NOT_MINE
        signed_in = await self._b.sessions.current(session_id)
        if signed_in is None:
            return NOT_MINE
        user = signed_in.user
        claims: dict[str, Any] = {
            "sub": user.sub,
            "username": user.username,
            "groups": list(user.groups),
            "auth_time": int(signed_in.auth_time),
            **claims_for(signed_in.amr),
        }
        if user.email:
            claims["email"] = user.email
            claims["email_verified"] = user.email_verified
        return Principal(
            method=self.name,
            subject=user.sub,
            username=user.username,
            groups=tuple(user.groups),
            claims=claims,
        )


class ClientCredentialsAuthenticator:
    """HTTP Basic with a confidential client's id and secret (RFC 7617), for machines that
    cannot run an OAuth grant; the client must be registered for client_credentials."""

    name = "client_credentials"

    def __init__(self, backends: Backends) -> None:
        self._b = backends

    @staticmethod
    def _fail(description: str) -> AuthenticationFailed:
        return AuthenticationFailed("invalid_client", description, challenges=("Basic",))

    def _credentials(self, value: str) -> tuple[str, str]:
        if not value or len(value) > MAX_BASIC:
            raise self._fail("The Basic credentials are malformed.")
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise self._fail("The Basic credentials are malformed.") from None
        client_id, colon, secret = decoded.partition(":")
        if not colon or not client_id or not secret:
            raise self._fail("The Basic credentials are malformed.")
        return client_id, secret

    async def __call__(self, request: GateRequest, context: AuthContext) -> Outcome:
        found = _authorization(request)
        if found is None or found[0] != "basic":
            return NOT_MINE
        client_id, secret = self._credentials(found[1])
        try:
            client = await self._b.clients.authenticate(client_id, secret)
        except InvalidClient:
            raise self._fail("The client is unknown or its secret is wrong.") from None
        if not client.allows("client_credentials"):
            raise self._fail("The client is not registered for client_credentials.")
        scope = client.metadata.scope
        return Principal(
            method=self.name,
            subject=client.client_id,
            client_id=client.client_id,
            scopes=frozenset(client.metadata.scopes),
            claims={"sub": client.client_id, "client_id": client.client_id, "scope": scope},
        )


class AnonymousAuthenticator:
    """The explicit choice to let anyone through to authorization."""

    name = "anonymous"

    async def __call__(self, request: GateRequest, context: AuthContext) -> Outcome:
        return ANONYMOUS


AUTHENTICATOR_NAMES = ("jwt", "introspection", "cookie", "client_credentials", "anonymous")


def build_authenticators(backends: Backends) -> dict[str, Authenticator]:
    """The registry: one instance of each, shared by every route (their caches too)."""
    return {
        "jwt": JwtAuthenticator(backends),
        "introspection": IntrospectionAuthenticator(backends),
        "cookie": CookieAuthenticator(backends),
        "client_credentials": ClientCredentialsAuthenticator(backends),
        "anonymous": AnonymousAuthenticator(),
    }


def challenges_for(names: Sequence[str]) -> tuple[str, ...]:
    """The schemes a bare 401 offers: Bearer always, Basic when the route takes it."""
    return ("Bearer", "Basic") if "client_credentials" in names else ("Bearer",)


async def authenticate(
    registry: Mapping[str, Authenticator],
    names: Sequence[str],
    request: GateRequest,
    context: AuthContext,
) -> Principal:
    """The first principal in the route's order; nobody recognised anything: 401."""
    for name in names:
        outcome = await registry[name](request, context)
        if isinstance(outcome, Principal):
            return outcome
    raise AuthenticationFailed(None, "Authentication is required.", challenges_for(names))
