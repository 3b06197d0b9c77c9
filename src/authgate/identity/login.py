"""Login: a password checked, then a completed sign-in or the second factor still due,
and the tokens for a sign-in completed by any factor.

The API (`POST /v1/login`), the hosted sign-in page and the Cognito adapter all sign in
through here, so the rules (which client may use passwords, when MFA is due, which amr a
sign-in carries) are the same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from authgate.audit import Caller
from authgate.clients.registry import DEFAULT_CLIENT_ID, Client, ClientRegistry
from authgate.errors import InvalidClient, InvalidCredentials, InvalidRequest, TooManyRequests
from authgate.flows import NO_FLOWS, FlowRecorder, timed
from authgate.identity.challenges import Challenge, Completed, MfaLogin
from authgate.identity.signin import CheckedPassword, PasswordSignIn
from authgate.store import Store, Transaction
from authgate.store.records import UserRecord
from authgate.tokens.amr import PASSWORD
from authgate.tokens.service import TokenService, TokenSet

_Outcome = TypeVar("_Outcome")

MFA_REQUIRED = "mfa_required"
LOGIN_OUTCOMES = {TooManyRequests.code: "locked"}
"""A login refused by the throttle is a lockout (of the username or the address)."""


class LoginFlow:
    def __init__(
        self,
        store: Store,
        signin: PasswordSignIn,
        mfa_login: MfaLogin,
        tokens: TokenService,
        clients: ClientRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.signin = signin
        self.mfa_login = mfa_login
        self._tokens = tokens
        self._clients = clients
        self._clock = clock
        self.flows: FlowRecorder = NO_FLOWS
        """Told each login's outcome and duration (metrics)."""

    async def login(
        self,
        username: object,
        password: object,
        client_id: object,
        secret_hash: object,
        caller: Caller,
        new_password: object = None,
    ) -> TokenSet | Challenge:
        """A password login through to tokens, or the challenge still due (counted as
        `mfa_required`; a lockout as `locked`)."""
        return await self._counted(
            self._login(username, password, client_id, secret_hash, caller, new_password)
        )

    async def _counted(self, attempt: Awaitable[_Outcome]) -> _Outcome:
        """The login `attempt`, timed and counted by outcome: a challenge still due as
        `mfa_required`, a refusal by its error (a lockout as `locked`)."""
        with timed(self.flows, "login", renamed=LOGIN_OUTCOMES) as run:
            outcome = await attempt
            if isinstance(outcome, Challenge):
                run.outcome = MFA_REQUIRED
            return outcome

    async def _login(
        self,
        username: object,
        password: object,
        client_id: object,
        secret_hash: object,
        caller: Caller,
        new_password: object,
    ) -> TokenSet | Challenge:
        if not isinstance(password, str) or not isinstance(username, str):
            raise InvalidRequest("username and password are required strings.")
        if client_id is not None and not isinstance(client_id, str):
            raise InvalidRequest("client_id must be a string.", field="client_id")
        if secret_hash is not None and not isinstance(secret_hash, str):
            raise InvalidRequest("secret_hash must be a string.", field="secret_hash")
        if new_password is not None and not isinstance(new_password, str):
            raise InvalidRequest("new_password must be a string.", field="new_password")
        client = await self._clients.for_login(
            client_id or DEFAULT_CLIENT_ID, username, secret_hash
        )
        if not client.allows("password"):
            raise InvalidClient("This client may not sign users in with a password.")
        checked = await self.signin.check(
            username, password, caller, client_id=client.client_id, new_password=new_password
        )
        return await self.complete_password(checked, client, caller)

    async def complete_password(
        self, checked: CheckedPassword, client: Client, caller: Caller
    ) -> TokenSet | Challenge:
        """A proven password through to `client`'s tokens in one write transaction: the
        second factor still due, or the success recorded (audit row included) and the
        tokens issued. The user and the client are not read again, only the user's
        liveness (`_still_live`)."""
        if not client.allows("password"):
            raise InvalidClient("This client may not sign users in with a password.")
        async with self._store.transaction() as tx:
            need = await self.mfa_login.mfa.need(tx, checked.user)
            if need is not None:
                return await self.mfa_login.start(tx, checked, client.client_id, need, caller)
            user = await self._still_live(tx, checked.user)
            await self.signin.record_success(tx, checked, caller, client.client_id)
            return await self._tokens.issue(
                tx, user, client, client.metadata.scope, self._clock(), (PASSWORD,)
            )

    @staticmethod
    async def _still_live(tx: Transaction, user: UserRecord) -> UserRecord:
        """`user`, read before the hash in another transaction, brought up to date on what
        an administrator may have changed meanwhile: disabled (no tokens), or signed out
        everywhere (the new tokens must postdate it)."""
        live = await tx.users.liveness(user.sub)
        if live is None or not live[0]:
            raise InvalidCredentials()
        user.enabled, user.tokens_valid_after = live
        return user

    async def password_signin(
        self,
        username: str,
        password: str,
        caller: Caller,
        *,
        client_id: str | None,
        new_password: str | None = None,
    ) -> Completed | Challenge:
        """Check a password: a completed sign-in (amr ["pwd"]), or, when the user has a
        second factor or must enrol one, a challenge to answer (`MfaLogin`). The API and
        the hosted sign-in page both sign in through here."""
        return await self._counted(
            self._password_signin(username, password, caller, client_id, new_password)
        )

    async def _password_signin(
        self,
        username: str,
        password: str,
        caller: Caller,
        client_id: str | None,
        new_password: str | None,
    ) -> Completed | Challenge:
        checked = await self.signin.check(
            username, password, caller, client_id=client_id, new_password=new_password
        )
        return await self.after_password(checked, client_id, caller)

    async def after_password(
        self, checked: CheckedPassword, client_id: str | None, caller: Caller
    ) -> Completed | Challenge:
        """A proven password (typed, by SRP, or newly chosen in a challenge): a completed
        sign-in, or the second factor still due."""
        async with self._store.transaction() as tx:
            need = await self.mfa_login.mfa.need(tx, checked.user)
            if need is not None:
                return await self.mfa_login.start(tx, checked, client_id, need, caller)
            await self.signin.record_success(tx, checked, caller, client_id)
        return Completed(checked.user, client_id, (PASSWORD,), self._clock())

    async def issue_tokens(self, completed: Completed, caller: Caller) -> TokenSet:
        """Tokens (same shape as a password login) for a sign-in completed by any factor,
        for the client it was started for."""
        client = await self._clients.get(completed.client_id or DEFAULT_CLIENT_ID)
        if not client.allows("password"):
            raise InvalidClient("This client may not sign users in with a password.")
        async with self._store.transaction() as tx:
            user = await tx.users.get(completed.user.sub)
            if user is None or not user.enabled:
                raise InvalidCredentials()
            return await self._tokens.issue(
                tx, user, client, client.metadata.scope, completed.auth_time, completed.amr
            )
