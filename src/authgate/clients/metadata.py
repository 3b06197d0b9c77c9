"""What an admin may set on a client (RFC 7591 names), and the rules that hold between fields.

Metadata read back from the database is validated with `STORED`: a redirect URI stored
before the current rules (say `javascript:...`) is dropped from the client rather than
making the client unreadable, so authorization and logout can never send a browser there
(they fail closed: error page, signed-out page). The next update through the admin API
or CLI refuses the client until such URIs are replaced.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from authgate.clients.keysets import parse_key_set
from authgate.clients.redirects import redirect_uri_problem, web_uri_problem
from authgate.errors import InvalidRedirectUri, InvalidRequest

GrantType = Literal["password", "refresh_token", "authorization_code", "client_credentials"]
AuthMethod = Literal["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]
SigningAlg = Literal["RS256", "ES256", "EdDSA"]  # keysets.SIGNING_ALGORITHMS
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
STORED = {"stored": True}
"""Validation context for metadata read from the database (see the module docstring)."""

log = logging.getLogger("authgate.clients")


def _default_grants() -> list[GrantType]:
    return ["password", "refresh_token"]


class ClientMetadata(BaseModel):
    """What an admin may set on a client; the names are RFC 7591's."""

    model_config = ConfigDict(extra="forbid")

    client_name: str = Field(default="", max_length=256)
    grant_types: list[GrantType] = Field(default_factory=_default_grants)
    response_types: list[Literal["code"]] = Field(default_factory=list)
    redirect_uris: list[str] = Field(default_factory=list, max_length=50)
    post_logout_redirect_uris: list[str] = Field(default_factory=list, max_length=50)
    scope: str = Field(default="openid profile email", max_length=2048)
    token_endpoint_auth_method: AuthMethod = "client_secret_basic"
    jwks: dict[str, Any] | None = Field(
        default=None, description="private_key_jwt: the client's public keys (a JWK Set)."
    )
    jwks_uri: str | None = Field(
        default=None, description="private_key_jwt: where the client publishes its JWK Set."
    )
    token_endpoint_auth_signing_alg: SigningAlg | None = None
    audience: list[str] = Field(default_factory=list, max_length=20)
    first_party: bool = False
    access_token_format: Literal["jwt", "opaque"] = "jwt"
    require_pkce: bool | None = Field(
        default=None, description="Overrides oauth.require_pkce for a confidential client."
    )
    access_token_ttl: float | None = Field(default=None, gt=0, le=86400)
    id_token_ttl: float | None = Field(default=None, gt=0, le=86400)
    refresh_token_ttl: float | None = Field(default=None, gt=0, le=365 * 86400)
    refresh_token_rotation: bool = Field(
        default=True,
        description="Spend a refresh token on use and answer its successor (reuse revokes the"
        " sign-in). Off: the token is reused until its sign-in ends and a refresh answers no"
        " new one (Cognito's clients without rotation; docs/clients.md).",
    )

    @field_validator("redirect_uris", "post_logout_redirect_uris")
    @classmethod
    def _allowed_uris(cls, uris: list[str], info: ValidationInfo) -> list[str]:
        allowed = []
        for uri in uris:
            problem = redirect_uri_problem(uri)
            if problem is None:
                allowed.append(uri)
            elif info.context == STORED:
                log.warning(
                    "a stored %s entry is no longer allowed, ignored: %s", info.field_name, problem
                )
            else:
                raise PydanticCustomError(
                    "invalid_redirect_uri",
                    "{uri}: {problem}",
                    {"uri": uri[:256], "problem": problem},
                )
        return allowed

    @field_validator("jwks")
    @classmethod
    def _public_key_set(cls, jwks: dict[str, Any] | None) -> dict[str, Any] | None:
        if jwks is not None:
            parse_key_set(jwks)
        return jwks

    @field_validator("jwks_uri")
    @classmethod
    def _web_uri(cls, uri: str | None) -> str | None:
        problem = None if uri is None else web_uri_problem(uri)
        if problem is not None:
            raise ValueError(problem)
        return uri

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> ClientMetadata:
        stored = info.context == STORED
        if "authorization_code" in self.grant_types and not self.redirect_uris and not stored:
            raise ValueError("redirect_uris: required for the authorization_code grant")
        if "client_credentials" in self.grant_types and not self.confidential:
            raise ValueError("grant_types: a public client cannot use client_credentials")
        if "authorization_code" in self.grant_types and not self.response_types:
            self.response_types = ["code"]  # RFC 7591 2: the default for this grant
        self._coherent_keys()
        return self

    def _coherent_keys(self) -> None:
        keyed = self.token_endpoint_auth_method == "private_key_jwt"
        if keyed and (self.jwks is None) == (self.jwks_uri is None):
            raise ValueError("private_key_jwt: register exactly one of jwks and jwks_uri")
        if not keyed and (self.jwks, self.jwks_uri, self.token_endpoint_auth_signing_alg) != (
            None,
            None,
            None,
        ):
            raise ValueError("jwks, jwks_uri and their alg are only for private_key_jwt clients")
        if keyed and "password" in self.grant_types:
            raise ValueError(
                "grant_types: the password sign-in API cannot authenticate a private_key_jwt"
                " client; name the grant types it uses (client_credentials, authorization_code)"
            )

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    @property
    def confidential(self) -> bool:
        """Whether the client authenticates (with a secret or a signed assertion)."""
        return self.token_endpoint_auth_method != "none"

    @property
    def has_secret(self) -> bool:
        """Whether the client holds a shared secret (issued by us, shown once)."""
        return self.token_endpoint_auth_method in SECRET_METHODS


def parse_metadata(values: dict[str, Any]) -> ClientMetadata:
    """Metadata from an admin; InvalidRequest (InvalidRedirectUri) naming the first problem."""
    try:
        return ClientMetadata.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(body)"
        error = InvalidRedirectUri if first["type"] == "invalid_redirect_uri" else InvalidRequest
        raise error(f"{field}: {first['msg']}", field=field) from None


def stored_metadata(values: dict[str, Any]) -> ClientMetadata:
    """Metadata read back from the database (see the module docstring)."""
    return ClientMetadata.model_validate(values, context=STORED)
