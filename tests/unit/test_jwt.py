"""TokenCodec: roundtrips, independent verification, and one test per attack class."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from authgate.errors import InvalidToken
from authgate.tokens.jwt import MAX_TOKEN_BYTES, TokenCodec
from authgate.tokens.keys import Algorithm, KeyRing, SigningKey, generate_signing_key
from tests.clock import Clock

ALGS: tuple[Algorithm, ...] = ("RS256", "ES256", "EdDSA")
ISSUER = "https://issuer.example"
NOW = 1_700_000_000.0
LEEWAY = 30.0


def b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"sig") -> str:
    return f"{b64(header)}.{b64(claims)}.{b64(signature)}"


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": "api",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "token_use": "access",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    """One key per algorithm; RS256 is newest so it is the ring's active signer."""
    return {
        alg: generate_signing_key(alg, now=NOW - 1000 + i) for i, alg in enumerate(reversed(ALGS))
    }


@pytest.fixture(scope="module")
def ring(keys: dict[str, SigningKey]) -> KeyRing:
    return KeyRing(keys.values())


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def codec(ring: KeyRing, clock: Clock) -> TokenCodec:
    return TokenCodec(lambda: ring, ISSUER, leeway=LEEWAY, clock=clock)


def sign_raw(key: SigningKey, payload: Any, **header: Any) -> str:
    """Sign any JSON payload with a real ring key, bypassing every claim check on the way."""
    headers = {"kid": key.kid, "typ": "JWT", **header}
    body = json.dumps(payload).encode()
    return pyjwt.PyJWS().encode(body, key.private_key, algorithm=key.alg, headers=headers)


def segment_json(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


@pytest.mark.parametrize("alg", ALGS)
class TestRoundtrip:
    @pytest.fixture
    def single(self, keys: dict[str, SigningKey], alg: str, clock: Clock) -> TokenCodec:
        only = KeyRing([keys[alg]])
        return TokenCodec(lambda: only, ISSUER, clock=clock)

    def test_sign_then_verify(
        self, single: TokenCodec, keys: dict[str, SigningKey], alg: str
    ) -> None:
        token = single.sign(claims(), typ="at+jwt")
        assert segment_json(token, 0) == {"alg": alg, "kid": keys[alg].kid, "typ": "at+jwt"}
        assert segment_json(token, 1) == claims()
        assert single.verify(token, token_use="access", audience="api", typ="at+jwt") == claims()

    @pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
    def test_joserfc_verifies_with_published_jwks_only(
        self, single: TokenCodec, keys: dict[str, SigningKey], alg: str
    ) -> None:
        token = single.sign(claims())
        jwks = json.loads(json.dumps(KeyRing([keys[alg]]).jwks(NOW)))
        decoded = jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg])
        assert decoded.claims == claims()
        assert decoded.header["kid"] == keys[alg].kid


