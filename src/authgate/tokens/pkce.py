"""Proof Key for Code Exchange (RFC 7636), S256 only: `plain` would protect nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from authgate.clients.registry import Client

METHOD = "S256"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# BASE64URL(SHA-256(...)) without padding is always exactly 43 characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def is_valid_verifier(verifier: object) -> bool:
    """RFC 7636 4.1: 43 to 128 characters of the unreserved set."""
    return isinstance(verifier, str) and _VERIFIER.fullmatch(verifier) is not None


def is_valid_challenge(challenge: object) -> bool:
    """An S256 challenge is the unpadded base64url of a SHA-256 digest."""
    return isinstance(challenge, str) and _CHALLENGE.fullmatch(challenge) is not None


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifies(verifier: object, challenge: str) -> bool:
    """Whether `verifier` is well formed and hashes to `challenge` (constant-time compare)."""
    if not is_valid_verifier(verifier):
        return False
    assert isinstance(verifier, str)
    return hmac.compare_digest(challenge_of(verifier).encode(), challenge.encode())


def required_for(client: Client, default: bool) -> bool:
    """Whether a code for `client` needs PKCE: always for a public client; for a
    confidential one, its own `require_pkce` when set, else `oauth.require_pkce`."""
    if not client.metadata.confidential:
        return True
    setting = client.metadata.require_pkce
    return default if setting is None else setting
