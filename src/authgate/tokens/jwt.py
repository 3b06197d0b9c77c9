"""Sign and verify JWTs with the key ring, refusing every known JOSE confusion trick.

The header is parsed and vetted here before PyJWT sees the token, so the key and its
single algorithm come from our key ring, never from attacker-controlled header fields.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Collection
from typing import Any, NoReturn

import jwt as pyjwt

from authgate.errors import InvalidToken
from authgate.jose_segments import MalformedSegment, SegmentFault, json_object_segment
from authgate.tokens.keys import SUPPORTED_ALGORITHMS, KeyRing, SigningKey

MAX_TOKEN_BYTES = 8192
MAX_KID_LENGTH = 128
# Header members that let a token name its own key or demand extensions we do not implement.
FORBIDDEN_HEADER_MEMBERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class UnknownSigningKey(InvalidToken):
    """The kid is not in this process's ring: it may be newer than the ring (reload once)."""


def _reject(reason: str) -> NoReturn:
    raise InvalidToken(reason)


def _numeric_date(claims: dict[str, Any], name: str, default: float | None = None) -> float:
    """A finite JSON number; booleans, strings and inf/nan would skew time comparisons."""
    value = claims.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        _reject(f"{name} must be a numeric date")
    if isinstance(value, float) and not math.isfinite(value):
        _reject(f"{name} must be a numeric date")
    return value


def _media_type(value: str) -> str:
    """RFC 7515 §4.1.9: a typ without "/" implies the "application/" prefix."""
    lowered = value.lower()
    return lowered if "/" in lowered else "application/" + lowered


def _split(token: object) -> list[str]:
    if not isinstance(token, str):
        _reject("token must be a string")
    if not token.isascii() or len(token) > MAX_TOKEN_BYTES:
        _reject("token too large or not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(part) for part in parts):
        _reject("not a compact JWS")
    return parts


_HEADER_FAULTS = {
    SegmentFault.REPEATED_MEMBER: "duplicate header member",
    SegmentFault.NOT_AN_OBJECT: "header is not a JSON object",
    SegmentFault.NOT_JSON: "malformed token",
}


def _parse_header(segment: str) -> dict[str, Any]:
    try:
        return json_object_segment(segment)
    except MalformedSegment as exc:
        _reject(_HEADER_FAULTS[exc.fault])


def _check_header(header: dict[str, Any], typ: str | None) -> tuple[str, str]:
    """Vet the header; returns (kid, alg)."""
    if FORBIDDEN_HEADER_MEMBERS & header.keys():
        _reject("forbidden header member")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        _reject("unsupported algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        _reject("missing or invalid kid")
    if typ is not None:
        token_typ = header.get("typ")
        if not isinstance(token_typ, str) or _media_type(token_typ) != _media_type(typ):
            _reject("wrong token type")
    return kid, alg


def _check_audience(claims: dict[str, Any], audience: str | Collection[str]) -> None:
    expected = {audience} if isinstance(audience, str) else set(audience)
    aud = claims.get("aud")
    if isinstance(aud, str):
        aud = [aud]
    if not isinstance(aud, list) or not all(isinstance(a, str) for a in aud):
        _reject("missing or invalid aud")
    if expected.isdisjoint(aud):
        _reject("audience mismatch")


class TokenCodec:
    """Signs with the ring's active key and verifies against the ring's live keys."""

    def __init__(
        self,
        keyring_provider: Callable[[], KeyRing],
        issuer: str,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer:
            raise ValueError("issuer must be a non-empty string")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self._keyring_provider = keyring_provider
        self._issuer = issuer
        self._leeway = leeway
        self._clock = clock

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        """Sign `claims` as given; the header is exactly {alg, kid, typ}."""
        if claims.get("iss") != self._issuer:
            raise ValueError("claims['iss'] must equal the codec's issuer")
        if not typ:
            raise ValueError("typ must be a non-empty string")
        key = self._keyring_provider().active
        return pyjwt.encode(
            claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": typ}
        )

    def verify(
        self,
        token: str,
        *,
        token_use: str,
        audience: str | Collection[str] | None,
        typ: str | None = None,
    ) -> dict[str, Any]:
        """Return the claims of a valid token; any defect is InvalidToken, nothing else."""
        try:
            return self._verify(token, token_use, audience, typ)
        except InvalidToken:
            raise
        except Exception as exc:
            raise InvalidToken("malformed token") from exc

    def _verify(
        self,
        token: str,
        token_use: str,
        audience: str | Collection[str] | None,
        typ: str | None,
    ) -> dict[str, Any]:
        parts = _split(token)
        kid, alg = _check_header(_parse_header(parts[0]), typ)
        now = self._clock()
        key = self._keyring_provider().verification_key(kid, now)
        if key is None:
            raise UnknownSigningKey("unknown or expired signing key")
        if alg != key.alg:
            _reject("algorithm does not match key")
        claims = self._decode(token, key)
        self._check_claims(claims, now, token_use, audience)
        return claims

    def _decode(self, token: str, key: SigningKey) -> dict[str, Any]:
        """Signature and presence checks by PyJWT; times are ours, to honour the clock."""
        try:
            return pyjwt.decode(
                token,
                key.public_key,
                algorithms=[key.alg],
                issuer=self._issuer,
                options={
                    "require": ["exp", "iat", "iss"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                },
            )
        except pyjwt.InvalidSignatureError:
            _reject("invalid signature")
        except pyjwt.MissingRequiredClaimError as exc:
            _reject(f"missing {exc.claim} claim")
        except pyjwt.InvalidIssuerError:
            _reject("issuer mismatch")
        except pyjwt.PyJWTError:
            _reject("malformed token")

    def _check_claims(
        self,
        claims: dict[str, Any],
        now: float,
        token_use: str,
        audience: str | Collection[str] | None,
    ) -> None:
        # Checked again here so a PyJWT regression in issuer matching cannot widen it.
        if claims.get("iss") != self._issuer:
            _reject("issuer mismatch")
        exp = _numeric_date(claims, "exp")
        _numeric_date(claims, "iat")
        nbf = _numeric_date(claims, "nbf", default=now)
        if now >= exp + self._leeway:
            _reject("token expired")
        if nbf > now + self._leeway:
            _reject("token not yet valid")
        if audience is not None:
            _check_audience(claims, audience)
        if claims.get("token_use") != token_use:
            _reject("wrong token_use")
