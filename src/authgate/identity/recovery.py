"""Password recovery: a reset code mailed on request, and a new password set with it.

A request for an unknown, disabled or unconfirmed account answers as one that mailed a
code, so the answer does not tell which accounts exist; mail leaves in the background so
that timing does not differ either. A reset ends every sign-in of the account. Password
hashing never happens inside a database transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from authgate.audit import Caller, record
from authgate.config import UserPoolSettings
from authgate.errors import InvalidCode
from authgate.identity.codes import CodeBook
from authgate.identity.lifecycle import NO_HOOKS, LifecycleHooks, context_of
from authgate.identity.migration import UserMigration
from authgate.identity.names import normalize_username
from authgate.identity.notify import Postman
from authgate.identity.passwords import PasswordHasher, PasswordPolicy
from authgate.identity.self_service import chosen_password, greeting, issue_code
from authgate.identity.srp_verifiers import SrpVerifiers, derive_verifier, save_verifier
from authgate.identity.throttle import Limits
from authgate.store import Store
from authgate.tokens.service import TokenService


class PasswordRecovery:
    def __init__(
        self,
        store: Store,
        pool: UserPoolSettings,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        codes: CodeBook,
        postman: Postman,
        tokens: TokenService,
        migration: UserMigration,
        limits: Limits,
        clock: Callable[[], float] = time.time,
        *,
        srp: SrpVerifiers | None = None,
    ) -> None:
        self._store = store
        self._pool = pool
        self._hasher = hasher
        self._policy = policy
        self._codes = codes
        self._postman = postman
        self._tokens = tokens
        self._migration = migration
        self._limits = limits
        self._clock = clock
        self._srp = srp
        self.hooks: LifecycleHooks = NO_HOOKS
        """user_migration before a reset (when migrating), post_confirmation after one."""

    async def forgot_password(self, username: object, caller: Caller) -> None:
        await self._limits.forgot.spend(f"ip:{caller.ip}")
        name = normalize_username(username)
        if self.hooks.migrates:
            await self._migration.for_reset(name, caller)
        async with self._store.transaction() as tx:
            user = await tx.users.get_by_username(name)
            if user is None or not user.enabled or not user.email:
                return
            if user.status == "unconfirmed":
                return
            code = await issue_code(
                self._codes, tx, user.sub, "reset", self._pool.reset_code_ttl, user.email, caller
            )
            if code is not None:
                await record(tx, "password_reset_requested", caller, sub=user.sub)
        if code is not None:
            self._postman.send("reset_code", user.email, greeting(user), code=code)

    async def reset_password(
        self, username: object, code: object, new_password: object, caller: Caller
    ) -> None:
        name = normalize_username(username)
        chosen = chosen_password(self._policy, new_password, "new_password")
        new_hash = await self._hasher.hash(chosen)
        verifier = derive_verifier(self._srp, name, chosen)
        refusal: str | None = "unknown"
        async with self._store.transaction() as tx:
            user = await tx.users.get_by_username(name)
            if user is not None:
                refusal = await self._codes.refusal(tx, user.sub, "reset", code, caller)
            ok = refusal is None
            if user is not None and ok:
                user.password_hash = new_hash
                if user.status in ("force_change_password", "reset_required"):
                    user.status = "confirmed"
                await save_verifier(self._srp, tx, user, verifier)
                await self._tokens.sign_out_everywhere(tx, user)
                await record(tx, "password_reset", caller, sub=user.sub)
        if user is None or not ok:
            raise InvalidCode(reason=refusal)
        self.hooks.post_confirmation(user, "confirm_forgot_password", context_of(caller))
        if user.email:
            self._postman.send("password_changed", user.email, greeting(user))
