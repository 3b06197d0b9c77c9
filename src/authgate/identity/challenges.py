"""Sign-ins waiting for a second factor: the challenge between the password and the tokens.

After a correct password, a user with a factor (or, with `mfa: required`, without one)
gets a challenge session instead of tokens: 256 random bits that only the caller holds
(the database keeps the SHA-256), alive 180 seconds, bound to the user, the client and
the amr proven so far. It is spent by the sign-in it completes; five wrong codes end it.
A "mfa_setup" challenge may only enrol a TOTP factor, which then completes it.

Until the second factor succeeds, the sign-in has not succeeded: the password's success
does not clear the user's failed-login count (or wrong codes could be tried without end,
four at a time between correct passwords), and every wrong code counts in it like a wrong
password. The success is recorded (and the count cleared) when the challenge completes.

Any factor can complete a challenge through `finish` (a passkey does, with its own amr).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from authgate.audit import Caller, record
from authgate.errors import InvalidCode, InvalidMfaSession
from authgate.identity.mfa import Enrolment, Mfa, Need
from authgate.identity.signin import CheckedPassword, PasswordSignIn
from authgate.store import Store, Transaction
from authgate.store.records import MfaChallengeRecord, UserRecord
from authgate.tokens.amr import TOTP, loaded, stored

CHALLENGE_TTL = 180
MAX_WRONG_CODES = 5
MAX_SESSION_LENGTH = 128
PURGE_EVERY = 60.0
KEEP_ENDED = 3600.0


def hash_session(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


@dataclass(frozen=True)
class Challenge:
    """What a password sign-in answers when a second factor is still due."""

    kind: Need
    session: str
    expires_in: int

    def as_json(self) -> dict[str, object]:
        return {"challenge": self.kind, "session": self.session, "expires_in": self.expires_in}


@dataclass(frozen=True)
class Completed:
    """A sign-in that is done: who, for which client (None: a hosted page), how, and when."""

    user: UserRecord
    client_id: str | None
    amr: tuple[str, ...]
    auth_time: float


@dataclass(frozen=True)
class _Live:
    challenge: MfaChallengeRecord
    user: UserRecord


class MfaLogin:
    def __init__(
        self,
        store: Store,
        mfa: Mfa,
        signin: PasswordSignIn,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.mfa = mfa
        self._signin = signin
        self._clock = clock
        self._purged_at = 0.0

    async def need(self, user: UserRecord) -> Need | None:
        async with self._store.read() as tx:
            return await self.mfa.need(tx, user)

    async def start(
        self,
        tx: Transaction,
        checked: CheckedPassword,
        client_id: str | None,
        kind: Need,
        caller: Caller,
        amr: Sequence[str] = ("pwd",),
    ) -> Challenge:
        """A challenge for a user whose password was right, in the caller's transaction
        (with the password's own bookkeeping: an upgraded or newly chosen hash)."""
        await self._signin.record_first_factor(tx, checked, caller, client_id)
        session = secrets.token_urlsafe(32)
        now = self._clock()
        if now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            await tx.mfa.purge_challenges(now - KEEP_ENDED)
        await tx.mfa.add_challenge(
            MfaChallengeRecord(
                session_hash=hash_session(session),
                sub=checked.user.sub,
                client_id=client_id,
                kind=kind,
                amr=stored(amr),
                created_at=now,
                expires_at=now + CHALLENGE_TTL,
            )
        )
        await record(tx, "mfa_challenge_started", caller, sub=checked.user.sub, kind=kind)
        return Challenge(kind, session, CHALLENGE_TTL)

    async def _live(self, tx: Transaction, session: object, kind: Need) -> _Live:
        if not isinstance(session, str) or not session or len(session) > MAX_SESSION_LENGTH:
            raise InvalidMfaSession()
        challenge = await tx.mfa.get_challenge(hash_session(session))
        if challenge is None or challenge.ended_at is not None:
            raise InvalidMfaSession()
        if challenge.expires_at <= self._clock():
            raise InvalidMfaSession()
        if challenge.kind != kind:
            raise InvalidMfaSession(
                "This sign-in session must enrol a second factor first."
                if challenge.kind == "mfa_setup"
                else "This sign-in session is not for enrolment."
            )
        user = await tx.users.get(challenge.sub)
        if user is None or not user.enabled:
            raise InvalidMfaSession()
        return _Live(challenge, user)

    async def bound_to(self, session: object, kind: Need) -> tuple[UserRecord, str | None]:
        """Whose live challenge `session` is, and for which client: an adapter whose
        protocol binds a session to a client (Cognito) checks both before answering."""
        async with self._store.read() as tx:
            live = await self._live(tx, session, kind)
        return live.user, live.challenge.client_id

    async def _user_of(self, session: object, kind: Need) -> UserRecord:
        async with self._store.read() as tx:
            return (await self._live(tx, session, kind)).user

    async def _complete(
        self, tx: Transaction, live: _Live, factor: Sequence[str], caller: Caller
    ) -> Completed:
        challenge = live.challenge
        if not await tx.mfa.end_challenge(challenge.session_hash, self._clock()):
            raise InvalidMfaSession()
        amr = tuple(dict.fromkeys([*loaded(challenge.amr), *factor]))
        await self._signin.record_complete(tx, live.user, caller, challenge.client_id, amr)
        return Completed(live.user, challenge.client_id, amr, self._clock())

    async def _wrong(self, tx: Transaction, live: _Live) -> None:
        await tx.mfa.count_challenge_failure(
            live.challenge.session_hash, MAX_WRONG_CODES, self._clock()
        )

    async def answer(
        self,
        session: object,
        caller: Caller,
        *,
        code: object = None,
        recovery_code: object = None,
    ) -> Completed:
        """Complete a "totp" challenge with a TOTP code or a recovery code."""
        user = await self._user_of(session, "totp")
        await self.mfa.check_throttle(user, caller)
        async with self._store.transaction() as tx:
            live = await self._live(tx, session, "totp")
            factor = await self.mfa.verify(
                tx, live.user, caller, code=code, recovery_code=recovery_code
            )
            if factor is None:
                await self._wrong(tx, live)
                completed = None
            else:
                completed = await self._complete(tx, live, [factor], caller)
        if completed is None:
            raise InvalidCode()
        return completed

    async def kind_of(self, session: object) -> Need | None:
        """What a live challenge asks for; None when the session is not live."""
        for kind in ("totp", "mfa_setup"):
            try:
                await self._user_of(session, kind)
            except InvalidMfaSession:
                continue
            return kind
        return None

    async def holder(self, session: object) -> UserRecord | None:
        """Whose sign-in a live "totp" challenge is (the page offers their passkeys)."""
        try:
            return await self._user_of(session, "totp")
        except InvalidMfaSession:
            return None

    async def setup(self, session: object, caller: Caller, *, keep: bool = False) -> Enrolment:
        """A pending TOTP secret for a "mfa_setup" challenge: a new one each time, or with
        `keep` the one already pending (a page shown again after a wrong code)."""
        async with self._store.transaction() as tx:
            live = await self._live(tx, session, "mfa_setup")
            enrolment = await self.mfa.pending(tx, live.user) if keep else None
            if enrolment is None:
                enrolment = await self.mfa.begin(tx, live.user)
                await record(tx, "mfa_enrolment_started", caller, sub=live.user.sub)
        return enrolment

    async def setup_verify(
        self, session: object, code: object, caller: Caller
    ) -> tuple[Completed, list[str]]:
        """Turn the pending secret on with its first code and complete the sign-in."""
        user = await self._user_of(session, "mfa_setup")
        await self.mfa.check_throttle(user, caller)
        async with self._store.transaction() as tx:
            live = await self._live(tx, session, "mfa_setup")
            codes = await self.mfa.confirm(tx, live.user, code, caller)
            if codes is None:
                await self._wrong(tx, live)
                done = None
            else:
                done = (await self._complete(tx, live, [TOTP], caller), codes)
        if done is None:
            raise InvalidCode()
        return done
