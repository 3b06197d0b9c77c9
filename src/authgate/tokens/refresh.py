"""Refresh token families: start, rotate, and the reuse interval.

A family is one sign-in. Each use spends the presented token and issues the next one in
the same family; presenting a spent token means it was copied, so the whole family is
revoked, with the access tokens it issued (the thief's and the owner's copies alike). A
family's lifetime is fixed at sign-in: rotation never extends it. A family belongs to the
client it was issued to; only that client may refresh it.

Two copies of one client (two tabs, two workers) often refresh with the same token at
once; the loser would revoke the family and sign its user out. Within
`tokens.refresh_reuse_interval` after a rotation, the same client presenting the token it
just spent gets the same successor pair again instead. Refresh tokens are stored only as
hashes, so the successor pair is kept sealed (AES-256-GCM under the key-encryption key,
bound to the spent token's hash) in the spent token's row, for the interval only: it is
dropped when the successor is spent in turn (so only the immediate predecessor can
repeat), ignored once the interval is over and wiped by the periodic purge. A database
copy without the key-encryption key opens none of it. Deriving the successor from a
secret and the predecessor instead would have made every successor computable forever
by whoever holds that secret and a spent token, and the access token would still differ.

A client registered with `refresh_token_rotation: false` (Cognito's clients without
rotation, which keep their first refresh token for the sign-in's whole life) is refreshed
without spending: the presented token stays valid until its family is revoked or expires,
and no successor is issued. There is then no spent token to detect a copy by; that is the
trade-off such a client accepts (docs/clients.md).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from authgate.audit import Caller, record
from authgate.clients.registry import Client, client_from_record
from authgate.errors import InvalidToken
from authgate.store import Transaction
from authgate.store.records import RefreshFamilyRecord, RefreshTokenRecord, UserRecord
from authgate.tokens.amr import PASSWORD, stored
from authgate.tokens.keys import KeyEncryptor
from authgate.tokens.revocation import DenyList

MAX_REFRESH_LENGTH = 512


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Successor:
    """What a rotation answered: the pair the same client gets again within the interval.

    `via` is the client that authenticated at the token endpoint (None: the pool's own
    API); a repeat must come the same way."""

    access_token: str
    refresh_token: str | None
    id_token: str | None
    expires_in: int
    scope: str
    via: str | None

    def seal(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def unseal(cls, data: bytes) -> Successor:
        fields: dict[str, Any] = json.loads(data)
        return cls(**fields)


@dataclass(frozen=True)
class Rotation:
    """A refresh token was accepted: who it was for and the one that replaces it.

    `refresh_token` is None when the client does not rotate: the presented token was not
    spent and stays the sign-in's refresh token, so the answer carries none."""

    user: UserRecord
    client: Client
    family: RefreshFamilyRecord
    refresh_token: str | None
    spent_hash: str


def _aad(token_hash: str) -> bytes:
    return f"authgate refresh successor {token_hash}".encode()


