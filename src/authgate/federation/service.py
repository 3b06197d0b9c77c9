"""The federation service the adapters call: the provider flow (flow.py), the account
rules (accounts.py), and how an external sign-in completes.

An external sign-in is one factor (amr ["fed"], acr aal1). A user with a second factor
(TOTP) still answers it afterwards, exactly as after a password (the challenge carries
amr ["fed"], so the completed sign-in says ["fed", "otp"]); with `mfa: required`, a user
without one enrols first. The provider's own MFA is not taken on trust.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from authgate.audit import Caller, record
from authgate.federation.accounts import FEDERATED, FederatedAccounts
from authgate.federation.flow import ProviderFlow
from authgate.federation.settings import IdentityProvider
from authgate.identity.challenges import Challenge, Completed, MfaLogin
from authgate.identity.signin import CheckedPassword, PasswordSignIn
from authgate.store import Store
from authgate.store.records import UserRecord


class Federation:
    def __init__(
        self,
        store: Store,
        flow: ProviderFlow,
        accounts: FederatedAccounts,
        mfa_login: MfaLogin,
        signin: PasswordSignIn,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.flow = flow
        self.accounts = accounts
        self._mfa_login = mfa_login
        self._signin = signin
        self._clock = clock

    @property
    def providers(self) -> list[IdentityProvider]:
        return list(self.flow.providers.values())

    async def complete(
        self, user: UserRecord, provider: str, client_id: str | None, caller: Caller
    ) -> Completed | Challenge:
        """The external sign-in of `user` proven: done, or the second factor still due."""
        amr = (FEDERATED,)
        async with self._store.transaction() as tx:
            need = await self._mfa_login.mfa.need(tx, user)
            if need is not None:
                await record(tx, "federation_signin", caller, sub=user.sub, provider=provider)
                checked = CheckedPassword(user, None, None, failures_on_record=False)
                return await self._mfa_login.start(tx, checked, client_id, need, caller, amr=amr)
            await self._signin.record_complete(
                tx, user, caller, client_id, amr, forget_failures=False
            )
            await record(tx, "federation_signin", caller, sub=user.sub, provider=provider)
        return Completed(user, client_id, amr, self._clock())
