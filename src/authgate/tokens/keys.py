"""Signing keys: generation, JWK publication, rotation ring and at-rest encryption.

Pure logic only; persisting keys (encrypted with `KeyEncryptor`) is the store's job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Algorithm = Literal["RS256", "ES256", "EdDSA"]
SUPPORTED_ALGORITHMS: tuple[str, ...] = get_args(Algorithm)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

RSA_KEY_BITS = 2048
KEK_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding, as JOSE and the KEK file use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of `b64url_encode`: foreign characters are an error, not skipped."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyEncryptor:
    """AES-256-GCM under the key-encryption key; nonce (12 random bytes) || ciphertext+tag."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEK_BYTES:
            raise ValueError(f"key-encryption key must be exactly {KEK_BYTES} bytes")
        self._aead = AESGCM(kek)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """Seal `plaintext`; the AAD (the kid) binds the blob to its row."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes) -> bytes:
        """Open a blob from `encrypt`; any tampering or wrong key is one ValueError."""
        error = ValueError(
            "key material cannot be decrypted: wrong key-encryption key, AAD or tampered data"
        )
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise error
        try:
            return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise error from None


def new_key_encryption_key() -> bytes:
    """Fresh random KEK for first start."""
    return os.urandom(KEK_BYTES)


def encode_kek(kek: bytes) -> str:
    """Text form of the KEK for its on-disk file."""
    return b64url_encode(kek)


def decode_kek(text: str) -> bytes:
    """Read the KEK file's text, tolerating a trailing newline and reporting damage plainly."""
    try:
        kek = b64url_decode(text.strip())
    except (ValueError, binascii.Error):
        raise ValueError("key-encryption key is not valid unpadded base64url") from None
    if len(kek) != KEK_BYTES:
        raise ValueError(f"key-encryption key must decode to {KEK_BYTES} bytes, got {len(kek)}")
    return kek


def _uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(size, "big"))


def _public_members(public: PublicKey) -> dict[str, str]:
    """The RFC 7638 required members, which are also everything public about the key."""
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return {"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
    if isinstance(public, ec.EllipticCurvePublicKey):
        point = public.public_numbers()
        size = (public.curve.key_size + 7) // 8
        return {"crv": "P-256", "kty": "EC", "x": _uint(point.x, size), "y": _uint(point.y, size)}
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw)}


def jwk_thumbprint(public: PublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint: a kid derived from the key, so it cannot drift."""
    members = _public_members(public)
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True)
class SigningKey:
    """One signing key and its lifecycle timestamps (epoch seconds)."""

    kid: str
    alg: Algorithm
    private_key: PrivateKey
    created_at: float
    retired_at: float | None = None
    verify_until: float | None = None

    @property
    def public_key(self) -> PublicKey:
        """The verifying half; verification never needs the private key."""
        return self.private_key.public_key()

    @property
    def public_jwk(self) -> dict[str, str]:
        """Publishable JWK; built from public numbers only, so no private member can leak."""
        return {**_public_members(self.public_key), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def verifies_at(self, now: float) -> bool:
        """Whether tokens it signed may still be live at `now`."""
        return self.verify_until is None or now < self.verify_until


def _check_key_type(key: object, alg: Algorithm) -> PrivateKey:
    if alg == "RS256" and isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < RSA_KEY_BITS:
            raise ValueError(f"RS256 key must be at least {RSA_KEY_BITS} bits")
        return key
    if alg == "ES256" and isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("ES256 key must be on curve P-256")
        return key
    if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise ValueError(f"key type {type(key).__name__} does not match algorithm {alg}")


def _new_private_key(alg: Algorithm) -> PrivateKey:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported algorithm {alg!r}")


def generate_signing_key(alg: Algorithm = "RS256", now: float | None = None) -> SigningKey:
    """New active key; its kid is its thumbprint."""
    private_key = _new_private_key(alg)
    return SigningKey(
        kid=jwk_thumbprint(private_key.public_key()),
        alg=alg,
        private_key=private_key,
        created_at=time.time() if now is None else now,
    )


def private_key_to_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8; the caller seals it with `KeyEncryptor` (AAD = kid)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes, alg: Algorithm) -> PrivateKey:
    """Load a stored key, refusing one whose type does not fit its recorded algorithm."""
    return _check_key_type(serialization.load_pem_private_key(pem, password=None), alg)


class KeyRing:
    """The set of keys in force: one active signer, plus retired keys still verifying."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self._keys: dict[str, SigningKey] = {}
        for key in keys:
            if key.kid in self._keys:
                raise ValueError(f"duplicate kid {key.kid!r} in key ring")
            self._keys[key.kid] = key
        candidates = [k for k in self._keys.values() if k.retired_at is None]
        if not candidates:
            raise ValueError("key ring has no active (non-retired) signing key")
        self.active: SigningKey = max(candidates, key=lambda k: (k.created_at, k.kid))

    def verification_key(self, kid: str, now: float) -> SigningKey | None:
        """Key for a token's kid, or None when unknown or past its verification window."""
        key = self._keys.get(kid)
        if key is None or not key.verifies_at(now):
            return None
        return key

    def jwks(self, now: float) -> dict[str, list[dict[str, str]]]:
        """Public JWK Set of every key that may still have live tokens, newest first."""
        live = sorted(
            (k for k in self._keys.values() if k.verifies_at(now)),
            key=lambda k: (k.created_at, k.kid),
            reverse=True,
        )
        return {"keys": [k.public_jwk for k in live]}
