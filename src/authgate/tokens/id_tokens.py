"""What an ID token says: the user pool's own (`/v1/login`, Cognito's shape) and the OIDC
one of the OAuth grants. Claims only; `tokens.service` times and signs them.

The two differ on purpose: the pool's ID token carries every standard attribute the user
has (as Cognito's does), while the OIDC one releases only what the granted scopes allow
(OIDC Core 5.4), with azp, nonce and at_hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from authgate.store.records import UserRecord
from authgate.tokens.amr import claims_for
from authgate.tokens.claims import PROFILE_CLAIMS
from authgate.tokens.cognito_claims import id_token_claims
from authgate.tokens.keys import b64url_encode

POOL_ID_CLAIMS = (*PROFILE_CLAIMS, "phone_number", "address")


def half_hash(value: str, alg: str) -> str:
    """OIDC Core 3.1.3.6 at_hash: the left half of the hash the signing alg uses
    (SHA-512 for Ed25519, as the OpenID Foundation's EdDSA note and oidc-provider do)."""
    digest = (hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(value.encode()).digest()
    return b64url_encode(digest[: len(digest) // 2])


def pool_id_claims(user: UserRecord, base: dict[str, Any], amr: Sequence[str]) -> dict[str, Any]:
    """The pool's ID token: `base` (iss, aud, iat, exp, auth_time) and all the user is."""
    claims: dict[str, Any] = {
        **base,
        "sub": user.sub,
        "token_use": "id",
        "username": user.username,
        **claims_for(amr),
    }
    if user.email:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    claims.update({k: v for k, v in user.attributes.items() if k in POOL_ID_CLAIMS})
    claims.update(id_token_claims(user))
    if user.groups:
        claims["groups"] = list(user.groups)
    if amr:
        claims["amr"] = list(amr)
    return claims


def oidc_id_claims(
    user_claims: dict[str, Any],
    base: dict[str, Any],
    *,
    sub: str,
    access_token: str,
    alg: str,
    nonce: str | None,
    amr: Sequence[str],
) -> dict[str, Any]:
    """An OIDC ID token (Core 2 and 3.1.3.6): the claims the scopes release, the client
    as aud and azp, the request's nonce, and at_hash of the access token issued with it."""
    claims: dict[str, Any] = {
        **user_claims,
        **base,
        "sub": sub,
        "azp": base["aud"],
        "at_hash": half_hash(access_token, alg),
        "token_use": "id",
        **claims_for(amr),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return claims
