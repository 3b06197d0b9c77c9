"""Stage 4: what the upstream receives, as header patches that the pipeline merges.

Mutators never touch a request: each returns a HeaderPatch (names to remove, headers to
set), so the built-in proxy applies one merged patch and the forward-auth endpoint hands
the `set` part to nginx, Traefik or Caddy.

The reserved namespace `X-Authgate-*` is stripped whatever the spelling: some servers
(CGI, WSGI, nginx with underscores_in_headers) merge `X_Authgate_Sub` or `X.Authgate.Sub`
into the same variable as `X-Authgate-Sub`. Headers the client names in `Connection` are
removed with it (a hop-by-hop trick would otherwise let a proxy drop ours after we add it).
Identity values are visible ASCII only: a CR or LF could split a header, and a lossy
clean-up could turn one name into another, so an unsafe value refuses the request.
authgate's own cookies never pass (`gateway.own_cookies`): the session one is an SSO login.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from authgate.gateway.authorize import Denied
from authgate.gateway.own_cookies import upstream_cookie
from authgate.gateway.principal import Principal
from authgate.gateway.request import GateRequest
from authgate.tokens.jwt import TokenCodec

RESERVED_PREFIX = "x-authgate-"
IDENTITY_TYP = "authgate-identity+jwt"
IDENTITY_TTL = 60
SUB, USERNAME, GROUPS, SCOPES, CLIENT, IDENTITY = (
    "x-authgate-sub",
    "x-authgate-username",
    "x-authgate-groups",
    "x-authgate-scopes",
    "x-authgate-client",
    "x-authgate-identity",
)
COOKIE = "cookie"
METHOD_OVERRIDES = frozenset({"x-http-method-override", "x-http-method", "x-method-override"})
REQUEST_OVERRIDES = frozenset(
    {
        *METHOD_OVERRIDES,
        "x-original-url",
        "x-rewrite-url",
        "x-original-uri",
        "x-original-method",
        "x-forwarded-uri",
        "x-forwarded-method",
        "x-forwarded-prefix",
    }
)
"""Headers some frameworks read as the "real" method or URL (Symfony, IIS, Spring, proxies'
own conventions): an upstream honouring one would act on a request the gate never decided."""


def header_key(name: str) -> str:
    """The spelling-independent form of a header name: lower case, `_` and `.` as `-`."""
    return name.lower().replace("_", "-").replace(".", "-")


def is_reserved(name: str) -> bool:
    return header_key(name).startswith(RESERVED_PREFIX)


@lru_cache(maxsize=4096)
def _never_forwarded(name: str) -> bool:
    """Whether the client's header `name` is reserved or a method/URL override, in any
    spelling; remembered per name, since the same few names come with every request."""
    key = header_key(name)
    return key.startswith(RESERVED_PREFIX) or key in REQUEST_OVERRIDES


@dataclass(frozen=True)
class HeaderPatch:
    """Remove `remove` (lower-case names as sent), then set `set` (lower-case names)."""

    set: Mapping[str, str] = field(default_factory=dict)
    remove: frozenset[str] = frozenset()

    def merge(self, later: HeaderPatch) -> HeaderPatch:
        """One patch equal to applying self, then `later`."""
        kept = {k: v for k, v in self.set.items() if k not in later.remove}
        return HeaderPatch({**kept, **later.set}, self.remove | later.remove)

    def apply(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """The header list after the patch (names lower-cased), for the proxy and tests."""
        gone = self.remove | self.set.keys()
        kept = [(k.lower(), v) for k, v in headers if k.lower() not in gone]
        return kept + list(self.set.items())


@dataclass(frozen=True)
class MutationContext:
    """What the route says about the outgoing request."""

    upstream: str
    keep_authorization: bool = False
    identity_headers: bool = True
    identity_jwt: bool = False


_VISIBLE_ASCII = re.compile(r"[ -~]*")


def _safe(value: str) -> str:
    if not _VISIBLE_ASCII.fullmatch(value):
        raise Denied("unsafe_identity_value", "An identity value cannot be sent in a header.")
    return value


class IdentitySigner:
    """Signs X-Authgate-Identity: who the caller is, for one upstream, for 60 seconds.

    A signature is the costliest step of a request (about 1 ms of CPU with RS256), so a
    statement is reused for the same principal and upstream while at least half its life
    remains. It says nothing a fresh one would not: every request carrying it has just been
    authenticated and authorized, and an upstream sees it expire as before.
    """

    def __init__(
        self,
        codec: TokenCodec,
        issuer: str,
        clock: Callable[[], float] = time.time,
        max_cached: int = 10_000,
    ) -> None:
        self._codec = codec
        self._issuer = issuer
        self._clock = clock
        self._max_cached = max_cached
        self._cache: dict[tuple[Any, ...], tuple[str, int]] = {}

    def sign(self, principal: Principal, audience: str) -> str:
        key = (
            audience,
            principal.subject,
            principal.client_id,
            principal.username,
            principal.scopes,
            principal.groups,
        )
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] - now >= IDENTITY_TTL / 2:
            return cached[0]
        token, exp = self._sign(principal, audience, math.floor(now))
        if len(self._cache) >= self._max_cached:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (token, exp)
        return token

    def _sign(self, principal: Principal, audience: str, iat: int) -> tuple[str, int]:
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": audience,
            "sub": principal.subject,
            "scope": " ".join(sorted(principal.scopes)),
            "groups": list(principal.groups),
            "iat": iat,
            "exp": iat + IDENTITY_TTL,
            "jti": secrets.token_urlsafe(16),
        }
        if principal.client_id is not None:
            claims["client_id"] = principal.client_id
        if principal.username is not None:
            claims["username"] = principal.username
        return self._codec.sign(claims, typ=IDENTITY_TYP), iat + IDENTITY_TTL


def strip_client_headers(
    request: GateRequest, principal: Principal, context: MutationContext
) -> HeaderPatch:
    """The reserved namespace in every spelling, Connection and what it names, method and
    URL overrides (never honoured here, so no upstream may honour them either), the
    Authorization header unless the route keeps it, and authgate's own cookies: the
    Cookie header is set to the client's other cookies (forward-auth answers it for the
    proxy to send on), or removed when none is left."""
    remove = {name for name, _ in request.headers if _never_forwarded(name)}
    connection = request.values("connection")
    for line in connection:
        remove.update(t.strip().lower() for t in line.split(",") if t.strip())
    if connection:
        remove.add("connection")
    if not context.keep_authorization:
        remove.add("authorization")
    cookies = request.values(COOKIE)
    if cookies and COOKIE not in remove:
        kept = upstream_cookie(cookies)
        if kept is not None:
            return HeaderPatch({COOKIE: kept}, frozenset(remove))
        remove.add(COOKIE)
    return HeaderPatch(remove=frozenset(remove))


def identity_headers(
    request: GateRequest, principal: Principal, context: MutationContext
) -> HeaderPatch:
    """X-Authgate-Sub, -Username, -Groups, -Scopes, -Client: only the ones that have a value."""
    if not context.identity_headers or principal.is_anonymous:
        return HeaderPatch()
    return _identity_patch(
        principal.subject,
        principal.username,
        principal.groups,
        principal.scopes,
        principal.client_id,
    )


@lru_cache(maxsize=4096)
def _identity_patch(
    subject: str | None,
    username: str | None,
    groups: tuple[str, ...],
    scopes: frozenset[str],
    client_id: str | None,
) -> HeaderPatch:
    """identity_headers' patch, built once per identity (an unsafe one raises, uncached)."""
    if any("," in g for g in groups):
        raise Denied("unsafe_identity_value", "A group name cannot be listed in a header.")
    values = {
        SUB: subject or "",
        USERNAME: username or "",
        GROUPS: ",".join(groups),
        SCOPES: " ".join(sorted(scopes)),
        CLIENT: client_id or "",
    }
    return HeaderPatch({k: _safe(v) for k, v in values.items() if v})


