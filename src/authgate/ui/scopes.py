"""What each scope means, in words a person can judge on the consent page."""

from __future__ import annotations

from collections.abc import Iterable

from authgate.config import OAuthSettings

BUILTIN_DESCRIPTIONS = {
    "openid": "Confirm who you are with your account",
    "profile": "See your profile: name, username and other details",
    "email": "See your email address",
    "phone": "See your phone number",
    "offline_access": "Keep access while you are not using it",
}


def describe(scopes: Iterable[str], oauth: OAuthSettings) -> list[tuple[str, str]]:
    """(scope, description) pairs, in the order asked."""
    texts = {**BUILTIN_DESCRIPTIONS, **oauth.scopes}
    return [(scope, texts.get(scope, scope)) for scope in scopes]
