"""The OAuth error table: every domain error has an RFC answer, and the answers are well formed."""

from __future__ import annotations

import json

import pytest

from authgate import errors
from authgate.oauth.errors import TABLE, bearer_error, token_error
from authgate.tokens.errors import (
    ALL_GRANT_ERRORS,
    InsufficientScope,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
)

EVERY_ERROR = (*errors.ALL_DOMAIN_ERRORS, *ALL_GRANT_ERRORS)
# RFC 6749 5.2, RFC 6750 3.1 (insufficient_scope, invalid_token).
KNOWN_CODES = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_token",
    "insufficient_scope",
}


@pytest.mark.parametrize("error", EVERY_ERROR, ids=lambda e: e.__name__)
def test_every_domain_error_has_an_oauth_entry(error: type[errors.DomainError]) -> None:
    entry = TABLE[error]
    # the database or a lifecycle hook, not the request (RFC 6749 4.1.2.1)
    if error in (errors.StorageUnavailable, errors.HookFailed):
        assert (entry.status, entry.error) == (503, "temporarily_unavailable")
        return
    assert entry.error in KNOWN_CODES
    assert 400 <= entry.status < 500


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.InvalidRequest, 400, "invalid_request"),
        (errors.InvalidClient, 401, "invalid_client"),
        (InvalidGrant, 400, "invalid_grant"),
        (UnauthorizedClient, 400, "unauthorized_client"),
        (UnsupportedGrantType, 400, "unsupported_grant_type"),
        (InvalidScope, 400, "invalid_scope"),
    ],
)
def test_rfc6749_codes_and_statuses(
    error: type[errors.DomainError], status: int, code: str
) -> None:
    response = token_error(error())
    assert response.status_code == status
    assert json.loads(response.body)["error"] == code
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_invalid_client_challenges_with_basic() -> None:
    response = token_error(errors.InvalidClient())
    assert response.headers["www-authenticate"] == 'Basic realm="authgate"'


def test_other_token_errors_carry_no_challenge() -> None:
    assert "www-authenticate" not in token_error(InvalidGrant()).headers


def test_error_description_keeps_to_the_allowed_characters() -> None:
    response = token_error(InvalidGrant('bad "quote" \\ and ünïcode'))
    description = json.loads(response.body)["error_description"]
    assert all(c in " !" or "#" <= c <= "[" or "]" <= c <= "~" for c in description)


def test_bearer_error_without_credentials_is_a_bare_challenge() -> None:
    response = bearer_error(errors.Unauthorized())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="authgate"'
    assert response.body == b""


def test_bearer_invalid_token_names_the_error_in_the_challenge() -> None:
    response = bearer_error(errors.InvalidToken("expired"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="authgate", error="invalid_token", error_description="expired"'
    )


def test_bearer_insufficient_scope_is_403() -> None:
    response = bearer_error(InsufficientScope())
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
