"""The last hop of an MFA_SETUP sign-in in Cognito's protocol.

Cognito's client enrols a TOTP factor with the challenge's Session (AssociateSoftwareToken,
VerifySoftwareToken) and only then asks for tokens (RespondToAuthChallenge MFA_SETUP) with
the Session VerifySoftwareToken returned. Here the sign-in is complete as soon as the
first code verifies (`MfaLogin.setup_verify`); `hold` keeps that completed sign-in behind
a fresh single-use `AuthSessions` token for three minutes, and `redeem` gives it back once,
to the same client, for its tokens.
"""

from __future__ import annotations

from authgate.errors import InvalidSession
from authgate.identity.auth_sessions import AuthSessions, decode_token, encode_token
from authgate.identity.challenges import Completed
from authgate.store import Store

MFA_SETUP_DONE = "mfa_setup_done"


class SetupHandoff:
    def __init__(self, store: Store, sessions: AuthSessions) -> None:
        self._store = store
        self._sessions = sessions

    async def hold(self, done: Completed) -> str:
        async with self._store.transaction() as tx:
            token = await self._sessions.issue(
                tx,
                MFA_SETUP_DONE,
                sub=done.user.sub,
                client_id=done.client_id or "",
                user_id=done.user.username,
                state={"amr": list(done.amr), "auth_time": done.auth_time},
            )
        return encode_token(token)

    async def redeem(self, session: object, client_id: str) -> Completed:
        async with self._store.transaction() as tx:
            held = await self._sessions.take(
                tx, decode_token(session), (MFA_SETUP_DONE,), client_id
            )
            user = await tx.users.get(held.sub) if held is not None and held.sub else None
        if held is None or user is None or not user.enabled:
            raise InvalidSession()
        amr = tuple(str(value) for value in held.state.get("amr", []))
        return Completed(user, client_id, amr, float(held.state["auth_time"]))
