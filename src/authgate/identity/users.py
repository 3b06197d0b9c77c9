"""The user pool's self-service flows: sign-up, confirmation, reset, profile (login: login.py).

No answer here may tell whether an account exists: sign-up of a taken username looks
like a new sign-up (the owner is mailed a notice instead of a code), an unknown user
costs a dummy password verification, and mail leaves in the background so that timing
does not differ either. Password hashing never happens inside a database transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authgate.audit import Caller, record
from authgate.clients.registry import ClientRegistry
from authgate.config import Settings
from authgate.errors import (
    AlreadyExists,
    InvalidCode,
    InvalidCredentials,
    InvalidRequest,
    InvalidToken,
    TooManyRequests,
)
from authgate.flows import NO_FLOWS, FlowRecorder, timed
from authgate.identity.attributes import AttributeSchema
from authgate.identity.challenges import MfaLogin
from authgate.identity.codes import CodeBook, CodeRefused
from authgate.identity.lifecycle import NO_HOOKS, LifecycleHooks, NewUser, context_of
from authgate.identity.login import LoginFlow
from authgate.identity.mfa import Mfa
from authgate.identity.migration import UserMigration
from authgate.identity.names import check_new_username, normalize_email, normalize_username
from authgate.identity.notify import Postman
from authgate.identity.passwords import PasswordHasher, PasswordPolicy
from authgate.identity.sessions import hash_session_id
from authgate.identity.signin import PasswordSignIn
from authgate.identity.srp_verifiers import SrpVerifiers, derive_verifier, save_verifier
from authgate.identity.throttle import LoginThrottle, RateLimiter
from authgate.store import Store, Transaction
from authgate.store.records import UserRecord
from authgate.tokens.service import TokenService


@dataclass(frozen=True)
class SignupOutcome:
    sub: str
    confirmed: bool


@dataclass(frozen=True)
class Limits:
    login: LoginThrottle
    signup: RateLimiter
    resend: RateLimiter
    forgot: RateLimiter


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
        self._store = store
        self.srp = srp
        self._pool = settings.user_pool
        self.hasher = hasher
        self.policy = policy
        self._codes = codes
        self.postman = postman
        self._tokens = tokens
        self._clients = clients
        self._limits = limits
        self.attributes = AttributeSchema(
            settings.user_pool.custom_attributes, settings.user_pool.required_attributes
        )
        self.signin = PasswordSignIn(store, hasher, policy, limits.login, codes, clock, srp=srp)
        self.mfa_login = MfaLogin(store, mfa, self.signin, clock)
        self.login_flow = LoginFlow(store, self.signin, self.mfa_login, tokens, clients, clock)
        self._clock = clock
        self.flows: FlowRecorder = NO_FLOWS
        """Told each sign-up's outcome and duration (metrics)."""
        self.hooks: LifecycleHooks = NO_HOOKS
        """The lifecycle hooks (`use_hooks`)."""
        self.migration = UserMigration(store, hasher, self.attributes, clock, srp=srp)
        self.signin.migrate = self.migration.for_login

    def use_hooks(self, hooks: LifecycleHooks) -> None:
        """Call `hooks` at the pool's fixed points: sign-up, confirmation, sign-in, an
        unknown user, mail."""
        self.hooks = self.signin.hooks = self.postman.hooks = self.migration.hooks = hooks

    def _password(self, value: object, field: str = "password") -> str:
        if not isinstance(value, str):
            raise InvalidRequest(f"{field} must be a string.", field=field)
        self.policy.check(value)
        return value

    # -- sign-up -----------------------------------------------------------------------

    async def signup(
        self,
        email: object,
        password: object,
        username: object,
        attributes: dict[str, Any] | None,
        caller: Caller,
        *,
        reveal_taken: bool = False,
    ) -> str:
        """Register an account; return its sub (a fresh, unused one when the name is taken).
        With `reveal_taken` (Cognito's SignUp, which tells), a taken name is AlreadyExists
        instead, and its owner gets no notice."""
        outcome = await self.signup_outcome(
            email, password, username, attributes, caller, reveal_taken=reveal_taken
        )
        return outcome.sub

    async def signup_outcome(
        self,
        email: object,
        password: object,
        username: object,
        attributes: dict[str, Any] | None,
        caller: Caller,
        *,
        reveal_taken: bool = False,
    ) -> SignupOutcome:
        """`signup`, and whether the pre_signup hook confirmed the account at once (said
        the same for a taken name: the answer must not tell)."""
        with timed(self.flows, "signup"):
            return await self._signup(
                email, password, username, attributes, caller, reveal_taken=reveal_taken
            )

    async def _signup(
        self,
        email: object,
        password: object,
        username: object,
        attributes: dict[str, Any] | None,
        caller: Caller,
        *,
        reveal_taken: bool,
    ) -> SignupOutcome:
        await self._limits.signup.spend(f"ip:{caller.ip}")
        address = normalize_email(email)
        if username is None:
            if not self._pool.username_from_email:
                raise InvalidRequest("username is required.", field="username")
            username = address
        name = normalize_username(username)
        skeleton = check_new_username(name, address)
        attrs = self.attributes.validate(attributes or {}, creating=True)
        chosen = self._password(password)
        # Before anything is written: a refusal or a hook timing out leaves no account.
        decision = await self.hooks.pre_signup(
            NewUser(name, address, attrs), "signup", context_of(caller)
        )
        password_hash = await self.hasher.hash(chosen)
        verifier = derive_verifier(self.srp, name, chosen)
        now = self._clock()
        sub = str(uuid.uuid4())
        code: str | None = None
        notify = False
        async with self._store.transaction() as tx:
            existing = await self._holder(tx, name, skeleton)
            if existing is None:
                user = UserRecord(
                    sub=sub,
                    username=name,
                    email=address,
                    password_hash=password_hash,
                    attributes=attrs,
                    created_at=now,
                    updated_at=now,
                    username_skeleton=skeleton,
                )
                if decision.auto_confirm:
                    user.status = "confirmed"
                user.email_verified = decision.auto_verify_email
                try:
                    await tx.users.add(user)
                except AlreadyExists:  # the name or a look-alike was created just now
                    existing = await self._holder(tx, name, skeleton)
                    if existing is None:
                        raise
            if existing is None:
                await save_verifier(self.srp, tx, user, verifier)
                await record(tx, "signup", caller, sub=sub, auto_confirmed=decision.auto_confirm)
                if not decision.auto_confirm:
                    code = await self._issue(tx, sub, "signup", address, caller)
            else:
                lookalike = existing.username != name
                await record(
                    tx, "signup_existing_username", caller, sub=existing.sub, lookalike=lookalike
                )
                notify = (
                    not reveal_taken
                    and existing.email is not None
                    and await self._codes.allow_mail(tx, existing.email)
                )
        if existing is not None and reveal_taken:
            raise AlreadyExists("User already exists")
        if code is not None:
            self.postman.send("signup_code", address, address, code=code)
        elif existing is not None and existing.email and notify:
            self.postman.send("account_exists", existing.email, _greeting(existing))
        return SignupOutcome(sub, decision.auto_confirm)

    async def _holder(self, tx: Transaction, name: str, skeleton: str) -> UserRecord | None:
        """The account that holds this username or one that looks like it."""
        return await tx.users.get_by_username(name) or await tx.users.get_by_skeleton(skeleton)

    async def _issue(
        self, tx: Transaction, sub: str, purpose: str, to: str, caller: Caller
    ) -> str | None:
        """A new code, or None when the purpose is locked or a re-issue limit is reached
        (audited; the caller answers as if the code were sent)."""
        ttl = self._pool.signup_code_ttl if purpose == "signup" else self._pool.reset_code_ttl
        try:
            return await self._codes.issue(tx, sub, purpose, ttl, to, caller)
        except CodeRefused:
            return None

    async def confirm_signup(self, username: object, code: object, caller: Caller) -> None:
        name = normalize_username(username)
        refusal: str | None = "unknown"
        async with self._store.transaction() as tx:
            user = await tx.users.get_by_username(name)
            if user is not None:
                refusal = await self._codes.refusal(tx, user.sub, "signup", code, caller)
            ok = refusal is None
            if user is not None and ok:
                user.status = "confirmed"
                user.email_verified = True
                user.updated_at = self._clock()
                await tx.users.update(user)
                await record(tx, "signup_confirmed", caller, sub=user.sub)
        if not ok or user is None:
            raise InvalidCode(reason=refusal)
        self.hooks.post_confirmation(user, "confirm_signup", context_of(caller))

    async def resend_code(self, username: object, caller: Caller) -> None:
        await self._limits.resend.spend(f"ip:{caller.ip}")
        name = normalize_username(username)
        async with self._store.transaction() as tx:
            user = await tx.users.get_by_username(name)
            if user is None or user.status != "unconfirmed" or not user.email:
                return
            code = await self._issue(tx, user.sub, "signup", user.email, caller)
            if code is not None:
                await record(tx, "signup_code_resent", caller, sub=user.sub)
        if code is not None:
            self.postman.send(
                "signup_code", user.email, _greeting(user), code=code, event="resend_code"
            )

    # -- password reset ----------------------------------------------------------------

    async def forgot_password(self, username: object, caller: Caller) -> None:
        await self._limits.forgot.spend(f"ip:{caller.ip}")
        name = normalize_username(username)
        if self.hooks.migrates:
            await self.migration.for_reset(name, caller)
        async with self._store.transaction() as tx:
            user = await tx.users.get_by_username(name)
            if user is None or not user.enabled or not user.email:
                return
            if user.status == "unconfirmed":
                return
            code = await self._issue(tx, user.sub, "reset", user.email, caller)
            if code is not None:
                await record(tx, "password_reset_requested", caller, sub=user.sub)
        if code is not None:
            self.postman.send("reset_code", user.email, _greeting(user), code=code)

    async def reset_password(
        self, username: object, code: object, new_password: object, caller: Caller
    ) -> None:
        name = normalize_username(username)
        chosen = self._password(new_password, "new_password")
        new_hash = await self.hasher.hash(chosen)
        verifier = derive_verifier(self.srp, name, chosen)
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
                await save_verifier(self.srp, tx, user, verifier)
                await self._tokens.sign_out_everywhere(tx, user)
                await record(tx, "password_reset", caller, sub=user.sub)
        if user is None or not ok:
            raise InvalidCode(reason=refusal)
        self.hooks.post_confirmation(user, "confirm_forgot_password", context_of(caller))
        if user.email:
            self.postman.send("password_changed", user.email, _greeting(user))

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
                code = await self._issue(tx, fresh.sub, "verify_email", address, caller)
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
        chosen = self._password(new, "new_password")
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
            self.postman.send("password_changed", fresh.email, _greeting(fresh))

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


def _greeting(user: UserRecord) -> str:
    """The name a mail may greet: the username only once the address is verified, since
    before that the username is whatever someone typed next to a stranger's address."""
    return user.username if user.email_verified and user.email else (user.email or "")
