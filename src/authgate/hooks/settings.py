"""The `hooks` section: which lifecycle webhooks are called, where, and what a failure means.

Kept apart from `authgate.config` (which holds one field of this type) so that the section
is read, typed and documented next to the code that uses it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from authgate.secret_refs import SecretRef, is_reference
from authgate.units import Duration

HOOK_NAMES = (
    "pre_signup",
    "post_confirmation",
    "pre_token",
    "user_migration",
    "custom_message",
    "post_authentication",
)
"""Every lifecycle hook, in the order a user meets them."""


class HookEndpoint(BaseModel):
    """One webhook: where it is, the Standard Webhooks secret it is signed with, how long
    authgate waits for it, and whether a failure lets the flow go on (`allow`) or ends it
    (`deny`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretRef = Field(
        description="http(s) URL the event is POSTed to (a reference when it carries credentials)."
    )
    secret: SecretRef = Field(
        description="Standard Webhooks secret: base64, optionally prefixed `whsec_`."
    )
    timeout: Duration = Field(default=2.0, le=30, description="Seconds authgate waits.")
    on_error: Literal["allow", "deny"] = "deny"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not is_reference(value):
            check_url(value)
        return value


def check_url(value: str) -> str:
    """`value` if it is an http(s) URL, else ValueError."""
    if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
        raise ValueError("url must be an http(s) URL")
    return value


class HooksSettings(BaseModel):
    """Lifecycle webhooks (docs/hooks.md). Each is optional; `format` picks the bodies:
    authgate's own or Cognito's trigger events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pre_signup: HookEndpoint | None = None
    post_confirmation: HookEndpoint | None = None
    pre_token: HookEndpoint | None = None
    user_migration: HookEndpoint | None = None
    custom_message: HookEndpoint | None = None
    post_authentication: HookEndpoint | None = None
    format: Literal["authgate", "cognito"] = "authgate"
    retries: int = Field(
        default=3, ge=0, le=10, description="Extra attempts of a post_* hook that failed."
    )
    retry_backoff: Duration = Field(
        default=0.5, le=60, description="Seconds before the first retry; doubled after each."
    )
    max_response_bytes: int = Field(default=65536, ge=256, le=1048576)

    def endpoint(self, name: str) -> HookEndpoint | None:
        found: HookEndpoint | None = getattr(self, name)
        return found
