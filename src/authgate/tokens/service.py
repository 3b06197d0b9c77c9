"""Issuing and checking the pool's tokens: JWT access and id tokens, opaque refresh tokens.

Refresh tokens live in families, one per sign-in. Each use spends the presented token and
issues the next one in the same family; presenting a spent token means it was copied, so
the whole family is revoked (the thief's and the owner's copies alike). A family's
lifetime is fixed at sign-in: rotation never extends it.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authgate.audit import Caller, record
from authgate.config import TokenSettings
from authgate.errors import InvalidToken
from authgate.identity.clients import Client, client_from_record
from authgate.store import Store, Transaction
from authgate.store.records import RefreshFamilyRecord, RefreshTokenRecord, UserRecord
from authgate.tokens.jwt import TokenCodec, UnknownSigningKey
from authgate.tokens.keystore import KeyManager

ACCESS_TYP = "at+jwt"
ID_CLAIMS = (
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "address",
    "updated_at",
)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    id_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "id_token": self.id_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(
        self,
        store: Store,
        codec: TokenCodec,
        issuer: str,
        settings: TokenSettings,
        keys: KeyManager | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._store = store
        self._codec = codec
        self._issuer = issuer
        self._settings = settings
        self._clock = clock

    def _ttl(self, client: Client, kind: str) -> float:
        value = getattr(client.metadata, f"{kind}_token_ttl")
        return float(value) if value else float(getattr(self._settings, f"{kind}_ttl"))

    def _issued_at(self, user: UserRecord) -> int:
        # A token whose iat is at or before the user's sign-out cutoff is refused, so a token
        # minted in the same second as "sign out everywhere" is dated just after it.
        now = math.floor(self._clock())
        return max(now, math.floor(user.tokens_valid_after) + 1)

    def _access_token(self, user: UserRecord, client: Client, scope: str) -> tuple[str, int]:
        iat = self._issued_at(user)
        ttl = int(self._ttl(client, "access"))
        claims = {
            "iss": self._issuer,
            "sub": user.sub,
            "aud": client.client_id,
            "client_id": client.client_id,
            "username": user.username,
            "scope": scope,
            "groups": list(user.groups),
            "token_use": "access",
            "iat": iat,
            "exp": iat + ttl,
            "jti": secrets.token_urlsafe(16),
        }
        return self._codec.sign(claims, typ=ACCESS_TYP), ttl

    def _id_token(self, user: UserRecord, client: Client, auth_time: float) -> str:
        iat = self._issued_at(user)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": user.sub,
            "aud": client.client_id,
            "iat": iat,
            "exp": iat + int(self._ttl(client, "id")),
            "auth_time": int(auth_time),
            "token_use": "id",
            "username": user.username,
        }
        if user.email:
            claims["email"] = user.email
            claims["email_verified"] = user.email_verified
        claims.update({k: v for k, v in user.attributes.items() if k in ID_CLAIMS})
        if user.groups:
            claims["groups"] = list(user.groups)
        return self._codec.sign(claims, typ="JWT")

    async def _new_refresh_token(self, tx: Transaction, family_id: str, expires_at: float) -> str:
        token = secrets.token_urlsafe(32)
        await tx.refresh.add_token(
            RefreshTokenRecord(
                token_hash=hash_refresh_token(token),
                family_id=family_id,
                issued_at=self._clock(),
                expires_at=expires_at,
            )
        )
        return token

    async def issue(
        self, tx: Transaction, user: UserRecord, client: Client, scope: str, auth_time: float
    ) -> TokenSet:
        """Tokens for a fresh sign-in: a new refresh family, inside the caller's transaction."""
        now = self._clock()
        family = RefreshFamilyRecord(
            family_id=secrets.token_hex(16),
            sub=user.sub,
            client_id=client.client_id,
            scope=scope,
            auth_time=auth_time,
            created_at=now,
        )
        await tx.refresh.add_family(family)
        refresh = await self._new_refresh_token(
            tx, family.family_id, now + self._ttl(client, "refresh")
        )
        access, ttl = self._access_token(user, client, scope)
        return TokenSet(access, self._id_token(user, client, auth_time), refresh, ttl)

    async def refresh(self, refresh_token: str, caller: Caller) -> TokenSet:
        """Spend a refresh token for a new set; a replayed token revokes its family."""
        if not refresh_token or len(refresh_token) > 512:
            raise InvalidToken("The refresh token is invalid.")
        now = self._clock()
        reused: RefreshFamilyRecord | None = None
        async with self._store.transaction() as tx:
            found = await tx.refresh.get(hash_refresh_token(refresh_token))
            if found is None:
                raise InvalidToken("The refresh token is invalid.")
            token, family = found
            if family.revoked_at is not None or token.expires_at <= now:
                raise InvalidToken("The refresh token is revoked or expired.")
            if token.spent_at is not None or not await tx.refresh.spend(token.token_hash, now):
                await tx.refresh.revoke_family(family.family_id, now)
                await record(
                    tx,
                    "refresh_reuse_detected",
                    caller,
                    sub=family.sub,
                    client_id=family.client_id,
                    family_id=family.family_id,
                )
                reused = family
            else:
                user = await tx.users.get(family.sub)
                client_record = await tx.clients.get(family.client_id)
                if user is None or not user.enabled or client_record is None:
                    raise InvalidToken("The refresh token is no longer valid.")
                client = client_from_record(client_record)
                if not client.allows("refresh_token"):
                    raise InvalidToken("The client may not use refresh tokens.")
                new_refresh = await self._new_refresh_token(tx, family.family_id, token.expires_at)
                await record(tx, "token_refresh", caller, sub=user.sub, client_id=client.client_id)
                access, ttl = self._access_token(user, client, family.scope)
                id_token = self._id_token(user, client, family.auth_time)
        if reused is not None:
            raise InvalidToken("The refresh token was already used; its sign-in is revoked.")
        return TokenSet(access, id_token, new_refresh, ttl)

    async def revoke_family_of(self, refresh_token: str, caller: Caller) -> None:
        """Sign out one sign-in. Unknown tokens are ignored (RFC 7009 style)."""
        async with self._store.transaction() as tx:
            found = await tx.refresh.get(hash_refresh_token(refresh_token))
            if found is None:
                return
            _, family = found
            await tx.refresh.revoke_family(family.family_id, self._clock())
            await record(tx, "logout", caller, sub=family.sub, client_id=family.client_id)

    async def sign_out_everywhere(self, tx: Transaction, user: UserRecord) -> None:
        """Revoke every refresh family; access tokens issued until now stop working."""
        now = self._clock()
        await tx.refresh.revoke_user(user.sub, now)
        user.tokens_valid_after = now
        user.updated_at = now
        await tx.users.update(user)

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """Signature, issuer, expiry, type: everything that needs no database."""
        return self._codec.verify(token, token_use="access", audience=None, typ=ACCESS_TYP)

    async def check_access_token(self, token: str) -> dict[str, Any]:
        """As `verify_access_token`, but a key rotated by another replica is picked up."""
        try:
            return self.verify_access_token(token)
        except UnknownSigningKey:
            if self._keys is None or not await self._keys.reload_for_unknown_kid():
                raise
        return self.verify_access_token(token)

    @staticmethod
    def is_cut_off(claims: dict[str, Any], user: UserRecord) -> bool:
        """True when the token predates the user's last "sign out everywhere"."""
        iat = claims.get("iat")
        return not isinstance(iat, int | float) or iat <= user.tokens_valid_after
