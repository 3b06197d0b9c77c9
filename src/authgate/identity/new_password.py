"""The NEW_PASSWORD_REQUIRED step: an invited user (a temporary password, status
force_change_password) who proved that password chooses their own before any token.

The proof (a typed temporary password, or SRP) opens a single-use `AuthSessions` token
bound to the user and the client; `answer` spends it with the new password and any
required attributes the user still lacks. Everything that can be refused without spending
the session (the password policy, the attributes) is checked first, so a weak password
can be corrected; the session is then spent, and the result is a `CheckedPassword` whose
replacement hash (and SRP verifier) the sign-in stores with its tokens, in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authgate.audit import Caller
from authgate.errors import InvalidRequest, InvalidSession
from authgate.identity.auth_sessions import AuthSessions, decode_token, encode_token
from authgate.identity.names import normalize_username
from authgate.identity.signin import CheckedPassword
from authgate.identity.srp_verifiers import derive_verifier
from authgate.identity.users import UserPool
from authgate.store import Store, Transaction
from authgate.store.records import UserRecord

NEW_PASSWORD_REQUIRED = "new_password_required"


@dataclass(frozen=True)
class NewPasswordChallenge:
    session: str
    user: UserRecord
    missing: list[str]
    """Required attributes the user must give with the new password."""


class NewPasswordStep:
    def __init__(self, store: Store, pool: UserPool, sessions: AuthSessions) -> None:
        self._store = store
        self._pool = pool
        self._sessions = sessions

    async def open(self, user: UserRecord, client_id: str) -> NewPasswordChallenge:
        async with self._store.transaction() as tx:
            token = await self._sessions.issue(
                tx, NEW_PASSWORD_REQUIRED, sub=user.sub, client_id=client_id, user_id=user.username
            )
        missing = self._pool.attributes.missing_required(user.attributes)
        return NewPasswordChallenge(encode_token(token), user, missing)

    async def answer(
        self,
        session: object,
        client_id: str,
        username: object,
        new_password: object,
        attributes: Mapping[str, Any],
        caller: Caller,
    ) -> CheckedPassword:
        """The user and their chosen password, the session spent; InvalidSession for a
        session that is not live (or not this user's, or not this client's)."""
        if not isinstance(new_password, str):
            raise InvalidRequest("NEW_PASSWORD is required.", field="NEW_PASSWORD")
        token = decode_token(session)
        async with self._store.read() as tx:
            user = await self._holder(tx, token, client_id)
        if user is None or user.status != "force_change_password" or not _same(username, user):
            raise InvalidSession()
        merged = self._pool.attributes.validate(attributes, current=user.attributes, creating=True)
        self._pool.policy.check(new_password)
        new_hash = await self._pool.hasher.hash(new_password)
        verifier = derive_verifier(self._pool.srp, user.username, new_password)
        async with self._store.transaction() as tx:
            spent = await self._sessions.take(tx, token, (NEW_PASSWORD_REQUIRED,), client_id)
            fresh = await tx.users.get(user.sub) if spent is not None else None
        if spent is None or fresh is None or spent.sub != user.sub:
            raise InvalidSession()
        if fresh.status != "force_change_password" or fresh.password_hash != user.password_hash:
            raise InvalidSession()
        fresh.attributes = merged
        return CheckedPassword(fresh, new_hash, verifier)

    async def _holder(
        self, tx: Transaction, token: bytes | None, client_id: str
    ) -> UserRecord | None:
        found = await self._sessions.peek(tx, token, (NEW_PASSWORD_REQUIRED,), client_id)
        if found is None or found.sub is None:
            return None
        user: UserRecord | None = await tx.users.get(found.sub)
        return user if user is not None and user.enabled else None


def _same(username: object, user: UserRecord) -> bool:
    """USERNAME in the answer names the session's user (or is left out)."""
    if username is None:
        return True
    try:
        return normalize_username(username) == user.username
    except InvalidRequest:
        return False
