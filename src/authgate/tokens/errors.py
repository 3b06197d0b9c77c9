"""The token service's own refusals: the RFC 6749 §5.2 and RFC 6750 §3.1 cases that the
pool's errors lack.

They are domain errors like those in `authgate.errors` (a code and a sentence, no status);
the OAuth adapter maps every one of them in its one table.
"""

from __future__ import annotations

from authgate.errors import DomainError


class InvalidGrant(DomainError):
    """The code or refresh token is invalid, expired, revoked, spent or another client's."""

    code = "invalid_grant"
    message = "The grant is invalid, expired, revoked or was issued to another client."


class UnauthorizedClient(DomainError):
    """The client is genuine but not registered for this grant type."""

    code = "unauthorized_client"
    message = "The client is not allowed to use this grant type."


class UnsupportedGrantType(DomainError):
    code = "unsupported_grant_type"
    message = "The grant type is not supported."


class InvalidScope(DomainError):
    """A requested scope is unknown, not the client's, or wider than the original grant."""

    code = "invalid_scope"
    message = "The requested scope is invalid, unknown or exceeds what was granted."


class InsufficientScope(DomainError):
    """A valid access token without the scope the resource needs (RFC 6750 3.1)."""

    code = "insufficient_scope"
    message = "The access token does not carry the scope this resource requires."


ALL_GRANT_ERRORS: tuple[type[DomainError], ...] = (
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InsufficientScope,
)
