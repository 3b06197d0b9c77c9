"""Sign-ins in progress for Cognito's challenge flows: opaque, single use, short-lived.

Cognito answers InitiateAuth with a challenge and a token to come back with: the
SECRET_BLOCK of an SRP exchange, or the `Session` of a NEW_PASSWORD_REQUIRED or MFA
challenge. Here such a token is 32 random bytes; the database keeps only its SHA-256,
which user and client it was issued for, and what the next step needs (sealed under the
key-encryption key, bound to the token's hash). Taking a session deletes its row, so a
token works once even when two requests race, and a token presented by another client,
for another step, or after its lifetime (three minutes, as Cognito) is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from authgate.store import Transaction
from authgate.store.records import CognitoAuthSessionRecord
from authgate.tokens.keys import KeyEncryptor

TOKEN_BYTES = 32
SESSION_TTL = 180.0
_MAX_TOKEN_TEXT = 2048


@dataclass(frozen=True)
class AuthSession:
    """A taken (hence spent) session: who, for which client, and its sealed state."""

    kind: str
    sub: str | None
    client_id: str
    user_id: str
    state: dict[str, Any]


def encode_token(token: bytes) -> str:
    return base64.b64encode(token).decode("ascii")


def decode_token(text: object) -> bytes | None:
    """The raw token behind a SECRET_BLOCK or Session string, or None if it cannot be one."""
    if not isinstance(text, str) or not text or len(text) > _MAX_TOKEN_TEXT:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == TOKEN_BYTES else None


def _hash(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


def _aad(token_hash: str) -> bytes:
    return f"authgate cognito auth session v1 {token_hash}".encode()


class AuthSessions:
    def __init__(
        self,
        sealer: KeyEncryptor,
        ttl: float = SESSION_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sealer = sealer
        self._ttl = ttl
        self._clock = clock

    async def issue(
        self,
        tx: Transaction,
        kind: str,
        *,
        sub: str | None,
        client_id: str,
        user_id: str,
        state: dict[str, Any] | None = None,
    ) -> bytes:
        """A new token for the next step `kind`; expired sessions are cleared on the way."""
        now = self._clock()
        await tx.srp.purge_sessions(now)
        token = secrets.token_bytes(TOKEN_BYTES)
        token_hash = _hash(token)
        sealed = self._sealer.encrypt(json.dumps(state or {}).encode(), _aad(token_hash))
        await tx.srp.add_session(
            CognitoAuthSessionRecord(
                token_hash=token_hash,
                kind=kind,
                sub=sub,
                client_id=client_id,
                user_id=user_id,
                state=sealed,
                created_at=now,
                expires_at=now + self._ttl,
            )
        )
        return token

    async def peek(
        self, tx: Transaction, token: bytes | None, kinds: Iterable[str], client_id: str
    ) -> AuthSession | None:
        """What `take` would return, without spending the session."""
        if token is None:
            return None
        return self._opened(await tx.srp.get_session(_hash(token)), kinds, client_id)

    async def take(
        self, tx: Transaction, token: bytes | None, kinds: Iterable[str], client_id: str
    ) -> AuthSession | None:
        """Spend the session: its contents when it is live, of one of `kinds`, and was
        issued to `client_id`; None otherwise (spent either way)."""
        if token is None:
            return None
        return self._opened(await tx.srp.take_session(_hash(token)), kinds, client_id)

    def _opened(
        self, row: CognitoAuthSessionRecord | None, kinds: Iterable[str], client_id: str
    ) -> AuthSession | None:
        if (
            row is None
            or row.expires_at <= self._clock()
            or row.kind not in set(kinds)
            or row.client_id != client_id
        ):
            return None
        state: dict[str, Any] = {}
        if row.state is not None:
            try:
                state = json.loads(self._sealer.decrypt(row.state, _aad(row.token_hash)))
            except ValueError:
                return None
        return AuthSession(row.kind, row.sub, row.client_id, row.user_id, state)
