"""Sign-up and its confirmation: registering an account, confirming it with the mailed
code, and mailing that code again.

No answer may tell whether a name is taken: sign-up of a taken username (or one that
looks like it) looks like a new sign-up, its owner is mailed a notice instead of a code,
and mail leaves in the background so that timing does not differ either. Password
hashing never happens inside a database transaction.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authgate.audit import Caller, record
from authgate.config import UserPoolSettings
from authgate.errors import AlreadyExists, InvalidCode, InvalidRequest
from authgate.flows import NO_FLOWS, FlowRecorder, timed
from authgate.identity.attributes import AttributeSchema
from authgate.identity.codes import CodeBook
from authgate.identity.lifecycle import NO_HOOKS, LifecycleHooks, NewUser, context_of
from authgate.identity.names import check_new_username, normalize_email, normalize_username
from authgate.identity.notify import Postman
from authgate.identity.passwords import PasswordHasher, PasswordPolicy
from authgate.identity.self_service import chosen_password, greeting, issue_code
from authgate.identity.srp_verifiers import SrpVerifiers, derive_verifier, save_verifier
from authgate.identity.throttle import Limits
from authgate.store import Store, Transaction
from authgate.store.records import UserRecord


@dataclass(frozen=True)
class SignupOutcome:
    sub: str
    confirmed: bool


class Signups:
    def __init__(
        self,
        store: Store,
        pool: UserPoolSettings,
        attributes: AttributeSchema,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        codes: CodeBook,
        postman: Postman,
        limits: Limits,
        clock: Callable[[], float] = time.time,
        *,
        srp: SrpVerifiers | None = None,
    ) -> None:
        self._store = store
        self._pool = pool
        self._attributes = attributes
        self._hasher = hasher
        self._policy = policy
        self._codes = codes
        self._postman = postman
        self._limits = limits
        self._clock = clock
        self._srp = srp
        self.flows: FlowRecorder = NO_FLOWS
        """Told each sign-up's outcome and duration (metrics)."""
        self.hooks: LifecycleHooks = NO_HOOKS
        """pre_signup before an account is made, post_confirmation once it is confirmed."""

    async def signup(
        self,
        email: object,
        password: object,
        username: object,
        attributes: dict[str, Any] | None,
        caller: Caller,
        *,
        reveal_taken: bool = False,
    ) -> SignupOutcome:
        """Register an account: its sub (a fresh, unused one when the name is taken), and
        whether the pre_signup hook confirmed it at once (said the same for a taken name:
        the answer must not tell). With `reveal_taken` (Cognito's SignUp, which tells), a
        taken name is AlreadyExists instead, and its owner gets no notice."""
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
        attrs = self._attributes.validate(attributes or {}, creating=True)
        chosen = chosen_password(self._policy, password)
        # Before anything is written: a refusal or a hook timing out leaves no account.
        decision = await self.hooks.pre_signup(
            NewUser(name, address, attrs), "signup", context_of(caller)
        )
        password_hash = await self._hasher.hash(chosen)
        verifier = derive_verifier(self._srp, name, chosen)
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
                await save_verifier(self._srp, tx, user, verifier)
                await record(tx, "signup", caller, sub=sub, auto_confirmed=decision.auto_confirm)
                if not decision.auto_confirm:
                    code = await self._issue(tx, sub, address, caller)
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
            self._postman.send("signup_code", address, address, code=code)
        elif existing is not None and existing.email and notify:
            self._postman.send("account_exists", existing.email, greeting(existing))
        return SignupOutcome(sub, decision.auto_confirm)

    async def _holder(self, tx: Transaction, name: str, skeleton: str) -> UserRecord | None:
        """The account that holds this username or one that looks like it."""
        return await tx.users.get_by_username(name) or await tx.users.get_by_skeleton(skeleton)

    async def _issue(self, tx: Transaction, sub: str, to: str, caller: Caller) -> str | None:
        ttl = self._pool.signup_code_ttl
        return await issue_code(self._codes, tx, sub, "signup", ttl, to, caller)

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
            code = await self._issue(tx, user.sub, user.email, caller)
            if code is not None:
                await record(tx, "signup_code_resent", caller, sub=user.sub)
        if code is not None:
            self._postman.send(
                "signup_code", user.email, greeting(user), code=code, event="resend_code"
            )
