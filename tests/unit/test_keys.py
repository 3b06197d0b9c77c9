"""Signing keys, their JWK form, at-rest encryption and the rotation ring."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import import_key

from authgate.tokens.keys import (
    SUPPORTED_ALGORITHMS,
    Algorithm,
    KeyEncryptor,
    KeyRing,
    SigningKey,
    b64url_decode,
    decode_kek,
    encode_kek,
    generate_signing_key,
    jwk_thumbprint,
    new_key_encryption_key,
    private_key_from_pem,
    private_key_to_pem,
)

ALGS: tuple[Algorithm, ...] = ("RS256", "ES256", "EdDSA")
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
KTY = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
KEY_CLASS = {
    "RS256": rsa.RSAPrivateKey,
    "ES256": ec.EllipticCurvePrivateKey,
    "EdDSA": ed25519.Ed25519PrivateKey,
}


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {alg: generate_signing_key(alg, now=1000.0) for alg in ALGS}


def public_pem(key: SigningKey) -> bytes:
    return key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_supported_algorithms_match_literal() -> None:
    assert SUPPORTED_ALGORITHMS == ALGS


@pytest.mark.parametrize("alg", ALGS)
class TestSigningKey:
    def test_generates_key_of_matching_type(self, keys: dict[str, SigningKey], alg: str) -> None:
        key = keys[alg]
        assert key.alg == alg
        assert isinstance(key.private_key, KEY_CLASS[alg])
        assert key.created_at == 1000.0
        assert key.retired_at is None and key.verify_until is None

    def test_public_jwk_has_no_private_members(self, keys: dict[str, SigningKey], alg: str) -> None:
        jwk = keys[alg].public_jwk
        assert not set(PRIVATE_MEMBERS) & jwk.keys()
        assert jwk["kid"] == keys[alg].kid
        assert jwk["alg"] == alg
        assert jwk["use"] == "sig"
        assert jwk["kty"] == KTY[alg]

    def test_kid_is_rfc7638_thumbprint(self, keys: dict[str, SigningKey], alg: str) -> None:
        key = keys[alg]
        independent = import_key(public_pem(key), KTY[alg])  # type: ignore[call-overload]
        assert key.kid == independent.thumbprint()
        assert len(b64url_decode(key.kid)) == 32

    def test_joserfc_reads_public_jwk_as_same_key(
        self, keys: dict[str, SigningKey], alg: str
    ) -> None:
        key = keys[alg]
        imported = import_key(key.public_jwk, KTY[alg])  # type: ignore[call-overload]
        assert imported.as_pem(private=False) == public_pem(key)

    def test_pem_roundtrip(self, keys: dict[str, SigningKey], alg: str) -> None:
        key = keys[alg]
        pem = private_key_to_pem(key.private_key)
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
        loaded = private_key_from_pem(pem, key.alg)
        assert jwk_thumbprint(loaded.public_key()) == key.kid

    def test_pem_with_other_alg_rejected(self, keys: dict[str, SigningKey], alg: str) -> None:
        pem = private_key_to_pem(keys[alg].private_key)
        for other in ALGS:
            if other != alg:
                with pytest.raises(ValueError, match="does not match"):
                    private_key_from_pem(pem, other)


def test_weak_rsa_and_wrong_curve_pem_rejected() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="2048"):
        private_key_from_pem(private_key_to_pem(weak), "RS256")
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="P-256"):
        private_key_from_pem(private_key_to_pem(p384), "ES256")


def test_thumbprint_matches_rfc7638_example() -> None:
    n = b64url_decode(
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    public = rsa.RSAPublicNumbers(65537, int.from_bytes(n, "big")).public_key()
    assert jwk_thumbprint(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_matches_rfc8037_example() -> None:
    x = b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    public = ed25519.Ed25519PublicKey.from_public_bytes(x)
    assert jwk_thumbprint(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


class TestKeyEncryptor:
    def test_roundtrip_with_random_nonce(self) -> None:
        enc = KeyEncryptor(new_key_encryption_key())
        first = enc.encrypt(b"secret pem", b"kid-1")
        second = enc.encrypt(b"secret pem", b"kid-1")
        assert first != second
        assert len(first) == 12 + len(b"secret pem") + 16
        assert enc.decrypt(first, b"kid-1") == b"secret pem"
        assert enc.decrypt(second, b"kid-1") == b"secret pem"

    @pytest.mark.parametrize("position", [0, 11, 12, -17, -1])
    def test_tampered_blob_rejected(self, position: int) -> None:
        enc = KeyEncryptor(new_key_encryption_key())
        blob = bytearray(enc.encrypt(b"secret pem", b"kid-1"))
        blob[position] ^= 0x01
        with pytest.raises(ValueError, match="cannot be decrypted"):
            enc.decrypt(bytes(blob), b"kid-1")

    @pytest.mark.parametrize("length", [0, 5, 27])
    def test_truncated_blob_rejected(self, length: int) -> None:
        enc = KeyEncryptor(new_key_encryption_key())
        blob = enc.encrypt(b"", b"kid-1")
        with pytest.raises(ValueError, match="cannot be decrypted"):
            enc.decrypt(blob[:length], b"kid-1")

    def test_wrong_kek_rejected(self) -> None:
        blob = KeyEncryptor(new_key_encryption_key()).encrypt(b"secret pem", b"kid-1")
        with pytest.raises(ValueError, match="cannot be decrypted"):
            KeyEncryptor(new_key_encryption_key()).decrypt(blob, b"kid-1")

    def test_wrong_associated_data_rejected(self) -> None:
        enc = KeyEncryptor(new_key_encryption_key())
        blob = enc.encrypt(b"secret pem", b"kid-1")
        with pytest.raises(ValueError, match="cannot be decrypted"):
            enc.decrypt(blob, b"kid-2")

    @pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
    def test_kek_must_be_32_bytes(self, length: int) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            KeyEncryptor(b"k" * length)


class TestKekText:
    def test_roundtrip_tolerates_surrounding_whitespace(self) -> None:
        kek = new_key_encryption_key()
        text = encode_kek(kek)
        assert "=" not in text and len(text) == 43
        assert decode_kek(f"  {text}\n") == kek

    def test_wrong_length_rejected(self) -> None:
        with pytest.raises(ValueError, match="32 bytes, got 16"):
            decode_kek(encode_kek(b"k" * 16))

    @pytest.mark.parametrize("text", ["", "not base64!", "a" * 43 + "=", "a b"])
    def test_garbage_rejected(self, text: str) -> None:
        with pytest.raises(ValueError, match="key-encryption key"):
            decode_kek(text)


def ring_key(key: SigningKey, created_at: float, **changes: float | None) -> SigningKey:
    return dataclasses.replace(key, created_at=created_at, **changes)  # type: ignore[arg-type]


class TestKeyRing:
    @pytest.fixture
    def three(self, keys: dict[str, SigningKey]) -> tuple[SigningKey, SigningKey, SigningKey]:
        old = ring_key(keys["RS256"], 100.0, retired_at=200.0, verify_until=500.0)
        current = ring_key(keys["ES256"], 200.0)
        older = ring_key(keys["EdDSA"], 150.0)
        return old, current, older

    def test_active_is_newest_non_retired(self, three: tuple[SigningKey, ...]) -> None:
        old, current, older = three
        assert KeyRing([old, older, current]).active is current
        newest_but_retired = ring_key(old, 900.0)
        assert KeyRing([newest_but_retired, older, current]).active is current

    def test_no_active_key_rejected(self, three: tuple[SigningKey, ...]) -> None:
        with pytest.raises(ValueError, match="no active"):
            KeyRing([three[0]])
        with pytest.raises(ValueError, match="no active"):
            KeyRing([])

    def test_duplicate_kid_rejected(self, three: tuple[SigningKey, ...]) -> None:
        with pytest.raises(ValueError, match="duplicate kid"):
            KeyRing([three[1], three[1]])

    def test_verification_key_window(self, three: tuple[SigningKey, ...]) -> None:
        old, current, _ = three
        ring = KeyRing(three)
        assert ring.verification_key(old.kid, 499.0) is old
        assert ring.verification_key(old.kid, 500.0) is None
        assert ring.verification_key(current.kid, 10_000.0) is current
        assert ring.verification_key("unknown", 0.0) is None

    def test_jwks_drops_keys_past_verify_until(self, three: tuple[SigningKey, ...]) -> None:
        old, current, older = three
        ring = KeyRing(three)
        before = ring.jwks(499.0)
        assert [k["kid"] for k in before["keys"]] == [current.kid, older.kid, old.kid]
        after = ring.jwks(500.0)
        assert [k["kid"] for k in after["keys"]] == [current.kid, older.kid]
        for jwk in before["keys"]:
            assert not set(PRIVATE_MEMBERS) & jwk.keys()
