"""What each scope means, in words a person can judge on the consent page."""

from __future__ import annotations

from collections.abc import Iterable

from authgate.config import OAuthSettings
from authgate.ui.i18n import Translate

BUILTIN_SCOPES = ("openid", "profile", "email", "phone", "offline_access")
"""Described by the catalogue's `consent.scope.<name>`; the operator's scopes by config."""


def describe(scopes: Iterable[str], oauth: OAuthSettings, t: Translate) -> list[tuple[str, str]]:
    """(scope, description) pairs, in the order asked."""

    def text(scope: str) -> str:
        if scope in BUILTIN_SCOPES:
            return t(f"consent.scope.{scope}")
        return oauth.scopes.get(scope, scope)

    return [(scope, text(scope)) for scope in scopes]
