"""Why an external sign-in did not go through: one exception with a reason from a closed
set, so the hosted pages map each reason to its message once (ui/federation.py) and the
audit log names it. Never carries a code, a token or anything else the provider sent."""

from __future__ import annotations

from typing import Literal

Reason = Literal[
    "unknown_provider",
    "provider_unavailable",
    "flow_invalid",
    "provider_error",
    "token_invalid",
    "email_taken",
    "signup_closed",
    "signup_refused",
    "user_disabled",
    "identity_taken",
    "last_sign_in_method",
    "not_linked",
]


class FederationRefused(Exception):
    """The external sign-in (or link, or unlink) is refused for `reason`."""

    def __init__(self, reason: Reason, detail: str = "", *, sub: str | None = None) -> None:
        self.reason: Reason = reason
        self.detail = detail
        self.sub = sub
        """The user concerned, when one is (for the audit log)."""
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ProviderUnavailable(FederationRefused):
    """The provider's metadata, keys or token endpoint could not be used."""

    def __init__(self, detail: str) -> None:
        super().__init__("provider_unavailable", detail)


class InvalidIdToken(FederationRefused):
    """The ID token failed a check: `detail` says which (no token content)."""

    def __init__(self, detail: str) -> None:
        super().__init__("token_invalid", detail)


class UnknownKey(InvalidIdToken):
    """No key of the provider's set has the token's kid: the set may be newer (refetch once)."""
