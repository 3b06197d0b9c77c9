"""A software WebAuthn authenticator and client for tests: what a browser and a platform
authenticator would answer to `navigator.credentials.create/get`, in the WebAuthn JSON
encoding (`PublicKeyCredential.toJSON()`), with every field a test may want to get wrong.

ES256 keys (cryptography), COSE keys in CBOR (cbor2), attestation format "none";
assertions are signed over authenticatorData || SHA-256(clientDataJSON).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes(16)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


@dataclass
class SoftAuthenticator:
    """One authenticator (think: a phone) and the browser in front of it at `origin`.

    `backup_eligible`/`backed_up` set the BE/BS flags (a synced passkey); `counter_step`
    is how much the sign counter grows per use (0: an authenticator without counters)."""

    origin: str
    backup_eligible: bool = False
    backed_up: bool = False
    counter_step: int = 1
    credentials: list[Credential] = field(default_factory=list)

    def _flags(self, user_verified: bool, attested: bool = False) -> int:
        flags = UP | (UV if user_verified else 0)
        flags |= (BE if self.backup_eligible else 0) | (BS if self.backed_up else 0)
        return flags | (AT if attested else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool = True,
    ) -> dict[str, Any]:
        """A new credential for `options` (PublicKeyCredentialCreationOptionsJSON)."""
        rp = rp_id or options["rp"]["id"]
        excluded = {d["id"] for d in options.get("excludeCredentials", [])}
        if any(b64url(c.credential_id) in excluded for c in self.credentials):
            raise AssertionError("InvalidStateError: this authenticator is excluded")
        credential = Credential(
            credential_id=secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp,
            user_handle=unb64url(options["user"]["id"]),
        )
        self.credentials.append(credential)
        cred_id = credential.credential_id
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(user_verified, attested=True)])
            + struct.pack(">I", credential.sign_count)
            + AAGUID
            + struct.pack(">H", len(cred_id))
            + cred_id
            + credential.cose_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64url(cred_id),
            "rawId": b64url(cred_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        user_verified: bool = True,
        credential: Credential | None = None,
    ) -> dict[str, Any]:
        """An assertion for `options` (PublicKeyCredentialRequestOptionsJSON), by the
        credential given, else the first one allowed (any one of the RP: discoverable)."""
        rp = rp_id or options["rpId"]
        if credential is None:
            allowed = {d["id"] for d in options.get("allowCredentials", [])}
            usable = [
                c
                for c in self.credentials
                if c.rp_id == options["rpId"]
                and (not allowed or b64url(c.credential_id) in allowed)
            ]
            if not usable:
                raise AssertionError("NotAllowedError: no credential for these options")
            credential = usable[0]
        credential.sign_count += self.counter_step
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(user_verified)])
            + struct.pack(">I", credential.sign_count)
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
