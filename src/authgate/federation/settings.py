"""`identity_providers:`: the external OpenID Connect providers a user may sign in with.

One typed model per provider, validated when the configuration loads: names are unique and
URL-safe (they appear in `{issuer}/oauth2/callback/{name}`), the issuer is an http(s) URL
(plain http only for a loopback host), `openid` is among the scopes, and the claims map
names only attributes the pool has. The client secret is a `SecretRef` (env:/file:).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from authgate.secret_refs import SecretRef
from authgate.units import Duration

NAME = r"[a-z0-9][a-z0-9_-]{0,39}"
OWN_ATTRIBUTE = re.compile(r"email|groups|[a-z_]{1,64}|custom:[A-Za-z0-9_.-]{1,64}")
DEFAULT_CLAIMS = {"email": "email", "name": "name"}


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_url(value: str) -> str:
    """An absolute https URL, or http to a loopback host (development, tests)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ValueError("must be an absolute http(s) URL without a fragment")
    if "@" in parts.netloc:
        raise ValueError("must not carry user info")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("must be https (http only for a loopback host)")
    return value


class IdentityProvider(BaseModel):
    """One upstream OpenID Provider and how its users map onto this pool."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=f"^{NAME}$", description="URL-safe; in the callback path.")
    display_name: str = Field(default="", max_length=64, description="The button's label.")
    issuer: str = Field(description="Discovery at {issuer}/.well-known/openid-configuration.")
    client_id: str = Field(min_length=1, max_length=256)
    client_secret: SecretRef | None = Field(
        default=None, description="None: a public client (PKCE only)."
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    claims: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CLAIMS),
        description="Their claim -> our attribute (`email`, `groups`, a standard attribute "
        "or custom:*). Provider groups are copied only when `groups` is mapped.",
    )
    link_by_verified_email: bool = Field(
        default=False,
        description="Link to an existing user with the same email, only when the provider "
        "says email_verified and our user's email is verified.",
    )
    allow_signup: bool = True
    timeout: Duration = Field(default=5.0, le=30.0, description="Each call to the provider.")

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        check_url(value)
        if urlsplit(value).query:
            raise ValueError("must not carry a query")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("must include openid")
        if not all(re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}", s) for s in value):
            raise ValueError("each scope must be a scope-token (RFC 6749 3.3)")
        return list(dict.fromkeys(value))

    @field_validator("claims")
    @classmethod
    def _claims(cls, value: dict[str, str]) -> dict[str, str]:
        for theirs, ours in value.items():
            if not theirs or len(theirs) > 128:
                raise ValueError("each provider claim name must be 1 to 128 characters")
            if not OWN_ATTRIBUTE.fullmatch(ours) or ours in ("sub", "email_verified"):
                raise ValueError(f"{ours!r} is not an attribute a provider may set")
        if list(value.values()).count("email") > 1:
            raise ValueError("only one claim may map to email")
        return value

    @property
    def label(self) -> str:
        return self.display_name or self.name


def _unique_names(providers: list[IdentityProvider]) -> list[IdentityProvider]:
    names = [p.name for p in providers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"provider names must be unique: {', '.join(duplicates)}")
    return providers


IdentityProviders = Annotated[list[IdentityProvider], AfterValidator(_unique_names)]
"""The root key `identity_providers` (empty: no external sign-in)."""
