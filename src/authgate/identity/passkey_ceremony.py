"""The parts of a WebAuthn ceremony that hold no policy: challenges (single use, bound to
a session, stored as hashes), credential descriptors, parsing what a browser sent."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import Any

from webauthn.helpers import base64url_to_bytes, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

from authgate.errors import InvalidRequest, PasskeyRejected
from authgate.store import Transaction
from authgate.store.records import PasskeyRecord, WebAuthnChallengeRecord

REGISTER = "register"
LOGIN = "login"
NAME_MAX = 64
DEFAULT_NAME = "Passkey"
MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError)


def _sha256(value: bytes | str) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


def user_handle(sub: str) -> bytes:
    """WebAuthn user.id: the sub's 16 UUID bytes (stable, opaque, no personal data)."""
    return uuid.UUID(sub).bytes


def passkey_name(value: object) -> str:
    """A label the owner chose: 1 to 64 printable characters, trimmed."""
    if value is None:
        return DEFAULT_NAME
    if not isinstance(value, str):
        raise InvalidRequest("name must be a string.", field="name")
    name = value.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise InvalidRequest(f"name must be 1 to {NAME_MAX} printable characters.", field="name")
    return name


class ChallengeBook:
    """Challenges in the store: `issue` one for a purpose and the session `binding` that
    asked; `spend` finds it again by the challenge in the signed clientDataJSON, deletes
    it (used or not), and says why it does not serve, if it does not."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock

    async def issue(
        self,
        tx: Transaction,
        challenge: bytes,
        purpose: str,
        sub: str | None,
        binding: str,
        restricted: bool,
    ) -> None:
        now = self._clock()
        await tx.passkeys.purge_challenges(now)
        await tx.passkeys.add_challenge(
            WebAuthnChallengeRecord(
                challenge_hash=_sha256(challenge),
                purpose=purpose,
                sub=sub,
                binding_hash=_sha256(binding),
                restricted=restricted,
                created_at=now,
                expires_at=now + self._ttl,
            )
        )

    async def spend(
        self, tx: Transaction, client_data_json: bytes, purpose: str, binding: str
    ) -> tuple[bytes, WebAuthnChallengeRecord] | str:
        """The challenge the authenticator signed and its row (now deleted), or why not."""
        try:
            challenge = parse_client_data_json(client_data_json).challenge
        except MALFORMED:
            return "malformed clientDataJSON"
        row = await tx.passkeys.take_challenge(_sha256(challenge))
        if row is None:
            return "unknown or spent challenge"
        if row.purpose != purpose or not hmac.compare_digest(row.binding_hash, _sha256(binding)):
            return "challenge of another session"
        if row.expires_at <= self._clock():
            return "expired challenge"
        return challenge, row


def descriptor(passkey: PasskeyRecord) -> PublicKeyCredentialDescriptor:
    known = {t.value: t for t in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id),
        transports=[known[t] for t in passkey.transports if t in known] or None,
    )


def parse_credential(parser: Callable[[Any], Any], credential: object) -> Any:
    if not isinstance(credential, dict | str):
        raise InvalidRequest(
            "credential must be a PublicKeyCredential JSON object.", field="credential"
        )
    try:
        return parser(credential)
    except MALFORMED:
        raise PasskeyRejected("The credential is malformed.") from None
