"""The `aws_authorizer:` section: how `POST /_authgate/aws/authorizer` decides for API Gateway.

Validated when the configuration loads, like a gate route's options (it reuses their
`require` and `policy` models), so a typo fails start-up, never a request. Changing it
needs a restart: a gateway reload does not re-read it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from authgate.gateway.route_options import Model, PolicySettings, RequireSettings

TokenAuthenticator = Literal["jwt", "introspection"]
_BOTH: tuple[TokenAuthenticator, ...] = ("jwt", "introspection")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")


class AwsAuthorizerSettings(Model):
    """What a bearer token must hold for API Gateway to let its request through."""

    authenticate: list[TokenAuthenticator] = Field(
        default_factory=lambda: list(_BOTH),
        min_length=1,
        description="How the token is checked, in order: jwt (in process, our JWKS only),"
        " introspection (opaque tokens too); revocation is honoured by both.",
    )
    audience: str | None = Field(default=None, description="`aud` the token must carry.")
    token_source: str = Field(
        default="Authorization",
        description="The header holding the token in REQUEST events (payload 1.0 and 2.0);"
        " TOKEN events carry it in authorizationToken. `Bearer ` is stripped.",
    )
    require: RequireSettings | None = Field(
        default=None, description="Scopes, groups, claims, mfa: as a gate route's require."
    )
    policy: PolicySettings | None = Field(
        default=None,
        description="Ask the policies; {method} and {path} come from the method/route ARN.",
    )
    resource: Literal["method", "wildcard"] = Field(
        default="method",
        description="The IAM policy's Resource: the event's ARN, or apiId/stage/*/* so that"
        " API Gateway may cache one answer per token for the whole stage.",
    )
    http_api_response: Literal["simple", "iam"] = Field(
        default="simple",
        description="Payload 2.0 answers: {isAuthorized, context} or an IAM policy.",
    )

    @field_validator("authenticate")
    @classmethod
    def _once_each(cls, value: list[TokenAuthenticator]) -> list[TokenAuthenticator]:
        if len(set(value)) != len(value):
            raise ValueError("an authenticator is listed twice")
        return value

    @field_validator("token_source")
    @classmethod
    def _header(cls, value: str) -> str:
        if not _HEADER_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a header name")
        return value

    @model_validator(mode="after")
    def _decides_something(self) -> AwsAuthorizerSettings:
        if self.require is None and self.policy is None:
            raise ValueError("give require, policy or both: a valid token alone allows nothing")
        if self.resource == "wildcard" and self.policy is not None:
            raise ValueError(
                "resource: wildcard lets API Gateway reuse one answer for every method and"
                " path of the stage, but policy decides per method and path; use"
                " resource: method with policy"
            )
        return self
