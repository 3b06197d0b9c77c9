"""Hosted sign-in sessions (the browser's cookie) and remembered consents.

A session id is 256 random bits that only the browser holds; the database keeps its
SHA-256 hash, so a copy of the database signs no one in. A session stops counting when it
expires, is ended, or predates the user's last "sign out everywhere" (password reset,
admin sign-out), and when the account is gone or disabled.

A session also remembers the device (User-Agent, cut to 256 characters) and address it
was last used from, and when: the account page lists them so their holder can end the ones
they do not know. Each has an opaque public id for that, never its hash or cookie value.

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
USER_AGENT_MAX = 256
TOUCH_EVERY = 60.0
"""A session's last use is written at most once a minute: writing on every request would
make each page view and each gated request a database write, for a time shown in minutes."""


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """A live browser session and the user it belongs to."""

    session_id: str
    user: UserRecord
    auth_time: float
    public_id: str | None = None
    reauth_at: float | None = None
    amr: tuple[str, ...] = (PASSWORD,)
    """How the user signed in (`authgate.tokens.amr`): codes issued from it carry it."""

    @property
    def proved_at(self) -> float:
        """When the holder last proved who they are: the sign-in or a later re-authentication."""
        return max(self.auth_time, self.reauth_at or 0.0)


@dataclass(frozen=True)
class SessionView:
    """One of a user's live sessions, as the account page and `/v1/me/sessions` show it."""

    public_id: str
    created_at: float
    last_used_at: float
    ip: str | None
    user_agent: str | None
    current: bool


def _device(caller: Caller) -> str | None:
    return (caller.user_agent or "")[:USER_AGENT_MAX] or None


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
        public_id = secrets.token_urlsafe(16)
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
                    public_id=public_id,
                    user_agent=_device(caller),
                    ip=caller.ip,
                    last_used_at=now,
                    amr=stored(amr),
                )
            )
            await record(tx, "browser_session_started", caller, sub=user.sub, amr=list(amr))
        return SignedIn(session_id, user, now, public_id, amr=tuple(amr))

    async def current(
        self, session_id: str | None, seen_from: Caller | None = None
    ) -> SignedIn | None:
        """The live session behind a cookie value, or None.

        A use is noted (time, and the address and device of `seen_from` when given) when
        the last one noted is a minute old or more: see TOUCH_EVERY.
        """
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
        if now - (session.last_used_at or 0.0) >= TOUCH_EVERY:
            caller = seen_from or Caller()
            async with self._store.transaction() as tx:
                await tx.browser_sessions.touch(
                    session.session_hash, now, caller.ip, _device(caller)
                )
        return SignedIn(
            session_id,
            user,
            session.auth_time,
            session.public_id,
            session.reauth_at,
            tuple(loaded(session.amr)),
        )

    async def of_user(self, user: UserRecord, current: str | None = None) -> list[SessionView]:
        """The user's live sessions, most recently used first; `current` (a cookie value)
        marks the one the asking browser holds."""
        current_hash = hash_session_id(current) if current else None
        async with self._store.read() as tx:
            sessions = await tx.browser_sessions.live_of(
                user.sub, self._clock(), user.tokens_valid_after
            )
        return [
            SessionView(
                public_id=s.public_id or "",
                created_at=s.created_at,
                last_used_at=s.last_used_at or s.created_at,
                ip=s.ip,
                user_agent=s.user_agent,
                current=s.session_hash == current_hash,
            )
            for s in sessions
            if s.public_id
        ]

    async def end_one(self, user: UserRecord, public_id: str, caller: Caller) -> None:
        """End one of the user's own sessions; any other id (another user's, an ended one,
        a made-up one) is not found, alike."""
        async with self._store.transaction() as tx:
            ended = await tx.browser_sessions.revoke_public(user.sub, public_id, self._clock())
            if ended is None:
                raise NotFound("No such session.")
            await record(tx, "browser_session_ended", caller, sub=user.sub)

    async def end_all(self, user: UserRecord, caller: Caller, keep: str | None = None) -> int:
        """End every session of the user but the one whose cookie value is `keep`."""
        keep_hash = hash_session_id(keep) if keep else None
        async with self._store.transaction() as tx:
            count = await tx.browser_sessions.revoke_all_but(user.sub, keep_hash, self._clock())
            await record(
                tx, "browser_sessions_ended", caller, sub=user.sub, count=count, kept=bool(keep)
            )
        return count

    def proved_within(self, signed_in: SignedIn, seconds: float) -> bool:
        """True when the holder signed in or re-authenticated less than `seconds` ago."""
        return self._clock() - signed_in.proved_at < seconds

    async def reauthenticated(self, signed_in: SignedIn, caller: Caller) -> SignedIn:
        """Note that the holder just proved who they are again (password or second factor)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.browser_sessions.mark_reauthenticated(
                hash_session_id(signed_in.session_id), now
            )
            await record(tx, "browser_session_reauthenticated", caller, sub=signed_in.user.sub)
        return SignedIn(
            signed_in.session_id,
            signed_in.user,
            signed_in.auth_time,
            signed_in.public_id,
            now,
            signed_in.amr,
        )

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
