"""The user pool: the parts every flow shares, wired once, and what a signed-in user does
to their own account (profile, email, password, sign-out everywhere, deletion).

Sign-up and its confirmation are `signups` (signup.py), password recovery is `recovery`
(recovery.py), sign-in is `signin`, `mfa_login` and `login_flow` (signin.py,
challenges.py, login.py). Password hashing never happens inside a database transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from authgate.audit import Caller, record
from authgate.clients.registry import ClientRegistry
from authgate.config import Settings
from authgate.errors import InvalidCode, InvalidCredentials, InvalidToken, TooManyRequests
from authgate.identity.attributes import AttributeSchema
from authgate.identity.challenges import MfaLogin
from authgate.identity.codes import CodeBook
from authgate.identity.lifecycle import NO_HOOKS, LifecycleHooks
from authgate.identity.login import LoginFlow
from authgate.identity.mfa import Mfa
from authgate.identity.migration import UserMigration
from authgate.identity.names import normalize_email
from authgate.identity.notify import Postman
from authgate.identity.passwords import PasswordHasher, PasswordPolicy
from authgate.identity.recovery import PasswordRecovery
from authgate.identity.self_service import chosen_password, greeting, issue_code
from authgate.identity.sessions import hash_session_id
from authgate.identity.signin import PasswordSignIn
from authgate.identity.signup import Signups
from authgate.identity.srp_verifiers import SrpVerifiers, derive_verifier, save_verifier
from authgate.identity.throttle import Limits
from authgate.store import Store
from authgate.store.records import UserRecord
from authgate.tokens.service import TokenService


class UserPool:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        codes: CodeBook,
        postman: Postman,
        tokens: TokenService,
        clients: ClientRegistry,
        limits: Limits,
        mfa: Mfa,
        clock: Callable[[], float] = time.time,
        *,
        srp: SrpVerifiers | None = None,
    ) -> None:
        pool = settings.user_pool
        self._store = store
        self.srp = srp
        self._pool = pool
        self.hasher = hasher
        self.policy = policy
        self._codes = codes
        self.postman = postman
        self._tokens = tokens
        self._limits = limits
        self.attributes = AttributeSchema(pool.custom_attributes, pool.required_attributes)
        self.signin = PasswordSignIn(store, hasher, policy, limits.login, codes, clock, srp=srp)
        self.mfa_login = MfaLogin(store, mfa, self.signin, clock)
        self.login_flow = LoginFlow(store, self.signin, self.mfa_login, tokens, clients, clock)
        self._clock = clock
        self.hooks: LifecycleHooks = NO_HOOKS
        """The lifecycle hooks (`use_hooks`)."""
        self.migration = UserMigration(store, hasher, self.attributes, clock, srp=srp)
        self.signin.migrate = self.migration.for_login
        self.signups = Signups(
            store, pool, self.attributes, hasher, policy, codes, postman, limits, clock, srp=srp
        )
        self.recovery = PasswordRecovery(
            store,
            pool,
            hasher,
            policy,
            codes,
            postman,
            tokens,
            self.migration,
            limits,
            clock,
            srp=srp,
        )

    def use_hooks(self, hooks: LifecycleHooks) -> None:
        """Call `hooks` at the pool's fixed points: sign-up, confirmation, sign-in, an
        unknown user, mail."""
        self.hooks = self.signin.hooks = self.postman.hooks = self.migration.hooks = hooks
        self.signups.hooks = self.recovery.hooks = hooks

    # -- the signed-in user ------------------------------------------------------------

    async def authenticate(self, access_token: str) -> tuple[UserRecord, dict[str, Any]]:
        """The user behind a bearer access token, if the token is still good for them."""
        claims = await self._tokens.check_access_token(access_token)
        return await self.user_for(claims), claims

    async def user_for(self, claims: dict[str, Any]) -> UserRecord:
        """The user a verified access token speaks for, if it still may."""
        if "username" not in claims:
            raise InvalidToken("The access token was issued to a client, not a user.")
        async with self._store.read() as tx:
            user = await tx.users.get(str(claims.get("sub")))
        if user is None or not user.enabled or self._tokens.is_cut_off(claims, user):
            raise InvalidToken("The access token is revoked.")
        return user

    async def update_profile(
        self, user: UserRecord, changes: dict[str, Any], caller: Caller
    ) -> UserRecord:
        changes = dict(changes)
        new_email = changes.pop("email", None)
        address = normalize_email(new_email) if new_email is not None else None
        attrs = self.attributes.validate(changes, current=user.attributes, creating=False)
        refused = False
        async with self._store.transaction() as tx:
            fresh = await tx.users.get(user.sub)
            if fresh is None:
                raise InvalidToken("The account no longer exists.")
            code = None
            if address is not None and address != fresh.email:
                ttl = self._pool.reset_code_ttl
                code = await issue_code(
                    self._codes, tx, fresh.sub, "verify_email", ttl, address, caller
                )
                if code is None:  # nothing changes; the refusal alone is recorded
                    refused = True
            if not refused:
                fresh.attributes = attrs
                if code is not None:
                    fresh.pending_email = address
                fresh.updated_at = self._clock()
                await tx.users.update(fresh)
                await record(
                    tx, "profile_updated", caller, sub=fresh.sub, email_change=code is not None
                )
        if refused:
            raise TooManyRequests(
                "No more codes for an email change for now; try again tomorrow, or ask an "
                "administrator if earlier codes were mistyped too often.",
                retry_after=int(self._codes.budget.issues_per_user.period),
            )
        if address is not None and code is not None:
            self.postman.send("verify_email", address, address, code=code)
        return fresh

    async def verify_email(self, user: UserRecord, code: object, caller: Caller) -> UserRecord:
        async with self._store.transaction() as tx:
            fresh = await tx.users.get(user.sub)
            ok = fresh is not None and fresh.pending_email is not None
            ok = ok and await self._codes.redeem(tx, user.sub, "verify_email", code, caller)
            locked = not ok and await self._codes.locked(tx, user.sub, "verify_email")
            if fresh is not None and ok:
                fresh.email = fresh.pending_email
                fresh.pending_email = None
                fresh.email_verified = True
                fresh.updated_at = self._clock()
                await tx.users.update(fresh)
                await record(tx, "email_verified", caller, sub=fresh.sub)
        if locked:
            raise InvalidCode(
                "Too many wrong codes: email changes are locked until an administrator "
                "unlocks them."
            )
        if fresh is None or not ok:
            raise InvalidCode()
        return fresh

    async def _check_password(self, user: UserRecord, password: object, caller: Caller) -> None:
        await self._limits.login.check(user.username, caller.ip)
        given = password if isinstance(password, str) else ""
        if not await self.hasher.verify(user.password_hash, given):
            async with self._store.transaction() as tx:
                await self._limits.login.failure(tx, user.username, caller.ip)
            raise InvalidCredentials("The current password is incorrect.")

    async def check_password(self, user: UserRecord, password: object, caller: Caller) -> None:
        """Re-authentication before a sensitive change: the password, throttled like a
        sign-in (a wrong one counts), or InvalidCredentials."""
        await self._check_password(user, password, caller)

    async def change_password(
        self,
        user: UserRecord,
        current: object,
        new: object,
        caller: Caller,
        *,
        keep_jti: str | None,
        keep_session: str | None = None,
    ) -> None:
        """Set a new password and end every other sign-in (ASVS 3.3.3): the other refresh
        families, the access tokens issued outside the sign-in of the access token
        `keep_jti` that asked, and every hosted browser session but the one whose cookie
        value is `keep_session` (the account page that asked)."""
        await self._check_password(user, current, caller)
        chosen = chosen_password(self.policy, new, "new_password")
        new_hash = await self.hasher.hash(chosen)
        verifier = derive_verifier(self.srp, user.username, chosen)
        async with self._store.transaction() as tx:
            fresh = await tx.users.get(user.sub)
            if fresh is None:
                raise InvalidToken("The account no longer exists.")
            fresh.password_hash = new_hash
            fresh.updated_at = self._clock()
            await tx.users.update(fresh)
            await save_verifier(self.srp, tx, fresh, verifier)
            await self._tokens.sign_out_elsewhere(tx, fresh, keep_jti)
            if keep_session is None:
                await tx.oauth.revoke_user_sessions(fresh.sub, self._clock())
            else:
                keep_hash = hash_session_id(keep_session)
                await tx.browser_sessions.revoke_all_but(fresh.sub, keep_hash, self._clock())
            await record(tx, "password_changed", caller, sub=fresh.sub)
        if fresh.email:
            self.postman.send("password_changed", fresh.email, greeting(fresh))

    async def delete_account(self, user: UserRecord, password: object, caller: Caller) -> None:
        await self._check_password(user, password, caller)
        async with self._store.transaction() as tx:
            await tx.users.delete(user.sub)
            self._tokens.user_gone_after(tx, user.sub)
            await record(tx, "user_deleted", caller, sub=user.sub)

    async def delete_signed_in(self, user: UserRecord, caller: Caller) -> None:
        """Delete the account an access token speaks for, without the password (Cognito's
        DeleteUser: the token is the proof). Its tokens die with it (`user_for`)."""
        async with self._store.transaction() as tx:
            await tx.users.delete(user.sub)
            self._tokens.user_gone_after(tx, user.sub)
            await record(tx, "user_deleted", caller, sub=user.sub)

    async def sign_out_everywhere(self, user: UserRecord, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            fresh = await tx.users.get(user.sub)
            if fresh is None:
                return
            await self._tokens.sign_out_everywhere(tx, fresh)
            await record(tx, "logout_all", caller, sub=fresh.sub)