class IdentityJwt:
    """The X-Authgate-Identity mutator: a signed statement an upstream verifies by JWKS."""

    def __init__(self, signer: IdentitySigner) -> None:
        self._signer = signer

    def __call__(
        self, request: GateRequest, principal: Principal, context: MutationContext
    ) -> HeaderPatch:
        if not context.identity_jwt or principal.is_anonymous:
            return HeaderPatch()
        return HeaderPatch({IDENTITY: self._signer.sign(principal, context.upstream)})


Mutator = Callable[[GateRequest, Principal, MutationContext], HeaderPatch]


def build_mutators(signer: IdentitySigner) -> dict[str, Mutator]:
    """The registry, in the order the pipeline runs them: strip first, then add."""
    return {
        "strip_client_headers": strip_client_headers,
        "identity_headers": identity_headers,
        "identity_jwt": IdentityJwt(signer),
    }


def mutate(
    mutators: Mapping[str, Mutator],
    request: GateRequest,
    principal: Principal,
    context: MutationContext,
) -> HeaderPatch:
    """The mutators' patches in registry order, merged as HeaderPatch.merge would merge
    them one by one (here in one pass: this runs on every request)."""
    sets: dict[str, str] = {}
    removed: set[str] = set()
    for mutator in mutators.values():
        patch = mutator(request, principal, context)
        if patch.remove:
            if sets:
                for name in patch.remove & sets.keys():
                    del sets[name]
            removed |= patch.remove
        sets.update(patch.set)
    return HeaderPatch(sets, frozenset(removed))
