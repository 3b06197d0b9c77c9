"""The ID token checks of sign-in with an external provider (federation/id_token.py):
each test forges one defect into an otherwise valid token and expects it refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate.clients.keysets import ClientKey, parse_key_set
from authgate.federation.calls import _json_object
from authgate.federation.discovery import parse_keys, parse_metadata
from authgate.federation.errors import InvalidIdToken, ProviderUnavailable, UnknownKey
from authgate.federation.id_token import verify_id_token

ISSUER = "https://idp.example"
CLIENT = "authgate"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_800_000_000.0

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(private: Any, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(
        pyjwt.algorithms.get_default_algorithms()[
            "RS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256"
        ].to_jwk(private.public_key())
    )
    return {**jwk, "kid": kid, "use": "sig"}


KEYS: list[ClientKey] = [
    *parse_key_set({"keys": [public_jwk(RSA_KEY, "r1")]}),
    *parse_key_set({"keys": [public_jwk(EC_KEY, "e1")]}),
]


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": CLIENT,
        "exp": NOW + 300,
        "iat": NOW - 5,
        "nonce": NONCE,
        "email": "jane@example.com",
        "email_verified": True,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any = RSA_KEY, alg: str = "RS256", **header: Any) -> str:
    return pyjwt.encode(payload, key, algorithm=alg, headers={"kid": "r1", **header})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verify(token: str, algorithms: tuple[str, ...] = ("RS256", "ES256")) -> dict[str, Any]:
    return verify_id_token(
        token,
        KEYS,
        algorithms=algorithms,
        issuer=ISSUER,
        client_id=CLIENT,
        nonce=NONCE,
        now=NOW,
        leeway=60,
    )


def test_a_valid_token_gives_its_claims() -> None:
    assert verify(sign(claims()))["sub"] == "248289761001"


def test_an_es256_token_verifies_with_the_ec_key() -> None:
    assert verify(sign(claims(), EC_KEY, "ES256", kid="e1"))["email"] == "jane@example.com"


def test_a_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="invalid signature"):
        verify(sign(claims(), OTHER_RSA))


def test_alg_none_is_refused() -> None:
    header = b64(json.dumps({"alg": "none", "kid": "r1"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}.x"
    with pytest.raises(InvalidIdToken, match="algorithm not allowed"):
        verify(token)


def test_hs256_keyed_with_the_public_key_is_refused() -> None:
    pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": "r1", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims()).encode())
    mac = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidIdToken, match="algorithm not allowed"):
        verify(f"{header}.{body}.{b64(mac)}")


def test_an_algorithm_the_metadata_does_not_offer_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="algorithm not allowed"):
        verify(sign(claims(), EC_KEY, "ES256", kid="e1"), algorithms=("RS256",))


def test_a_key_is_used_only_with_its_own_algorithm() -> None:
    with pytest.raises(InvalidIdToken, match="does not match the key"):
        verify(sign(claims(), EC_KEY, "ES256", kid="r1"))


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u", "x5c", "crit"])
def test_a_header_naming_its_own_key_is_refused(member: str) -> None:
    with pytest.raises(InvalidIdToken, match="forbidden header member"):
        verify(sign(claims(), **{member: "https://evil.example/keys"}))


def test_an_unknown_kid_asks_for_the_keys_again() -> None:
    with pytest.raises(UnknownKey):
        verify(sign(claims(), kid="rotated"))


def test_another_issuer_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="issuer mismatch"):
        verify(sign(claims(iss="https://idp.example.evil")))


def test_an_issuer_with_a_trailing_slash_is_another_issuer() -> None:
    with pytest.raises(InvalidIdToken, match="issuer mismatch"):
        verify(sign(claims(iss=ISSUER + "/")))


def test_a_token_for_another_client_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="audience mismatch"):
        verify(sign(claims(aud="someone-else")))


def test_several_audiences_need_azp_naming_us() -> None:
    with pytest.raises(InvalidIdToken, match="azp mismatch"):
        verify(sign(claims(aud=[CLIENT, "other"])))
    assert verify(sign(claims(aud=[CLIENT, "other"], azp=CLIENT)))["azp"] == CLIENT


def test_an_azp_naming_another_client_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="azp mismatch"):
        verify(sign(claims(azp="other")))


def test_an_expired_token_is_refused_past_the_leeway() -> None:
    assert verify(sign(claims(exp=NOW - 30)))
    with pytest.raises(InvalidIdToken, match="expired"):
        verify(sign(claims(exp=NOW - 61)))


def test_a_token_issued_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="not yet valid"):
        verify(sign(claims(iat=NOW + 120)))


def test_a_token_not_valid_before_later_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="not yet valid"):
        verify(sign(claims(nbf=NOW + 120)))


def test_a_wrong_nonce_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="nonce mismatch"):
        verify(sign(claims(nonce="another")))


def test_a_missing_nonce_is_refused() -> None:
    with pytest.raises(InvalidIdToken, match="nonce mismatch"):
        verify(sign(claims(nonce=None)))


@pytest.mark.parametrize("sub", [None, "", 42])
def test_a_missing_or_empty_subject_is_refused(sub: object) -> None:
    with pytest.raises(InvalidIdToken, match="invalid sub|malformed token"):
        verify(sign(claims(sub=sub)))


@pytest.mark.parametrize("exp", ["soon", True, None])
def test_a_non_numeric_expiry_is_refused(exp: object) -> None:
    with pytest.raises(InvalidIdToken, match="exp must be a numeric date"):
        verify(sign(claims(exp=exp)))


def test_a_duplicate_header_member_is_refused() -> None:
    header = b64(b'{"alg":"RS256","kid":"r1","alg":"none"}')
    with pytest.raises(InvalidIdToken, match="duplicate header member"):
        verify(f"{header}.{b64(b'{}')}.x")


def test_a_header_nested_too_deep_to_read_is_refused_not_a_crash() -> None:
    header = b64(b"[" * 6000)
    with pytest.raises(InvalidIdToken, match="unreadable header"):
        verify(f"{header}.{b64(b'{}')}.x")


def test_a_header_that_is_not_an_object_is_refused() -> None:
    header = b64(b'["RS256"]')
    with pytest.raises(InvalidIdToken, match="header is not an object"):
        verify(f"{header}.{b64(b'{}')}.x")


def test_a_provider_answer_nested_too_deep_is_refused_not_a_crash() -> None:
    with pytest.raises(ProviderUnavailable, match="not JSON"):
        _json_object(b"[" * 6000, "the token endpoint")


def test_metadata_of_another_issuer_is_refused() -> None:
    document = {"issuer": ISSUER + ".evil", "id_token_signing_alg_values_supported": ["RS256"]}
    with pytest.raises(ProviderUnavailable, match="issuer differs"):
        parse_metadata(document, ISSUER)


def test_metadata_keeps_only_asymmetric_algorithms() -> None:
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "id_token_signing_alg_values_supported": ["none", "HS256", "RS256"],
    }
    assert parse_metadata(document, ISSUER).algorithms == ("RS256",)


def test_metadata_offering_only_symmetric_algorithms_is_refused() -> None:
    document = {"issuer": ISSUER, "id_token_signing_alg_values_supported": ["HS256", "none"]}
    with pytest.raises(ProviderUnavailable, match="no ID token algorithm"):
        parse_metadata(document, ISSUER)


def test_metadata_with_plain_http_endpoints_for_an_https_issuer_is_refused() -> None:
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": "http://127.0.0.1/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    with pytest.raises(ProviderUnavailable, match="must be https"):
        parse_metadata(document, ISSUER)


def test_a_key_set_skips_symmetric_and_private_keys() -> None:
    document = {
        "keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},
            {**public_jwk(RSA_KEY, "r1")},
            {**public_jwk(EC_KEY, "e1"), "use": "enc"},
        ]
    }
    assert [k.kid for k in parse_keys(document)] == ["r1"]