class RefreshFamilies:
    def __init__(
        self,
        deny: DenyList | None,
        sealer: KeyEncryptor | None,
        reuse_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._deny = deny
        self._sealer = sealer
        self._reuse_interval = reuse_interval if sealer is not None else 0.0
        self._clock = clock

    async def add_token(self, tx: Transaction, family_id: str, expires_at: float) -> str:
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

    async def start(
        self,
        tx: Transaction,
        user: UserRecord,
        client: Client,
        scope: str,
        auth_time: float,
        ttl: float,
        amr: Sequence[str] = (PASSWORD,),
    ) -> tuple[str, str]:
        """Start a family for a sign-in; returns (family_id, first refresh token)."""
        now = self._clock()
        family = RefreshFamilyRecord(
            family_id=secrets.token_hex(16),
            sub=user.sub,
            client_id=client.client_id,
            scope=scope,
            auth_time=auth_time,
            created_at=now,
            amr=stored(amr),
        )
        await tx.refresh.add_family(family)
        return family.family_id, await self.add_token(tx, family.family_id, now + ttl)

    async def revoke(self, tx: Transaction, family_ids: list[str]) -> None:
        """End families and (with a deny list) the access tokens they issued."""
        if self._deny is not None:
            await self._deny.revoke_families(tx, family_ids)
            return
        await tx.refresh.revoke_families(family_ids, self._clock())

    async def rotate(
        self, tx: Transaction, refresh_token: object, caller: Caller, client_id: str | None
    ) -> Rotation | Successor | None:
        """Spend a refresh token and issue its successor in the caller's transaction (for a
        client without rotation: accept it unspent, with no successor).

        A Successor is the pair an identical request got moments ago (the reuse
        interval). None means the token had been spent before: its family is now
        revoked, and the caller must commit that before refusing. `client_id` is the
        authenticated client at the token endpoint; without one (the pool's own API) only
        families of clients that sign users in with a password may be refreshed, so an
        OAuth client's refresh token cannot skip that client's authentication.
        """
        if not isinstance(refresh_token, str) or not refresh_token:
            raise InvalidToken("The refresh token is invalid.")
        if len(refresh_token) > MAX_REFRESH_LENGTH:
            raise InvalidToken("The refresh token is invalid.")
        now = self._clock()
        found = await tx.refresh.get(hash_refresh_token(refresh_token))
        if found is None:
            raise InvalidToken("The refresh token is invalid.")
        token, family = found
        if client_id is not None and family.client_id != client_id:
            raise InvalidToken("The refresh token was issued to another client.")
        if token.expires_at <= now or not await tx.refresh.lock_live_family(family.family_id):
            raise InvalidToken("The refresh token is revoked or expired.")
        user, client = await self._parties(tx, family, client_id)
        if token.spent_at is None and not client.metadata.refresh_token_rotation:
            await record(tx, "token_refresh", caller, sub=user.sub, client_id=client.client_id)
            return Rotation(user, client, family, None, token.token_hash)
        if token.spent_at is None and await tx.refresh.spend(token.token_hash, now):
            # The token this one replaced is no longer the one just rotated.
            await tx.refresh.forget_successors(family.family_id)
            successor = await self.add_token(tx, family.family_id, token.expires_at)
            await record(tx, "token_refresh", caller, sub=user.sub, client_id=client.client_id)
            return Rotation(user, client, family, successor, token.token_hash)
        repeated = await self._sealed(tx, token.token_hash, now)
        if repeated is not None and repeated.via == client_id:
            await record(
                tx, "token_refresh_repeated", caller, sub=user.sub, client_id=client.client_id
            )
            return repeated
        await self.revoke(tx, [family.family_id])
        await record(
            tx,
            "refresh_reuse_detected",
            caller,
            sub=family.sub,
            client_id=family.client_id,
            family_id=family.family_id,
        )
        return None

    async def _parties(
        self, tx: Transaction, family: RefreshFamilyRecord, client_id: str | None
    ) -> tuple[UserRecord, Client]:
        user = await tx.users.get(family.sub)
        client_record = await tx.clients.get(family.client_id)
        if user is None or not user.enabled or client_record is None:
            raise InvalidToken("The refresh token is no longer valid.")
        client = client_from_record(client_record)
        if not client.allows("refresh_token"):
            raise InvalidToken("The client may not use refresh tokens.")
        if client_id is None and not client.allows("password"):
            raise InvalidToken("This sign-in is refreshed at the token endpoint.")
        return user, client

    async def seal(self, tx: Transaction, rotation: Rotation, successor: Successor) -> None:
        """Keep what this rotation answered for the reuse interval (0: not at all); a
        token that was not spent has nothing to repeat."""
        if self._sealer is None or self._reuse_interval <= 0 or rotation.refresh_token is None:
            return
        blob = self._sealer.encrypt(successor.seal(), _aad(rotation.spent_hash))
        until = self._clock() + self._reuse_interval
        await tx.refresh.seal_successor(rotation.spent_hash, blob, until)

    async def _sealed(self, tx: Transaction, token_hash: str, now: float) -> Successor | None:
        if self._sealer is None or self._reuse_interval <= 0:
            return None
        found = await tx.refresh.sealed_successor(token_hash)
        if found is None or found[1] <= now:
            return None
        try:
            return Successor.unseal(self._sealer.decrypt(found[0], _aad(token_hash)))
        except ValueError:
            return None
