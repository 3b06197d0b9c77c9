"""Passkeys (WebAuthn Level 2, py_webauthn): registration, sign-in, and their challenges.

Ceremony rules: attestation "none" (we trust no vendor roots, so an attestation would prove
nothing we check), user verification required (a passkey is then a factor on its own),
discoverable credentials required (sign-in without a username), existing credentials
excluded on registration.

A challenge is single use, lives `webauthn.challenge_ttl` (at most 5 minutes) and is bound
to the session that asked for it: a registration to the user and the access token (or page
session) that asked, a sign-in to the opaque `session` handed out with its options. Both
the challenge and that binding are stored as SHA-256 hashes; the challenge is found again
through the clientDataJSON the authenticator signed, and spent whether or not the
ceremony succeeds.

What a ceremony's answer proves is checked in `identity.passkey_checks`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authgate.audit import Caller, record
from authgate.clients.registry import DEFAULT_CLIENT_ID, ClientRegistry
from authgate.config import WebAuthnSettings
from authgate.errors import (
    InvalidClient,
    InvalidRequest,
    NotFound,
    PasskeyCloned,
    PasskeyRejected,
)
from authgate.identity.names import normalize_username
from authgate.identity.passkey_ceremony import (
    LOGIN,
    REGISTER,
    ChallengeBook,
    descriptor,
    parse_credential,
    passkey_name,
    user_handle,
)
from authgate.identity.passkey_checks import (
    PasskeySignIn,
    RelyingParty,
    account_refusal,
    new_passkey,
    verified_assertion,
)
from authgate.identity.throttle import LoginThrottle, RateLimiter
from authgate.store import Store, Transaction
from authgate.store.records import PasskeyRecord, UserRecord
from authgate.tokens.service import TokenService, TokenSet


@dataclass(frozen=True)
class LoginOptions:
    options: dict[str, Any]
    session: str


class Passkeys:
    def __init__(
        self,
        store: Store,
        settings: WebAuthnSettings,
        issuer: str,
        throttle: LoginThrottle,
        tokens: TokenService,
        clients: ClientRegistry,
        decoy_key: bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._clients = clients
        self._settings = settings
        self.rp_id, origins = settings.resolved(issuer)
        self._rp = RelyingParty(self.rp_id, origins)
        self._throttle = throttle
        self._decoy_key = decoy_key
        self._clock = clock
        self._challenges = ChallengeBook(settings.challenge_ttl, clock)
        self._options_limit = RateLimiter(
            settings.login_options_per_ip.count, settings.login_options_per_ip.period
        )

    @property
    def browsers_can_use(self) -> bool:
        """False when the RP ID is an IP address, which browsers refuse (then the pages
        offer no passkeys; the API still works for other clients)."""
        try:
            ipaddress.ip_address(self.rp_id)
        except ValueError:
            return True
        return False

    @property
    def _timeout_ms(self) -> int:
        return int(self._settings.challenge_ttl * 1000)

    # -- registration ------------------------------------------------------------------

    async def registration_options(self, user: UserRecord, binding: str) -> dict[str, Any]:
        """PublicKeyCredentialCreationOptionsJSON for the user, its challenge bound to the
        session `binding` (an access token's jti, a page session)."""
        async with self._store.transaction() as tx:
            existing = await tx.passkeys.of_user(user.sub)
            if len(existing) >= self._settings.max_per_user:
                raise InvalidRequest(
                    f"At most {self._settings.max_per_user} passkeys; remove one first."
                )
            options = generate_registration_options(
                rp_id=self.rp_id,
                rp_name=self._settings.rp_name,
                user_id=user_handle(user.sub),
                user_name=user.username,
                user_display_name=user.username,
                timeout=self._timeout_ms,
                attestation=AttestationConveyancePreference.NONE,
                authenticator_selection=AuthenticatorSelectionCriteria(
                    resident_key=ResidentKeyRequirement.REQUIRED,
                    user_verification=UserVerificationRequirement.REQUIRED,
                ),
                exclude_credentials=[descriptor(p) for p in existing],
            )
            await self._challenges.issue(tx, options.challenge, REGISTER, user.sub, binding, False)
        answer: dict[str, Any] = json.loads(options_to_json(options))
        return answer

    async def register(
        self, user: UserRecord, binding: str, credential: object, name: object, caller: Caller
    ) -> PasskeyRecord:
        """Verify the authenticator's attestation against its challenge and keep the key."""
        label = passkey_name(name)
        parsed = parse_credential(parse_registration_credential_json, credential)
        async with self._store.transaction() as tx:
            spent = await self._challenges.spend(
                tx, parsed.response.client_data_json, REGISTER, binding
            )
            outcome: PasskeyRecord | str = spent if isinstance(spent, str) else ""
            if not isinstance(spent, str):
                limit = self._settings.max_per_user
                outcome = await new_passkey(
                    tx, self._rp, user, spent, parsed, limit, label, self._clock()
                )
            if isinstance(outcome, str):
                await record(
                    tx, "passkey_registration_failed", caller, sub=user.sub, reason=outcome
                )
            else:
                await record(tx, "passkey_registered", caller, sub=user.sub, passkey=outcome.id)
        if isinstance(outcome, str):
            raise PasskeyRejected(f"The passkey could not be registered: {outcome}.")
        return outcome

    # -- the owner's list --------------------------------------------------------------

    async def list(self, user: UserRecord) -> list[PasskeyRecord]:
        async with self._store.read() as tx:
            return await tx.passkeys.of_user(user.sub)

    async def rename(
        self, user: UserRecord, passkey_id: str, name: object, caller: Caller
    ) -> PasskeyRecord:
        label = passkey_name(name)
        async with self._store.transaction() as tx:
            if not await tx.passkeys.rename(user.sub, passkey_id, label):
                raise NotFound("No such passkey.")
            await record(tx, "passkey_renamed", caller, sub=user.sub, passkey=passkey_id)
            found = await tx.passkeys.get(user.sub, passkey_id)
        assert found is not None
        return found

    async def remove(self, user: UserRecord, passkey_id: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            if not await tx.passkeys.delete(user.sub, passkey_id):
                raise NotFound("No such passkey.")
            await record(tx, "passkey_deleted", caller, sub=user.sub, passkey=passkey_id)

    # -- sign-in -----------------------------------------------------------------------

    async def login_options(self, username: object, caller: Caller) -> LoginOptions:
        """Request options and the session they are bound to. Without a username, for a
        discoverable credential (empty allowCredentials). With one, its passkeys; a name
        nobody holds, or a user without passkeys, gets decoy credential ids derived from
        the name (the same each time), so the answer tells no one whether it exists."""
        if caller.ip is not None:
            self._options_limit.hit(f"ip:{caller.ip}")
        if username is not None and not isinstance(username, str):
            raise InvalidRequest("username must be a string.", field="username")
        session = secrets.token_urlsafe(32)
        async with self._store.transaction() as tx:
            sub, allowed, restricted = None, [], False
            if username:
                restricted = True
                user = await _user_named(tx, username)
                owned = await tx.passkeys.of_user(user.sub) if user else []
                sub = user.sub if user and owned else None
                allowed = [descriptor(p) for p in owned] or [self._decoy(username)]
            options = generate_authentication_options(
                rp_id=self.rp_id,
                timeout=self._timeout_ms,
                allow_credentials=allowed,
                user_verification=UserVerificationRequirement.REQUIRED,
            )
            await self._challenges.issue(tx, options.challenge, LOGIN, sub, session, restricted)
        return LoginOptions(json.loads(options_to_json(options)), session)

    def _decoy(self, username: str) -> PublicKeyCredentialDescriptor:
        digest = hmac.new(self._decoy_key, username.strip().lower().encode(), "sha256").digest()
        return PublicKeyCredentialDescriptor(
            id=digest, transports=[AuthenticatorTransport.INTERNAL, AuthenticatorTransport.HYBRID]
        )

    async def login(
        self, credential: object, session: object, client_id: object, caller: Caller
    ) -> TokenSet:
        """Tokens for a passkey sign-in through a client that may sign users in directly
        (the `password` grant, as /v1/login) and holds no secret (a secret would need a
        SECRET_HASH of a username that a discoverable sign-in does not give)."""
        if client_id is not None and not isinstance(client_id, str):
            raise InvalidRequest("client_id must be a string.", field="client_id")
        client = await self._clients.lookup(client_id or DEFAULT_CLIENT_ID)
        if client is None or client.metadata.confidential:
            raise InvalidClient("Passkey sign-in takes a public client.")
        if not client.allows("password"):
            raise InvalidClient("This client may not sign users in directly.")

        async def issue(tx: Transaction, signed: PasskeySignIn) -> TokenSet:
            scope = client.metadata.scope
            return await self._tokens.issue(
                tx, signed.user, client, scope, self._clock(), amr=signed.amr
            )

        tokens: TokenSet = await self.sign_in(credential, session, caller, issue)
        return tokens

    async def sign_in(
        self,
        credential: object,
        session: object,
        caller: Caller,
        finish: Callable[[Transaction, PasskeySignIn], Awaitable[Any]] | None = None,
    ) -> Any:
        """Verify an assertion against its challenge. On success the counter and last use
        are stored and `finish` (issuing tokens, starting a page session) runs in the same
        transaction; its result is returned (the PasskeySignIn without one). Failures
        count against the caller's address, a clone is audited as such."""
        if not isinstance(session, str) or not session:
            raise InvalidRequest("session is required.", field="session")
        await self._throttle.check_address(caller.ip)
        parsed = parse_credential(parse_authentication_credential_json, credential)
        refusal: Exception | None = None
        result: Any = None
        async with self._store.transaction() as tx:
            outcome = await self._verify_assertion(tx, parsed, session)
            if isinstance(outcome, PasskeySignIn):
                refusal = account_refusal(outcome.user)
            if isinstance(outcome, PasskeySignIn) and refusal is None:
                await self._throttle.success(tx, outcome.user.username)
                await record(
                    tx,
                    "login_success",
                    caller,
                    sub=outcome.user.sub,
                    method="passkey",
                    passkey=outcome.passkey.id,
                )
                result = await finish(tx, outcome) if finish else outcome
            elif not isinstance(outcome, PasskeySignIn):
                refusal = await self._failed(tx, outcome, caller)
        if refusal is not None:
            raise refusal
        return result

    async def _verify_assertion(
        self, tx: Transaction, parsed: AuthenticationCredential, session: str
    ) -> PasskeySignIn | tuple[str, PasskeyRecord | None]:
        spent = await self._challenges.spend(tx, parsed.response.client_data_json, LOGIN, session)
        if isinstance(spent, str):
            return spent, None
        return await verified_assertion(tx, self._rp, spent, parsed, self._clock())

    async def _failed(
        self, tx: Transaction, outcome: tuple[str, PasskeyRecord | None], caller: Caller
    ) -> Exception:
        reason, passkey = outcome
        sub = passkey.sub if passkey else None
        if reason == "cloned" and passkey is not None:
            await record(
                tx, "passkey_clone_detected", caller, sub=sub, passkey=passkey.id,
                stored_count=passkey.sign_count,
            )  # fmt: skip
        else:
            await record(tx, "passkey_login_failure", caller, sub=sub, reason=reason)
        lockout = await self._throttle.address_failure(tx, caller.ip)
        if lockout is not None:
            await record(tx, "lockout", caller, sub=sub, seconds=lockout)
        return PasskeyCloned() if reason == "cloned" else PasskeyRejected()


async def _user_named(tx: Transaction, username: str) -> UserRecord | None:
    try:
        name = normalize_username(username)
    except InvalidRequest:
        return None
    return await tx.users.get_by_username(name)
