"""Reading an `id_token_hint`: one of our own ID tokens, possibly expired.

OIDC (Core 3.1.2.1, RP-Initiated Logout 2) accepts expired ID tokens as hints, so the
token is checked as of a moment when it was still live (now, or just before it expired):
signature by one of our keys, our issuer, the ID-token type. Its expiry is beside the point
of a hint.
"""

from __future__ import annotations

import math
import time
from typing import Any

import jwt as pyjwt

from authgate.bootstrap import Services
from authgate.errors import InvalidToken
from authgate.tokens.jwt import MAX_TOKEN_BYTES, TokenCodec


def _live_moment(token: str) -> float | None:
    """A time at which the token was live, read from its (not yet verified) exp."""
    try:
        claims = pyjwt.decode(token, options={"verify_signature": False})
    except pyjwt.PyJWTError:
        return None
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        return None
    return min(time.time(), float(exp) - 1)


def read_id_token_hint(services: Services, hint: object) -> dict[str, Any] | None:
    """The claims of a genuine ID token of ours, or None."""
    if not isinstance(hint, str) or not hint or len(hint) > MAX_TOKEN_BYTES:
        return None
    moment = _live_moment(hint)
    if moment is None:
        return None
    settings = services.settings
    codec = TokenCodec(
        lambda: services.keys.ring,
        settings.issuer,
        leeway=settings.tokens.leeway,
        clock=lambda: moment,
    )
    try:
        claims = codec.verify(hint, token_use="id", audience=None, typ="JWT")
    except InvalidToken:
        return None
    return claims if isinstance(claims.get("sub"), str) else None


def hint_clients(claims: dict[str, Any]) -> list[str]:
    """The client(s) an ID token was issued to: its audience."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []
