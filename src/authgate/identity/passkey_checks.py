"""What a passkey ceremony's answer proves, checked against the challenge it spent.

Kept apart from `identity.passkeys` (the flows around them: options, audit, throttling,
tokens) so the verification rules read in one place. A check answers a reason string
instead of raising: the caller audits the refusal in the same transaction before it
raises, so a failed ceremony still leaves its trace.

The signature counter is compared by us, after the signature verified (the library would
compare first, so anyone could trip the clone alarm with a forged assertion): a counter
that does not increase while either side is non-zero means two authenticators hold the
key, and the sign-in is refused and audited.

How the user signed in (RFC 8176 `amr`): "swk" when the credential is backup eligible
(a synced passkey, whose key may live in a cloud account), "hwk" when it is bound to one
device. Eligibility cannot change for a credential, so the flag seen at registration wins.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticationCredential,
    CredentialDeviceType,
    RegistrationCredential,
)

from authgate.errors import (
    PasswordChangeRequired,
    PasswordResetRequired,
    UserDisabled,
    UserNotConfirmed,
)
from authgate.identity.passkey_ceremony import MALFORMED, user_handle
from authgate.store import Transaction
from authgate.store.records import PasskeyRecord, UserRecord, WebAuthnChallengeRecord


@dataclass(frozen=True)
class RelyingParty:
    """The RP ID and the origins whose clientDataJSON we accept."""

    id: str
    origins: list[str]


@dataclass(frozen=True)
class PasskeySignIn:
    """A verified passkey assertion: who, with which passkey, and the amr to issue."""

    user: UserRecord
    passkey: PasskeyRecord
    amr: list[str]


def amr_of(passkey: PasskeyRecord) -> list[str]:
    return ["swk"] if passkey.backup_eligible else ["hwk"]


async def new_passkey(
    tx: Transaction,
    rp: RelyingParty,
    user: UserRecord,
    spent: tuple[bytes, WebAuthnChallengeRecord],
    parsed: RegistrationCredential,
    limit: int,
    name: str,
    now: float,
) -> PasskeyRecord | str:
    """The attested credential, stored; or why it was refused."""
    challenge, row = spent
    if row.sub != user.sub:
        return "challenge of another user"
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            require_user_verification=True,
        )
    except MALFORMED as exc:
        return str(exc)
    if await tx.passkeys.count(user.sub) >= limit:
        return "too many passkeys"
    credential_id = bytes_to_base64url(verified.credential_id)
    if await tx.passkeys.by_credential_id(credential_id) is not None:
        return "already registered"
    transports = [t.value for t in parsed.response.transports or []]
    multi = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    passkey = PasskeyRecord(
        id=str(uuid.uuid4()),
        sub=user.sub,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
        aaguid=verified.aaguid,
        backup_eligible=multi,
        backed_up=verified.credential_backed_up,
        device_type=verified.credential_device_type.value,
        name=name,
        created_at=now,
    )
    await tx.passkeys.add(passkey)
    return passkey


async def verified_assertion(
    tx: Transaction,
    rp: RelyingParty,
    spent: tuple[bytes, WebAuthnChallengeRecord],
    parsed: AuthenticationCredential,
    now: float,
) -> PasskeySignIn | tuple[str, PasskeyRecord | None]:
    """Who signed in, the passkey's counter and last use stored; or why not, with the
    passkey when one was named (a clone is audited against it)."""
    challenge, row = spent
    passkey = await tx.passkeys.by_credential_id(bytes_to_base64url(parsed.raw_id), lock=True)
    if passkey is None:
        return "unknown credential", None
    if row.restricted and row.sub != passkey.sub:
        return "credential of another user", passkey
    handle = parsed.response.user_handle
    if handle and not hmac.compare_digest(handle, user_handle(passkey.sub)):
        return "user handle mismatch", passkey
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,  # compared below, after the signature
            require_user_verification=True,
        )
    except MALFORMED as exc:
        return str(exc), passkey
    count = verified.new_sign_count
    if (count or passkey.sign_count) and count <= passkey.sign_count:
        return "cloned", passkey
    user = await tx.users.get(passkey.sub)
    if user is None:
        return "unknown credential", None
    await tx.passkeys.record_use(passkey.id, count, verified.credential_backed_up, now)
    passkey.sign_count, passkey.last_used_at = count, now
    return PasskeySignIn(user, passkey, amr_of(passkey))


def account_refusal(user: UserRecord) -> Exception | None:
    """As with passwords, the account's state is told only after a valid credential."""
    if not user.enabled:
        return UserDisabled()
    if user.status == "unconfirmed":
        return UserNotConfirmed()
    if user.status == "force_change_password":
        return PasswordChangeRequired()
    if user.status == "reset_required":
        return PasswordResetRequired()
    return None
