"""`private_key_jwt`: a client proves who it is with a JWT it signed (RFC 7523 2.2 and 3,
OIDC Core 9).

The assertion is vetted before any key is looked at: an asymmetric `alg` (RS256, ES256,
EdDSA; never `none` or HS*), no header member that names its own key (`jwk`, `jku`,
`x5u`, `x5c`) or demands extensions (`crit`), `iss` = `sub` = the client id. Then its
signature must verify with one of the keys the client registered, and its claims must
hold: `aud` names this server (the issuer or the token endpoint, and nothing else), `exp`
is present, not past and at most `MAX_LIFETIME` ahead, `nbf`/`iat` are not in the future,
and `jti` is present. Last, the `jti` is recorded until the assertion expires, by a
unique insert, so one assertion authenticates once, also across replicas.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, NoReturn

import jwt as pyjwt

from authgate.clients.keysets import SIGNING_ALGORITHMS, ClientKey, KeySetFetcher, parse_key_set
from authgate.clients.registry import Client
from authgate.errors import InvalidClient
from authgate.jose_segments import MalformedSegment, SegmentFault, json_object_segment
from authgate.store import Store

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_BYTES = 8192
MAX_LIFETIME = 300.0
"""How far ahead `exp` may be: an assertion is made for one request, and its jti is kept
until it expires."""
LEEWAY = 30.0
MAX_JTI = 256
_FORBIDDEN_HEADER = frozenset({"jwk", "jku", "x5u", "x5c", "crit", "b64"})
_TYPES = frozenset({"application/jwt", "application/client-authentication+jwt"})
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def _refuse(reason: str) -> NoReturn:
    raise InvalidClient(f"The client assertion is not acceptable: {reason}.")


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        return json_object_segment(segment)
    except MalformedSegment as malformed:
        repeated = malformed.fault is SegmentFault.REPEATED_MEMBER
        _refuse("a JSON member is repeated" if repeated else "it is not a JWT")


@dataclass(frozen=True)
class Assertion:
    """A client assertion read but not yet verified: never trust its claims before `verify`."""

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def client_id(self) -> str:
        return str(self.claims["sub"])

    @property
    def alg(self) -> str:
        return str(self.header["alg"])


def read_assertion(token: object) -> Assertion:
    """Split and vet an assertion (header and who it claims to be); InvalidClient if bad."""
    if not isinstance(token, str) or not token.isascii() or len(token) > MAX_ASSERTION_BYTES:
        _refuse("it is missing, too long or not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(part) for part in parts):
        _refuse("it is not a signed JWT (JWS compact form)")
    header, claims = _json_segment(parts[0]), _json_segment(parts[1])
    alg = header.get("alg")
    if alg not in SIGNING_ALGORITHMS:
        _refuse(f"alg must be one of {', '.join(SIGNING_ALGORITHMS)}")
    if _FORBIDDEN_HEADER & header.keys():
        _refuse("the header may not name its own key or demand extensions")
    typ = header.get("typ")
    if typ is not None:
        media = typ.lower() if isinstance(typ, str) else ""
        if ("/" not in media and f"application/{media}" not in _TYPES) or (
            "/" in media and media not in _TYPES
        ):
            _refuse("typ must be JWT or client-authentication+jwt")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 1 <= len(kid) <= 128):
        _refuse("kid must be a short string")
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(sub, str) or not sub or iss != sub:
        _refuse("iss and sub must both be the client_id")
    return Assertion(token, header, claims)


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _refuse(f"{name} must be a number")
    if not math.isfinite(value):
        _refuse(f"{name} must be a number")
    return float(value)


class AssertionVerifier:
    def __init__(
        self,
        store: Store,
        audiences: Collection[str],
        fetcher: KeySetFetcher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._audiences = frozenset(audiences)
        self._fetcher = fetcher
        self._clock = clock

    async def verify(self, client: Client, assertion: Assertion) -> None:
        """Check `assertion` authenticates `client` (registered for private_key_jwt), once."""
        metadata = client.metadata
        if assertion.client_id != client.client_id:
            _refuse("it was made by another client")
        if metadata.token_endpoint_auth_signing_alg not in (None, assertion.alg):
            _refuse(f"this client signs with {metadata.token_endpoint_auth_signing_alg}")
        if not await self._signed(client, assertion):
            _refuse("the signature does not verify with the client's registered keys")
        expires_at = self._check_claims(assertion.claims)
        jti = assertion.claims["jti"]
        async with self._store.transaction() as tx:
            fresh = await tx.clients.remember_assertion(
                client.client_id, jti, expires_at + LEEWAY, self._clock()
            )
        if not fresh:
            _refuse("it was already used (jti)")

    async def _signed(self, client: Client, assertion: Assertion) -> bool:
        kid = assertion.header.get("kid")
        keys = await self._keys(client, refresh=False)
        rotated = kid is not None and not any(key.kid == kid for key in keys)
        if rotated and client.metadata.jwks_uri is not None:
            keys = await self._keys(client, refresh=True)  # one early refresh, rate-limited
        candidates = [
            key
            for key in keys
            if key.alg == assertion.alg and (kid is None or key.kid in (kid, None))
        ]
        return any(_verifies(assertion.token, key) for key in candidates)

    async def _keys(self, client: Client, *, refresh: bool) -> list[ClientKey]:
        metadata = client.metadata
        if metadata.jwks is not None:
            return parse_key_set(metadata.jwks)
        if metadata.jwks_uri is None:
            _refuse("the client has no registered keys")
        return await self._fetcher.keys(metadata.jwks_uri, refresh=refresh)

    def _check_claims(self, claims: dict[str, Any]) -> float:
        """The times, audience and jti; returns exp."""
        now = self._clock()
        exp = _numeric_date(claims, "exp")
        if exp is None:
            _refuse("exp is required")
        if exp + LEEWAY <= now:
            _refuse("it has expired")
        if exp - now > MAX_LIFETIME + LEEWAY:
            _refuse(f"exp may be at most {int(MAX_LIFETIME)} seconds ahead")
        for name in ("nbf", "iat"):
            at = _numeric_date(claims, name)
            if at is not None and at > now + LEEWAY:
                _refuse(f"{name} is in the future")
        audience = claims.get("aud")
        names = [audience] if isinstance(audience, str) else audience
        ours = isinstance(names, list) and all(
            isinstance(n, str) and n in self._audiences for n in names
        )
        if not names or not ours:
            _refuse("aud must name this server (its issuer or token endpoint) and no other")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 1 <= len(jti) <= MAX_JTI:
            _refuse("jti is required")
        return exp


def _verifies(token: str, key: ClientKey) -> bool:
    """The signature alone (claims are checked by the verifier, on its clock)."""
    try:
        pyjwt.decode(
            token,
            key=key.jwk.key,
            algorithms=[key.alg],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except pyjwt.PyJWTError:
        return False
    return True