class TestCodec:
    def test_default_header_typ_is_jwt(
        self, codec: TokenCodec, keys: dict[str, SigningKey]
    ) -> None:
        header = segment_json(codec.sign(claims()), 0)
        assert header == {"alg": "RS256", "kid": keys["RS256"].kid, "typ": "JWT"}

    def test_sign_requires_matching_issuer(self, codec: TokenCodec) -> None:
        with pytest.raises(ValueError, match="iss"):
            codec.sign(claims(iss="https://other.example"))
        with pytest.raises(ValueError, match="iss"):
            codec.sign(claims(iss=None))

    def test_sign_adds_no_claims(self, codec: TokenCodec) -> None:
        assert segment_json(codec.sign({"iss": ISSUER}), 1) == {"iss": ISSUER}

    def test_retired_key_verifies_until_window_closes(
        self, keys: dict[str, SigningKey], clock: Clock
    ) -> None:
        old = keys["ES256"]
        current: list[KeyRing] = [KeyRing([old])]
        codec = TokenCodec(lambda: current[0], ISSUER, clock=clock)
        token = codec.sign(claims(exp=int(NOW) + 10_000))
        retired = dataclasses.replace(old, retired_at=NOW, verify_until=NOW + 600)
        current[0] = KeyRing([retired, keys["RS256"]])
        assert segment_json(codec.sign(claims()), 0)["kid"] == keys["RS256"].kid
        assert codec.verify(token, token_use="access", audience="api")["sub"] == "user-1"
        clock.now = NOW + 600
        with pytest.raises(InvalidToken, match="unknown or expired signing key"):
            codec.verify(token, token_use="access", audience="api")

    def test_audience_none_skips_aud_check(self, codec: TokenCodec) -> None:
        assert codec.verify(codec.sign(claims(aud=None)), token_use="access", audience=None)
        assert codec.verify(codec.sign(claims(aud="x")), token_use="access", audience=None)

    @pytest.mark.parametrize("aud", ["api", ["other", "api"]])
    def test_audience_collection_matches_any(self, codec: TokenCodec, aud: Any) -> None:
        token = codec.sign(claims(aud=aud))
        assert codec.verify(token, token_use="access", audience=["web", "api"])

    @pytest.mark.parametrize("header_typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
    @pytest.mark.parametrize("wanted", ["at+jwt", "application/AT+JWT"])
    def test_typ_accepts_media_type_forms(
        self, codec: TokenCodec, header_typ: str, wanted: str
    ) -> None:
        token = codec.sign(claims(), typ=header_typ)
        assert codec.verify(token, token_use="access", audience="api", typ=wanted)

    def test_leeway_boundaries(self, codec: TokenCodec, clock: Clock) -> None:
        token = codec.sign(claims(exp=int(NOW), nbf=int(NOW)))
        clock.now = NOW + LEEWAY - 1
        assert codec.verify(token, token_use="access", audience="api")
        clock.now = NOW - LEEWAY
        assert codec.verify(token, token_use="access", audience="api")


class TestAttacks:
    """Each test is one class of attack; every one must end in InvalidToken."""

    def reject(self, codec: TokenCodec, token: Any, match: str | None, **kwargs: Any) -> None:
        kwargs.setdefault("token_use", "access")
        kwargs.setdefault("audience", "api")
        with pytest.raises(InvalidToken, match=match):
            codec.verify(token, **kwargs)

    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
    @pytest.mark.parametrize("signature", [b"", b"anything"])
    def test_alg_none(
        self, codec: TokenCodec, keys: dict[str, SigningKey], alg: str, signature: bytes
    ) -> None:
        token = forge({"alg": alg, "kid": keys["RS256"].kid, "typ": "JWT"}, claims(), signature)
        self.reject(codec, token, "unsupported algorithm|not a compact JWS")
        unsigned = token.rsplit(".", 1)[0] + "."
        self.reject(codec, unsigned, "not a compact JWS")

    def test_hs256_with_public_key_as_secret(
        self, codec: TokenCodec, keys: dict[str, SigningKey]
    ) -> None:
        key = keys["RS256"]
        pem = key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = f"{b64({'alg': 'HS256', 'kid': key.kid, 'typ': 'JWT'})}.{b64(claims())}"
        mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        self.reject(codec, f"{signing_input}.{b64(mac)}", "unsupported algorithm")

    def test_alg_of_another_supported_family(
        self, codec: TokenCodec, keys: dict[str, SigningKey]
    ) -> None:
        token = sign_raw(keys["RS256"], claims(), kid=keys["ES256"].kid)
        self.reject(codec, token, "algorithm does not match key")

    def test_embedded_jwk_with_attacker_key(
        self, codec: TokenCodec, keys: dict[str, SigningKey]
    ) -> None:
        attacker = generate_signing_key("RS256")
        for kid in (attacker.kid, keys["RS256"].kid):
            token = sign_raw(attacker, claims(), kid=kid, jwk=attacker.public_jwk)
            self.reject(codec, token, "forbidden header member")
        self.reject(codec, sign_raw(attacker, claims(), kid=keys["RS256"].kid), "signature")

    @pytest.mark.parametrize(
        "member, value",
        [
            ("jku", "https://attacker.example/jwks.json"),
            ("x5u", "https://attacker.example/cert.pem"),
            ("x5c", ["MIIBIjANBgkq"]),
            ("x5t", "dGh1bWI"),
            ("crit", ["exp"]),
        ],
    )
    def test_key_location_and_crit_headers(
        self, codec: TokenCodec, keys: dict[str, SigningKey], member: str, value: Any
    ) -> None:
        token = sign_raw(keys["RS256"], claims(), **{member: value})
        self.reject(codec, token, "forbidden header member")

    def test_a_repeated_header_member_is_refused(
        self, codec: TokenCodec, keys: dict[str, SigningKey]
    ) -> None:
        kid = keys["RS256"].kid
        header = f'{{"alg":"none","kid":"{kid}","typ":"JWT","alg":"RS256"}}'.encode()
        token = f"{b64(header)}.{b64(claims())}.{b64(b'sig')}"
        self.reject(codec, token, "duplicate header member")

    @pytest.mark.parametrize(
        "header, match",
        [
            (b'["alg", "RS256"]', "header is not a JSON object"),
            (b"[" * 2_000 + b"]" * 2_000, "malformed token"),  # nested past the parser's depth
            (b"\xff\xfe", "malformed token"),
        ],
    )
    def test_a_header_that_is_not_one_json_object_is_refused(
        self, codec: TokenCodec, header: bytes, match: str
    ) -> None:
        self.reject(codec, f"{b64(header)}.{b64(claims())}.{b64(b'sig')}", match)

    @pytest.mark.parametrize("kid", ["unknown", "../../etc/passwd", "k" * 129, "", 7, None])
    def test_bad_kid(self, codec: TokenCodec, keys: dict[str, SigningKey], kid: Any) -> None:
        header = {"alg": "RS256", "typ": "JWT", "kid": kid}
        if kid is None:
            del header["kid"]
        self.reject(codec, forge(header, claims()), "kid|unknown")

    @pytest.mark.parametrize(
        "iss",
        [
            "https://issuer.example.evil",
            "https://issuer.exampl",
            "https://issuer.example/",
            "HTTPS://ISSUER.EXAMPLE",
            ["https://issuer.example"],
            None,
        ],
    )
    def test_issuer_not_exact(
        self, codec: TokenCodec, keys: dict[str, SigningKey], iss: Any
    ) -> None:
        self.reject(codec, sign_raw(keys["RS256"], claims(iss=iss)), "iss")

    @pytest.mark.parametrize("aud", ["other", "ap", "api ", ["other", "x"], [], 5, ["api", 5]])
    def test_wrong_audience(self, codec: TokenCodec, keys: dict[str, SigningKey], aud: Any) -> None:
        self.reject(codec, sign_raw(keys["RS256"], claims(aud=aud)), "aud")

    def test_missing_audience_when_required(self, codec: TokenCodec) -> None:
        self.reject(codec, codec.sign(claims(aud=None)), "aud")

    def test_expired_beyond_leeway(self, codec: TokenCodec, clock: Clock) -> None:
        token = codec.sign(claims(exp=int(NOW) + 60))
        clock.now = NOW + 60 + LEEWAY
        self.reject(codec, token, "expired")

    def test_not_before_in_future(self, codec: TokenCodec) -> None:
        self.reject(codec, codec.sign(claims(nbf=int(NOW + LEEWAY) + 1)), "not yet valid")

    @pytest.mark.parametrize(
        "change",
        [
            {"exp": None},
            {"iat": None},
            {"exp": "9999999999"},
            {"exp": True},
            {"iat": "now"},
            {"nbf": [0]},
        ],
    )
    def test_missing_or_malformed_time_claims(
        self, codec: TokenCodec, keys: dict[str, SigningKey], change: dict[str, Any]
    ) -> None:
        self.reject(codec, sign_raw(keys["RS256"], claims(**change)), "exp|iat|nbf")

    @pytest.mark.parametrize("exp", [float("inf"), float("nan")])
    def test_nonfinite_exp(
        self, codec: TokenCodec, keys: dict[str, SigningKey], exp: float
    ) -> None:
        self.reject(codec, sign_raw(keys["RS256"], claims(exp=exp)), "exp")

    @pytest.mark.parametrize("use", ["id", "Access", None])
    def test_wrong_token_use(self, codec: TokenCodec, use: str | None) -> None:
        self.reject(codec, codec.sign(claims(token_use=use)), "token_use")

    @pytest.mark.parametrize("header_typ", ["JWT", "id+jwt", "application/jwt", "at+jwt+x"])
    def test_wrong_typ(self, codec: TokenCodec, header_typ: str) -> None:
        token = codec.sign(claims(), typ=header_typ)
        self.reject(codec, token, "token type", typ="at+jwt")

    def test_missing_typ_when_required(
        self, codec: TokenCodec, keys: dict[str, SigningKey]
    ) -> None:
        token = sign_raw(keys["RS256"], claims(), typ=None)
        assert "typ" not in segment_json(token, 0)
        self.reject(codec, token, "token type", typ="at+jwt")

    def test_tampered_payload_and_signature(self, codec: TokenCodec) -> None:
        header, _, signature = codec.sign(claims()).split(".")
        forged_body = b64(claims(sub="admin"))
        self.reject(codec, f"{header}.{forged_body}.{signature}", "invalid signature")
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        self.reject(codec, f"{header}.{b64(claims())}.{flipped}", "invalid signature")

    def test_duplicate_header_member(self, codec: TokenCodec, keys: dict[str, SigningKey]) -> None:
        raw = f'{{"alg":"RS256","kid":"{keys["RS256"].kid}","alg":"none"}}'.encode()
        self.reject(codec, f"{b64(raw)}.{b64(claims())}.{b64(b'x')}", "duplicate")

    def test_oversize_token(self, codec: TokenCodec) -> None:
        big = codec.sign(claims(padding="x" * MAX_TOKEN_BYTES))
        self.reject(codec, big, "too large")
        self.reject(codec, "a" * (MAX_TOKEN_BYTES + 1), "too large")

    @pytest.mark.parametrize(
        "token",
        [None, b"a.b.c", 42, "", "a.b", "a.b.c.d", "a..c", "@@@.b.c", "é.b.c", "e30.e30.e30"],
    )
    def test_malformed_shapes(self, codec: TokenCodec, token: Any) -> None:
        self.reject(codec, token, None)

    @given(st.text(max_size=400) | st.binary(max_size=64) | st.integers() | st.none())
    @settings(max_examples=300, deadline=None)
    def test_garbage_only_raises_invalid_token(self, ring: KeyRing, garbage: Any) -> None:
        codec = TokenCodec(lambda: ring, ISSUER, clock=Clock(NOW))
        with pytest.raises(InvalidToken):
            codec.verify(garbage, token_use="access", audience="api")

    @given(
        header=st.dictionaries(st.text(max_size=5), st.text(max_size=5) | st.integers()),
        payload=st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=8,
        ),
        signature=st.binary(max_size=300),
        alg=st.sampled_from(["RS256", "ES256", "EdDSA", "none", "HS256"]),
        kid_alg=st.sampled_from(ALGS),
    )
    @settings(max_examples=300, deadline=None)
    def test_structured_garbage_only_raises_invalid_token(
        self,
        keys: dict[str, SigningKey],
        ring: KeyRing,
        header: dict[str, Any],
        payload: Any,
        signature: bytes,
        alg: str,
        kid_alg: str,
    ) -> None:
        codec = TokenCodec(lambda: ring, ISSUER, clock=Clock(NOW))
        full_header = {**header, "alg": alg, "kid": keys[kid_alg].kid}
        token = f"{b64(full_header)}.{b64(json.dumps(payload).encode())}.{b64(signature)}"
        with pytest.raises(InvalidToken):
            codec.verify(token, token_use="access", audience="api")
