"""Hosted sign-in sessions (the browser's cookie) and remembered consents.

A session id is 256 random bits that only the browser holds; the database keeps its
SHA-256 hash, so a copy of the database signs no one in. A session stops counting when it
expires, is ended, or predates the user's last "sign out everywhere" (password reset,
admin sign-out), and when the account is gone or disabled.

A consent is remembered per user and client as the set of scopes granted so far: a later
request for a subset of them needs no page, a request for anything more asks again.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from authgate.audit import Caller, record
from authgate.errors import NotFound
from authgate.store import Store
from authgate.store.records import BrowserSessionRecord, ConsentRecord, UserRecord
from authgate.tokens.amr import PASSWORD, loaded, stored
from authgate.tokens.revocation import DenyList

MAX_SESSION_ID = 128


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """A live browser session and the user it belongs to."""

    session_id: str
    user: UserRecord
    auth_time: float
    amr: tuple[str, ...] = (PASSWORD,)
    """How the user signed in (`authgate.tokens.amr`): codes issued from it carry it."""


class BrowserSessions:
    def __init__(self, store: Store, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock

    @property
    def ttl(self) -> float:
        return self._ttl

    async def start(
        self,
        user: UserRecord,
        caller: Caller,
        replaces: str | None = None,
        amr: Sequence[str] = (PASSWORD,),
    ) -> SignedIn:
        """A new session for a user who just proved who they are (`amr`: how).

        A session id the browser already had is ended, never reused (session fixation).
        """
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._store.transaction() as tx:
            if replaces:
                await tx.oauth.revoke_session(hash_session_id(replaces), now)
            await tx.oauth.add_session(
                BrowserSessionRecord(
                    session_hash=hash_session_id(session_id),
                    sub=user.sub,
                    auth_time=now,
                    created_at=now,
                    expires_at=now + self._ttl,
                    amr=stored(amr),
                )
            )
            await record(tx, "browser_session_started", caller, sub=user.sub, amr=list(amr))
        return SignedIn(session_id, user, now, tuple(amr))

    async def current(self, session_id: str | None) -> SignedIn | None:
        """The live session behind a cookie value, or None."""
        if not session_id or len(session_id) > MAX_SESSION_ID:
            return None
        now = self._clock()
        async with self._store.read() as tx:
            session = await tx.oauth.get_session(hash_session_id(session_id))
            if session is None or session.revoked_at is not None or session.expires_at <= now:
                return None
            user = await tx.users.get(session.sub)
        if user is None or not user.enabled or user.status == "unconfirmed":
            return None
        if session.created_at <= user.tokens_valid_after:
            return None
        return SignedIn(session_id, user, session.auth_time, tuple(loaded(session.amr)))

    async def end(self, session_id: str | None, caller: Caller) -> None:
        """End a session (sign-out); unknown or ended sessions are ignored."""
        if not session_id or len(session_id) > MAX_SESSION_ID:
            return
        async with self._store.transaction() as tx:
            session = await tx.oauth.get_session(hash_session_id(session_id))
            if session is None or session.revoked_at is not None:
                return
            await tx.oauth.revoke_session(session.session_hash, self._clock())
            await record(tx, "browser_session_ended", caller, sub=session.sub)


class Consents:
    def __init__(
        self, store: Store, clock: Callable[[], float] = time.time, deny: DenyList | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._deny = deny

    async def covers(self, sub: str, client_id: str, scopes: Iterable[str]) -> bool:
        """True when the user already granted this client every one of `scopes`."""
        async with self._store.read() as tx:
            consent = await tx.oauth.get_consent(sub, client_id)
        return consent is not None and set(scopes) <= set(consent.scope.split())

    async def grant(self, sub: str, client_id: str, scopes: Iterable[str], caller: Caller) -> None:
        """Remember `scopes` for this user and client, added to what was granted before."""
        async with self._store.transaction() as tx:
            before = await tx.oauth.get_consent(sub, client_id)
            granted = list(before.scope.split()) if before else []
            granted += [s for s in scopes if s not in granted]
            await tx.oauth.put_consent(
                ConsentRecord(sub, client_id, " ".join(granted), self._clock())
            )
            await record(tx, "consent_granted", caller, sub=sub, client_id=client_id)

    async def list(self, sub: str) -> list[ConsentRecord]:
        async with self._store.read() as tx:
            return await tx.oauth.list_consents(sub)

    async def revoke(self, sub: str, client_id: str, caller: Caller) -> None:
        """Forget a consent, so the next request from that client asks again, and end the
        client's refresh and access tokens for this user: what was allowed is taken back."""
        async with self._store.transaction() as tx:
            if not await tx.oauth.delete_consent(sub, client_id):
                raise NotFound("No consent for this client.")
            if self._deny is not None:
                await self._deny.revoke_client_grants(tx, sub, client_id)
            else:
                await tx.refresh.revoke_user_client(sub, client_id, self._clock())
            await record(tx, "consent_revoked", caller, sub=sub, client_id=client_id)
