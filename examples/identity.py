"""Verifying X-Authgate-Identity: the only evidence of the caller that the examples believe.

The token must be signed by a key in authgate's JWKS (fetched by kid, never from the token),
with the algorithm that key is published for, typ `authgate-identity+jwt` (so an access or
ID token sent in its place is refused), the configured issuer exactly, this upstream's name as
its only audience, and a live exp. Nothing here knows about HTTP requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKClientConnectionError, PyJWKClientError

IDENTITY_TYP = "authgate-identity+jwt"
ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub"]
LEEWAY = 5.0
"""Seconds of clock skew allowed between authgate and this process."""
JWKS_LIFESPAN = 300.0
"""How long a fetched key set is reused; an unknown kid refetches it (a rotated key)."""


class InvalidIdentity(Exception):
    """The identity token is absent, malformed, forged, expired or meant for someone else."""


class KeysUnavailable(Exception):
    """authgate's JWKS could not be fetched, so nothing can be verified just now."""


@dataclass(frozen=True)
class Identity:
    """Who the gate says is calling, as the verified token states it."""

    sub: str
    username: str | None
    groups: list[str]
    scopes: list[str]
    client: str | None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Identity:
        groups = claims.get("groups", [])
        username = claims.get("username")
        client = claims.get("client_id")
        return cls(
            sub=str(claims["sub"]),
            username=username if isinstance(username, str) else None,
            groups=[g for g in groups if isinstance(g, str)] if isinstance(groups, list) else [],
            scopes=str(claims.get("scope", "")).split(),
            client=client if isinstance(client, str) else None,
        )


class IdentityVerifier:
    """Checks identity tokens for one audience against one issuer's published keys.

    `verify` may fetch the JWKS over the network (blocking); an async caller runs it in a
    thread.
    """

    def __init__(self, issuer: str, audience: str, jwks_url: str | None = None) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.jwks_url = jwks_url or f"{self.issuer}/.well-known/jwks.json"
        self._keys = PyJWKClient(self.jwks_url, lifespan=JWKS_LIFESPAN, timeout=5)

    def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidIdentity("The identity token is malformed.") from None
        if header.get("typ") != IDENTITY_TYP:
            raise InvalidIdentity("The token is not an authgate identity token.")
        try:
            key = self._keys.get_signing_key_from_jwt(token)
        except PyJWKClientConnectionError:
            raise KeysUnavailable(f"Cannot fetch {self.jwks_url}.") from None
        except (PyJWKClientError, jwt.InvalidTokenError):
            raise InvalidIdentity("The identity token names no published key.") from None
        if key.algorithm_name not in ALGORITHMS:
            raise InvalidIdentity("The published key has an unexpected algorithm.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY,
                options={"require": REQUIRED_CLAIMS, "strict_aud": True},
            )
        except jwt.InvalidTokenError as exc:
            raise InvalidIdentity(f"The identity token is not valid here: {exc}.") from None
        return Identity.from_claims(claims)
