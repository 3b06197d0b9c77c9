"""Verifying a provider's ID token (OIDC Core 3.1.3.7), refusing every JOSE trick.

The header is vetted before PyJWT sees the token: the algorithm must be one the provider's
metadata announces *and* asymmetric (never `none`, never HS*, so a public key can never be
used as an HMAC secret), the key comes only from the provider's JWK Set (never from an
embedded `jwk`, a `jku`/`x5u` URL or `x5c`), and a key signs with its one algorithm only.
Then: `iss` equals the configured issuer exactly, `aud` contains our client_id (and with
several audiences `azp` names us; an `azp` present always must), `exp`, `iat` and `nbf`
hold within `leeway`, `nonce` equals ours (constant-time), `sub` is a non-empty string.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Collection, Sequence
from typing import Any, NoReturn

import jwt as pyjwt

from authgate.clients.keysets import ClientKey
from authgate.federation.errors import InvalidIdToken, UnknownKey
from authgate.jose_segments import MalformedSegment, SegmentFault, json_object_segment

MAX_TOKEN_BYTES = 16 * 1024
MAX_AGE = 24 * 3600.0
"""An ID token issued longer ago than this is refused, whatever its `exp`."""
FORBIDDEN_HEADER = frozenset({"jwk", "jku", "x5u", "x5c", "crit", "zip", "enc"})
ASYMMETRIC = frozenset({"RS256", "ES256", "EdDSA"})
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_HEADER_FAULTS = {
    SegmentFault.REPEATED_MEMBER: "duplicate header member",
    SegmentFault.NOT_JSON: "unreadable header",
    SegmentFault.NOT_AN_OBJECT: "header is not an object",
}


def _reject(reason: str) -> NoReturn:
    raise InvalidIdToken(reason)


def read_header(token: object) -> dict[str, Any]:
    """The vetted-for-shape JOSE header of a compact JWS."""
    if not isinstance(token, str) or not token.isascii() or len(token) > MAX_TOKEN_BYTES:
        _reject("not a token of acceptable size")
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(p) for p in parts):
        _reject("not a compact JWS")
    try:
        return json_object_segment(parts[0])
    except MalformedSegment as malformed:
        _reject(_HEADER_FAULTS[malformed.fault])


def pick_key(
    header: dict[str, Any], keys: Sequence[ClientKey], allowed: Collection[str]
) -> ClientKey:
    """The provider key that must have signed: by kid (or the only key for the algorithm)."""
    if FORBIDDEN_HEADER & header.keys():
        _reject("forbidden header member")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC or alg not in allowed:
        _reject("algorithm not allowed")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= 128):
        _reject("invalid kid")
    candidates = [k for k in keys if (kid is None or k.kid == kid)]
    if not candidates:
        raise UnknownKey("unknown kid")
    if kid is None and len(candidates) != 1:
        _reject("no kid and several keys")
    key = candidates[0]
    if key.alg != alg:
        _reject("algorithm does not match the key")
    return key


def _number(claims: dict[str, Any], name: str, default: float | None = None) -> float:
    value = claims.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _reject(f"{name} must be a numeric date")
    return float(value)


def check_claims(
    claims: dict[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: float,
    leeway: float,
) -> None:
    """OIDC Core 3.1.3.7 items 2-4, 9-11, on an already signature-checked payload."""
    if claims.get("iss") != issuer:
        _reject("issuer mismatch")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        _reject("invalid aud")
    if client_id not in audiences:
        _reject("audience mismatch")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        _reject("azp mismatch")
    exp = _number(claims, "exp")
    iat = _number(claims, "iat")
    nbf = _number(claims, "nbf", default=now)
    if now >= exp + leeway:
        _reject("expired")
    if iat > now + leeway or nbf > now + leeway:
        _reject("not yet valid")
    if now - iat > MAX_AGE:
        _reject("issued too long ago")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255:
        _reject("invalid sub")
    given = claims.get("nonce")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), nonce.encode()):
        _reject("nonce mismatch")


def verify_id_token(
    token: object,
    keys: Sequence[ClientKey],
    *,
    algorithms: Collection[str],
    issuer: str,
    client_id: str,
    nonce: str,
    now: float,
    leeway: float = 60.0,
) -> dict[str, Any]:
    """The claims of a valid ID token; InvalidIdToken (UnknownKey for an unknown kid)."""
    header = read_header(token)
    key = pick_key(header, keys, algorithms)
    assert isinstance(token, str)
    try:
        claims = pyjwt.decode(
            token,
            key.jwk.key,
            algorithms=[key.alg],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except pyjwt.InvalidSignatureError:
        _reject("invalid signature")
    except pyjwt.PyJWTError:
        _reject("malformed token")
    if not isinstance(claims, dict):
        _reject("payload is not an object")
    check_claims(claims, issuer=issuer, client_id=client_id, nonce=nonce, now=now, leeway=leeway)
    return claims
