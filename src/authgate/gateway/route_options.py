"""The options of a route's handlers (authorize, identity, CORS, rate limit), validated when
the configuration loads: a typo or an impossible combination is a load error naming the
route and key, never a surprise in production."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from authgate.gateway.cors_values import WILDCARD, is_header_name, normalize_origin
from authgate.gateway.templates import Template, TemplateError, parse_template
from authgate.units import Rate

METHOD = re.compile(r"[A-Z][A-Z-]{0,31}")


class Model(BaseModel):
    """Every gateway setting: unknown keys are errors, values never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RequireSettings(Model):
    """What a principal must hold; every condition given must hold."""

    scopes_any: list[str] = Field(default_factory=list)
    scopes_all: list[str] = Field(default_factory=list)
    groups_any: list[str] = Field(default_factory=list)
    claims: dict[str, bool | int | float | str] = Field(
        default_factory=dict, description="Claim equality, e.g. {admin: true}."
    )
    mfa: bool = Field(
        default=False,
        description="The sign-in used a second factor or a passkey: the principal's amr "
        "claim names any of otp, mfa, hwk, swk.",
    )

    @model_validator(mode="after")
    def _something(self) -> RequireSettings:
        if not (self.scopes_any or self.scopes_all or self.groups_any or self.claims or self.mfa):
            raise ValueError(
                "require needs at least one of scopes_any, scopes_all, groups_any, claims, mfa"
            )
        return self


class PolicySettings(Model):
    """Ask the policies: the request becomes (action, resource) by these templates.

    Placeholders are listed in `gateway.templates`; an unknown one is a load error.
    """

    action: str = Field(description='e.g. "{method_verb}"')
    resource: str = Field(description='e.g. "resources:orders:{path[1]}"')
    methods: dict[str, str] = Field(
        default_factory=dict, description="{method_verb} per method, e.g. {GET: read}."
    )

    @field_validator("action", "resource")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            parse_template(value)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: dict[str, str]) -> dict[str, str]:
        methods = {method.upper(): verb for method, verb in value.items()}
        for method, verb in methods.items():
            if not METHOD.fullmatch(method):
                raise ValueError(f"{method!r} is not an HTTP method")
            if not verb or len(verb) > 128:
                raise ValueError(f"the verb of {method} must be 1-128 characters")
        if len(methods) != len(value):
            raise ValueError("a method is listed twice")
        return methods

    @cached_property
    def action_template(self) -> Template:
        return parse_template(self.action)

    @cached_property
    def resource_template(self) -> Template:
        return parse_template(self.resource)


AuthorizerKind = Literal["allow", "deny", "require", "policy"]
_KINDS: tuple[AuthorizerKind, ...] = ("allow", "deny", "require", "policy")


class AuthorizeSettings(Model):
    """Exactly one authorizer: `allow`, `deny`, `require: {...}` or `policy: {...}`."""

    allow: Literal[True] | None = None
    deny: Literal[True] | None = None
    require: RequireSettings | None = None
    policy: PolicySettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value in ("allow", "deny"):
            return {value: True}
        if value == "policy":
            raise ValueError("policy needs its templates: policy: {action: ..., resource: ...}")
        if isinstance(value, str):
            raise ValueError(f"unknown authorizer {value!r}; use allow, deny, require or policy")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> AuthorizeSettings:
        given = [name for name in _KINDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of allow, deny, require, policy")
        return self

    @property
    def kind(self) -> AuthorizerKind:
        return next(name for name in _KINDS if getattr(self, name) is not None)


class IdentitySettings(Model):
    headers: bool = Field(default=True, description="Add X-Authgate-Sub, -Username, ... headers.")
    jwt: bool = Field(default=True, description="Add X-Authgate-Identity, a signed 60 s JWT.")


class CorsSettings(Model):
    """Browser origins that may call a route (see `gateway.cors`)."""

    origins: list[str] = Field(
        min_length=1, description="Exact origins, `https://app.example.com`; or only `*`."
    )
    credentials: bool = Field(default=False, description="Let browsers send cookies and auth.")
    expose_headers: list[str] = Field(
        default_factory=list, description="Response headers scripts may read."
    )

    @field_validator("origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        origins = list(dict.fromkeys(normalize_origin(origin) for origin in value))
        if WILDCARD in origins and len(origins) > 1:
            raise ValueError("origin '*' must stand alone")
        return origins

    @field_validator("expose_headers")
    @classmethod
    def _expose_headers(cls, value: list[str]) -> list[str]:
        for name in value:
            if not is_header_name(name):
                raise ValueError(f"{name!r} is not a header name")
        return value

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> CorsSettings:
        if self.credentials and WILDCARD in self.origins:
            raise ValueError(
                "origin '*' with credentials would let every site act as the user; list the origins"
            )
        return self


class RateLimitSettings(Model):
    """Requests per caller on a route, counted in each process (see `gateway.ratelimit`)."""

    key: Literal["subject", "client", "ip"] = "subject"
    rate: Rate
