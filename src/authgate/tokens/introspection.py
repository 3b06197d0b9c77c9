"""What a presented token is, and whether it is still good: for introspection (RFC 7662)
and revocation (RFC 7009).

A token is one of: a JWT access token, an opaque access token, a refresh token, or nothing
we recognise. Anything that is not live (expired, revoked, spent, malformed, unknown, an
id token, a token whose user is gone or disabled or signed out everywhere since) is
inactive, and an inactive answer says nothing else (RFC 7662 2.2).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authgate.clients.registry import ClientRegistry
from authgate.errors import InvalidToken
from authgate.store import Store, Transaction
from authgate.store.records import OpaqueTokenRecord, RefreshFamilyRecord, RefreshTokenRecord
from authgate.tokens.access_checks import looks_like_jwt
from authgate.tokens.jwt import MAX_TOKEN_BYTES
from authgate.tokens.service import TokenService, hash_token

ACCESS_CLAIMS = (
    "scope",
    "client_id",
    "username",
    "exp",
    "iat",
    "nbf",
    "sub",
    "aud",
    "iss",
    "jti",
    "amr",
    "acr",
)


@dataclass(frozen=True)
class FoundRefresh:
    token: RefreshTokenRecord
    family: RefreshFamilyRecord


def _usable(token: object) -> str | None:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
        return None
    return token


class TokenInspector:
    def __init__(
        self,
        store: Store,
        tokens: TokenService,
        clients: ClientRegistry,
        issuer: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = clients
        self._store = store
        self._tokens = tokens
        self._issuer = issuer
        self._clock = clock

    async def access_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a live access token (JWT or opaque), else None."""
        try:
            return await self._tokens.check_access_token(token)
        except InvalidToken:
            return None

    async def subject_is_live(self, claims: dict[str, Any]) -> bool:
        """A user token's user still exists, is enabled and has not signed out everywhere
        since; a client token's client still exists (as of the client cache)."""
        if "username" not in claims:
            return await self._clients.lookup(str(claims.get("client_id"))) is not None
        async with self._store.read() as tx:
            user = await tx.users.get(str(claims.get("sub")))
        return user is not None and user.enabled and not self._tokens.is_cut_off(claims, user)

    async def live_access_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of an access token that is live now: valid, unexpired (no leeway:
        the issuer is the verifier here), unrevoked, and its user or client still there."""
        claims = await self.access_claims(token)
        if claims is None or claims.get("exp", 0) <= self._clock():
            return None
        return claims if await self.subject_is_live(claims) else None

    async def introspect(self, token: object, hint: object) -> dict[str, Any]:
        """RFC 7662 2.2: the standard fields for a live token, `{"active": false}` else."""
        value = _usable(token)
        answer = None
        if value is not None and looks_like_jwt(value):
            answer = await self._introspect_access(value)
        elif value is not None and hint == "access_token":
            # Both kinds are stored by one hash; the hint only decides which is tried first.
            answer = await self._introspect_access(value) or await self._introspect_refresh(value)
        elif value is not None:
            answer = await self._introspect_refresh(value) or await self._introspect_access(value)
        return answer or {"active": False}

    async def _introspect_access(self, token: str) -> dict[str, Any] | None:
        claims = await self.live_access_claims(token)
        if claims is None:
            return None
        answer: dict[str, Any] = {"active": True, "token_type": "Bearer"}
        answer.update({k: claims[k] for k in ACCESS_CLAIMS if k in claims})
        return answer

    async def _introspect_refresh(self, token: str) -> dict[str, Any] | None:
        now = self._clock()
        async with self._store.read() as tx:
            found = await tx.refresh.get(hash_token(token))
            if found is None:
                return None
            record, family = found
            if family.revoked_at is not None or record.spent_at is not None:
                return None
            if record.expires_at <= now:
                return None
            user = await tx.users.get(family.sub)
            client = await tx.clients.get(family.client_id)
        if user is None or not user.enabled or client is None:
            return None
        return {
            "active": True,
            "token_type": "refresh_token",
            "scope": family.scope,
            "client_id": family.client_id,
            "username": user.username,
            "sub": family.sub,
            "iss": self._issuer,
            "iat": int(record.issued_at),
            "exp": int(record.expires_at),
        }

    async def find_stored(
        self, tx: Transaction, token: str
    ) -> FoundRefresh | OpaqueTokenRecord | None:
        """A refresh token or an opaque access token, by its hash, whatever its state."""
        digest = hash_token(token)
        found = await tx.refresh.get(digest)
        if found is not None:
            return FoundRefresh(*found)
        return await tx.oauth.get_opaque(digest)
