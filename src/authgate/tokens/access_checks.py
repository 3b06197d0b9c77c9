"""Whether a presented access token is live: the check every resource server, the gate,
userinfo and introspection make, on every request they serve.

A JWT's signature is verified once; its claims are then kept, by the token's SHA-256, until
it expires. An opaque token's stored row is read once and kept the same way. Neither keeps
a revocation from being seen: every token revoked, one by one or with its refresh family,
has its `jti` on the deny list, which is asked on every check, so a kept token stops as
soon as the deny list knows (at once in this process, within the deny list's sync
interval, or at once over Redis, elsewhere). Whether the token's user or client is still
there is for the callers to ask, as before.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from authgate.errors import InvalidToken
from authgate.store import Store
from authgate.tokens.jwt import TokenCodec, UnknownSigningKey
from authgate.tokens.keystore import KeyManager
from authgate.tokens.refresh import hash_refresh_token
from authgate.tokens.revocation import DenyList

ACCESS_TYP = "at+jwt"
MAX_OPAQUE_LENGTH = 512
KEPT_MAX = 10_000


def looks_like_jwt(token: str) -> bool:
    """A compact JWS has three segments; our opaque tokens are base64url without dots."""
    return token.count(".") == 2


class _Kept:
    """Tokens found live, with their claims and jti, until each one's expiry: at most
    KEPT_MAX, the expired ones dropped first, then the oldest."""

    def __init__(self) -> None:
        self._tokens: dict[bytes, tuple[float, str | None, dict[str, Any]]] = {}

    def get(self, key: bytes, now: float) -> tuple[str | None, dict[str, Any]] | None:
        found = self._tokens.get(key)
        if found is None or now >= found[0]:
            return None
        return found[1], found[2]

    def put(
        self, key: bytes, expires_at: float, jti: str | None, claims: dict[str, Any], now: float
    ) -> None:
        if len(self._tokens) >= KEPT_MAX:
            self._tokens = {k: v for k, v in self._tokens.items() if now < v[0]}
            while len(self._tokens) >= KEPT_MAX:
                self._tokens.pop(next(iter(self._tokens)))
        self._tokens[key] = (expires_at, jti, claims)


class AccessTokenChecks:
    def __init__(
        self,
        store: Store,
        codec: TokenCodec,
        keys: KeyManager | None,
        deny: DenyList | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._codec = codec
        self._keys = keys
        self._deny = deny
        self._clock = clock
        self._kept = _Kept()

    def verify(self, token: str) -> dict[str, Any]:
        """Signature, issuer, expiry, type: everything that needs no database."""
        return self._codec.verify(token, token_use="access", audience=None, typ=ACCESS_TYP)

    async def check(self, token: str) -> dict[str, Any]:
        """The claims of a live access token, JWT or opaque, that nobody revoked (a copy:
        callers may change it)."""
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        kept = self._kept.get(key, now)
        if kept is None:
            jti, claims, expires_at = await self._first_check(token)
            self._kept.put(key, expires_at, jti, claims, now)
        else:
            jti, claims = kept
        if self._deny is not None and (jti is None or await self._deny.check(jti)):
            raise InvalidToken("The access token is revoked.")
        return dict(claims)

    async def _first_check(self, token: str) -> tuple[str | None, dict[str, Any], float]:
        if not looks_like_jwt(token):
            return await self._opaque(token)
        try:
            claims = self.verify(token)
        except UnknownSigningKey:
            if self._keys is None or not await self._keys.reload_for_unknown_kid():
                raise
            claims = self.verify(token)
        jti = claims.get("jti")
        exp = claims.get("exp")
        return (jti if isinstance(jti, str) else None), claims, float(exp or 0)

    async def _opaque(self, token: str) -> tuple[str | None, dict[str, Any], float]:
        if not token or len(token) > MAX_OPAQUE_LENGTH:
            raise InvalidToken("The access token is invalid.")
        async with self._store.read() as tx:
            found = await tx.oauth.get_opaque(hash_refresh_token(token))
        if found is None or found.revoked_at is not None or found.expires_at <= self._clock():
            raise InvalidToken("The access token is invalid, expired or revoked.")
        return found.jti, dict(found.claims), found.expires_at
