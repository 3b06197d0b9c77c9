"""Password sign-in by SRP (Cognito's USER_SRP_AUTH and its PASSWORD_VERIFIER challenge).

`start` answers the client's A with the user's salt, the server's B and a SECRET_BLOCK
(an `AuthSessions` token that holds b, A and B, sealed); `finish` checks the client's
claim signature over that block and a timestamp with the key only the password yields.
Nothing about the password crosses the wire, and nothing here ever holds it.

No answer tells whether an account exists. An unknown user, or one without a verifier yet
(see `srp_verifiers`), gets a stand-in exchange that costs what a real one costs: a salt
derived from the username under a key of our own (the same salt every time, as a real
user's), a B that is g^b (as random-looking as k*v + g^b), a stored session; and the
claim then fails like a wrong password. Only when the pool reveals unknown users anyway
(`reveal_unknown`) does `start` say so at once. The login throttle (per username and per
address) counts each failed claim exactly as a wrong password at `/v1/login`; state
(disabled, unconfirmed, a password to choose) is told only after a correct claim.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from authgate.audit import Caller, record
from authgate.errors import (
    InvalidCredentials,
    InvalidRequest,
    NotFound,
    SrpVerifierMissing,
    UserDisabled,
    UserNotConfirmed,
)
from authgate.identity import srp
from authgate.identity.auth_sessions import AuthSessions, decode_token, encode_token
from authgate.identity.names import normalize_username
from authgate.identity.srp_verifiers import SrpVerifiers
from authgate.identity.throttle import LoginThrottle
from authgate.store import Store
from authgate.store.records import UserRecord

PASSWORD_VERIFIER = "PASSWORD_VERIFIER"


@dataclass(frozen=True)
class PasswordVerifierChallenge:
    """ChallengeParameters of PASSWORD_VERIFIER, as Cognito names them."""

    user_id_for_srp: str
    salt: str
    srp_b: str
    secret_block: str

    def parameters(self) -> dict[str, str]:
        return {
            "USER_ID_FOR_SRP": self.user_id_for_srp,
            "USERNAME": self.user_id_for_srp,
            "SALT": self.salt,
            "SRP_B": self.srp_b,
            "SECRET_BLOCK": self.secret_block,
        }


class SrpSignIn:
    def __init__(
        self,
        store: Store,
        verifiers: SrpVerifiers,
        sessions: AuthSessions,
        throttle: LoginThrottle,
        decoy_key: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.verifiers = verifiers
        self.sessions = sessions
        self._throttle = throttle
        self._decoy_key = decoy_key
        self._clock = clock

    async def start(
        self,
        username: object,
        srp_a: object,
        client_id: str,
        caller: Caller,
        *,
        reveal_unknown: bool = False,
    ) -> PasswordVerifierChallenge:
        """The PASSWORD_VERIFIER challenge for `username` and the client's SRP_A."""
        if not isinstance(username, str) or not username:
            raise InvalidRequest("USERNAME is required.", field="USERNAME")
        try:
            big_a = srp.parse_public(srp_a)
        except srp.SrpError as exc:
            raise InvalidRequest(str(exc), field="SRP_A") from None
        name = _name(username)
        await self._throttle.check(name, caller.ip)
        async with self._store.transaction() as tx:
            user = await tx.users.get_by_username(name)
            found = await self.verifiers.load(tx, user) if user is not None else None
            if user is None and reveal_unknown:
                raise NotFound("User does not exist.")
            if found is None:
                if user is not None:
                    await record(
                        tx, "srp_verifier_missing", caller, sub=user.sub, client_id=client_id
                    )
                    if reveal_unknown:
                        raise SrpVerifierMissing()
                salt, big_b = self._decoy_salt(name), srp.server_ephemeral(0)
                sub, user_id = None, name
            else:
                assert user is not None
                salt, big_b = found.salt, srp.server_ephemeral(found.verifier)
                sub, user_id = user.sub, found.user_id
            token = await self.sessions.issue(
                tx,
                PASSWORD_VERIFIER,
                sub=sub,
                client_id=client_id,
                user_id=user_id,
                state={"A": f"{big_a:x}", "b": f"{big_b.b:x}", "B": f"{big_b.B:x}"},
            )
        return PasswordVerifierChallenge(
            user_id, srp.salt_hex(salt), f"{big_b.B:x}", encode_token(token)
        )

    async def finish(
        self, answers: Mapping[str, object], client_id: str, caller: Caller
    ) -> UserRecord:
        """The user whose claim signature is right (not yet recorded as signed in: a
        challenge may follow); InvalidCredentials otherwise, counted in the throttle."""
        username = answers.get("USERNAME")
        if not isinstance(username, str) or not username:
            raise InvalidRequest("USERNAME is required.", field="USERNAME")
        for field in ("PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP"):
            if not isinstance(answers.get(field), str):
                raise InvalidRequest(f"{field} is required.", field=field)
        name = _name(username)
        await self._throttle.check(name, caller.ip)
        block = decode_token(answers["PASSWORD_CLAIM_SECRET_BLOCK"])
        async with self._store.transaction() as tx:
            session = await self.sessions.take(tx, block, (PASSWORD_VERIFIER,), client_id)
            user = None
            found = None
            if session is not None and session.sub is not None and session.user_id == name:
                user = await tx.users.get(session.sub)
                found = await self.verifiers.load(tx, user) if user is not None else None
        ok = False
        if session is not None and block is not None:
            ephemeral = srp.ServerEphemeral(
                int(session.state["b"], 16), int(session.state["B"], 16)
            )
            big_a = int(session.state["A"], 16)
            # A stand-in exchange costs the same work as a real one, then fails.
            key = srp.server_key(big_a, found.verifier if found else 1, ephemeral)
            expected = srp.claim_signature(
                key, self.verifiers.pool, session.user_id, block, _timestamp(answers["TIMESTAMP"])
            )
            given = _signature(answers["PASSWORD_CLAIM_SIGNATURE"])
            ok = srp.signature_matches(expected, given) and found is not None
        if user is None or not ok:
            await self._failed(name, user, client_id, caller)
            raise InvalidCredentials()
        if not user.enabled:
            raise UserDisabled()
        if user.status == "unconfirmed":
            raise UserNotConfirmed()
        return user

    def _decoy_salt(self, name: str) -> int:
        digest = hmac.new(self._decoy_key, b"salt\x00" + name.encode(), hashlib.sha256).digest()
        return srp.salt_from(digest[: srp.SALT_BYTES])

    async def _failed(
        self, name: str, user: UserRecord | None, client_id: str, caller: Caller
    ) -> None:
        sub = user.sub if user else None
        async with self._store.transaction() as tx:
            lockout = await self._throttle.failure(tx, name, caller.ip)
            await record(
                tx, "login_failure", caller, sub=sub, client_id=client_id, username=name, flow="srp"
            )
            if lockout is not None:
                await record(tx, "lockout", caller, sub=sub, username=name, seconds=lockout)


def _name(username: str) -> str:
    try:
        return normalize_username(username)
    except InvalidRequest:
        return username[:256]


def _timestamp(value: object) -> str:
    """The TIMESTAMP as signed; a malformed one is signed over as given and so fails to
    match (Cognito refuses such a claim like a wrong password)."""
    try:
        srp.parse_timestamp(value)
    except srp.SrpError:
        return "\x00invalid"
    return str(value)


def _signature(value: object) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return b""
