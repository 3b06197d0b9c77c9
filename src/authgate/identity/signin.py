"""Password sign-in for the hosted page: the login path's defences, without issuing tokens.

Both `/v1/login` (which then issues tokens) and the hosted page (which then starts a
browser session) sign in through here, so they share one set of rules and one throttle:
lockouts per username and per address, a dummy hash for unknown users, one answer for an
unknown user and a wrong password, and account state (disabled, unconfirmed, a password
to choose) told only after a correct password.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from authgate.audit import Caller, record
from authgate.errors import (
    InvalidCredentials,
    InvalidRequest,
    PasswordChangeRequired,
    PasswordResetRequired,
    UserDisabled,
    UserNotConfirmed,
)
from authgate.identity.codes import OWNER_UNLOCKS, CodeBook
from authgate.identity.lifecycle import NO_HOOKS, LifecycleHooks, context_of
from authgate.identity.names import normalize_username
from authgate.identity.passwords import PasswordHasher, PasswordPolicy
from authgate.identity.srp_verifiers import DerivedVerifier, SrpVerifiers, save_verifier
from authgate.identity.throttle import LoginThrottle
from authgate.store import Store, Transaction
from authgate.store.records import UserRecord

Migrator = Callable[[str, str, Caller, "str | None"], Awaitable["UserRecord | None"]]
"""(username, password, caller, client_id) -> the account made from a legacy store, or None."""


@dataclass(frozen=True)
class CheckedPassword:
    """A correct password: its user, the hash to store instead of the old one, if any, the
    SRP verifier to store (the user had none that fits, or the password changes), and
    whether the username had failed sign-ins on record when it was checked (a success
    forgets them; without any, it writes nothing to the throttle)."""

    user: UserRecord
    replacement: str | None
    verifier: DerivedVerifier | None = None
    failures_on_record: bool = True


class PasswordSignIn:
    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        throttle: LoginThrottle,
        codes: CodeBook,
        clock: Callable[[], float] = time.time,
        *,
        srp: SrpVerifiers | None = None,
    ) -> None:
        self._store = store
        self._srp = srp
        self._hasher = hasher
        self._policy = policy
        self._throttle = throttle
        self._codes = codes
        self._clock = clock
        self.hooks: LifecycleHooks = NO_HOOKS
        """Told of each completed sign-in (post_authentication)."""
        self.migrate: Migrator | None = None
        """Creates an unknown user found in a legacy store (user_migration; the pool's)."""

    async def authenticate(
        self,
        username: str,
        password: str,
        caller: Caller,
        *,
        client_id: str | None = None,
        new_password: str | None = None,
    ) -> UserRecord:
        """The user whose password this is, the success recorded; a typed error otherwise."""
        checked = await self.check(
            username, password, caller, client_id=client_id, new_password=new_password
        )
        async with self._store.transaction() as tx:
            await self.record_success(tx, checked, caller, client_id)
        return checked.user

    async def check(
        self,
        username: str,
        password: str,
        caller: Caller,
        *,
        client_id: str | None = None,
        new_password: str | None = None,
    ) -> CheckedPassword:
        """Every check and the slow hashing, outside any transaction; failures recorded."""
        try:
            name = normalize_username(username)
        except InvalidRequest:
            raise InvalidCredentials() from None
        async with self._store.read() as tx:
            failures_on_record = await self._throttle.check_in(tx, name, caller.ip)
            user = await tx.users.sign_in_lookup(name)
            srp_missing = (
                user is not None and self._srp is not None and await self._srp.missing(tx, user)
            )
        if user is None and self.migrate is not None and self.hooks.migrates:
            # Only for a name the pool does not have: the legacy store checks the password,
            # and the account made from its answer is verified below like any other.
            user = await self.migrate(name, password, caller, client_id)
            srp_missing = user is not None and self._srp is not None
        ok = await self._hasher.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            await self._failed(name, user, client_id, caller)
            raise InvalidCredentials()
        if not user.enabled:
            raise UserDisabled()
        if user.status == "unconfirmed":
            raise UserNotConfirmed()
        if user.status == "reset_required":
            raise PasswordResetRequired()
        replacement: str | None = None
        kept = password
        if user.status == "force_change_password":
            if not new_password:
                raise PasswordChangeRequired()
            self._policy.check(new_password)
            replacement = await self._hasher.hash(new_password)
            kept = new_password
        elif self._hasher.needs_rehash(user.password_hash or ""):
            replacement = await self._hasher.hash(password)
        verifier = None
        if self._srp is not None and (srp_missing or replacement is not None):
            verifier = self._srp.derive(user.username, kept)
        return CheckedPassword(user, replacement, verifier, failures_on_record)

    async def record_success(
        self, tx: Transaction, checked: CheckedPassword, caller: Caller, client_id: str | None
    ) -> None:
        """Store an upgraded or newly chosen hash and audit the sign-in, in the caller's
        transaction (the login path issues its tokens in the same one). The owner proved
        the password, so earlier failures and a locked password reset are forgotten."""
        await self.record_first_factor(tx, checked, caller, client_id)
        await self.record_complete(
            tx,
            checked.user,
            caller,
            client_id,
            ("pwd",),
            forget_failures=checked.failures_on_record,
        )

    async def record_first_factor(
        self, tx: Transaction, checked: CheckedPassword, caller: Caller, client_id: str | None
    ) -> None:
        """The password was right: store an upgraded or newly chosen hash. The sign-in
        itself is not done yet (a second factor may be due), so no failure is forgotten."""
        user = checked.user
        if checked.replacement is not None:
            user.password_hash = checked.replacement
            user.status = "confirmed"
            user.updated_at = self._clock()
            await tx.users.update(user)
        await save_verifier(self._srp, tx, user, checked.verifier)

    async def record_complete(
        self,
        tx: Transaction,
        user: UserRecord,
        caller: Caller,
        client_id: str | None,
        amr: tuple[str, ...],
        *,
        forget_failures: bool = True,
    ) -> None:
        """The sign-in is complete (`amr` says how): forget the username's failures (if
        `forget_failures`: the caller may know there are none), lift a locked password
        reset, audit the success."""
        if forget_failures:
            await self._throttle.success(tx, user.username)
        await self._codes.unlock(tx, user.sub, OWNER_UNLOCKS, caller)
        await record(tx, "login_success", caller, sub=user.sub, client_id=client_id, amr=list(amr))
        context = context_of(caller, client_id)
        tx.after_commit(lambda: self.hooks.post_authentication(user, context))

    async def unlock(self, tx: Transaction, username: str) -> None:
        """Lift the username's lockout (an administrator acted)."""
        await self._throttle.unlock(tx, username)

    async def _failed(
        self, name: str, user: UserRecord | None, client_id: str | None, caller: Caller
    ) -> None:
        sub = user.sub if user else None
        async with self._store.transaction() as tx:
            lockout = await self._throttle.failure(tx, name, caller.ip)
            await record(tx, "login_failure", caller, sub=sub, client_id=client_id, username=name)
            if lockout is not None:
                await record(tx, "lockout", caller, sub=sub, username=name, seconds=lockout)
