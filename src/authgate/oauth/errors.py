"""The one table that turns domain errors into OAuth error answers.

Token, introspection and revocation endpoints answer RFC 6749 §5.2 bodies
(`{error, error_description}`, `Cache-Control: no-store`, `Pragma: no-cache`);
`invalid_client` is always 401 with a Basic challenge (HTTP requires a challenge with every
401, and Basic is the scheme a client may retry with). Protected resources (userinfo)
answer RFC 6750 §3: the error goes in a `WWW-Authenticate: Bearer` challenge, and a
request without any credentials gets a bare challenge and no error code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authgate import errors
from authgate.api.errors import BodyTooLarge, retry_after_of
from authgate.tokens.errors import (
    InsufficientScope,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REALM = "authgate"
BASIC_CHALLENGE = f'Basic realm="{REALM}"'


@dataclass(frozen=True)
class OAuthError:
    status: int
    error: str


TABLE: dict[type[errors.DomainError], OAuthError] = {
    BodyTooLarge: OAuthError(413, "invalid_request"),
    errors.InvalidRequest: OAuthError(400, "invalid_request"),
    errors.InvalidAttribute: OAuthError(400, "invalid_request"),
    errors.InvalidPassword: OAuthError(400, "invalid_request"),
    errors.InvalidCode: OAuthError(400, "invalid_grant"),
    errors.InvalidCredentials: OAuthError(400, "invalid_grant"),
    errors.UserNotConfirmed: OAuthError(400, "invalid_grant"),
    errors.UserDisabled: OAuthError(400, "invalid_grant"),
    errors.PasswordChangeRequired: OAuthError(400, "invalid_grant"),
    errors.PasswordResetRequired: OAuthError(400, "invalid_grant"),
    errors.InvalidClient: OAuthError(401, "invalid_client"),
    errors.Unauthorized: OAuthError(401, "invalid_token"),
    errors.InvalidToken: OAuthError(401, "invalid_token"),
    errors.NotFound: OAuthError(400, "invalid_request"),
    errors.AlreadyExists: OAuthError(400, "invalid_request"),
    errors.TooManyRequests: OAuthError(429, "invalid_request"),
    errors.InvalidUsername: OAuthError(400, "invalid_request"),
    InvalidGrant: OAuthError(400, "invalid_grant"),
    UnauthorizedClient: OAuthError(400, "unauthorized_client"),
    UnsupportedGrantType: OAuthError(400, "unsupported_grant_type"),
    InvalidScope: OAuthError(400, "invalid_scope"),
    InsufficientScope: OAuthError(403, "insufficient_scope"),
    errors.InvalidRedirectUri: OAuthError(400, "invalid_request"),
    errors.PasskeyRejected: OAuthError(400, "invalid_grant"),
    errors.PasskeyCloned: OAuthError(400, "invalid_grant"),
    errors.MfaDisabled: OAuthError(400, "invalid_request"),
    errors.MfaRequired: OAuthError(400, "invalid_request"),
    errors.MfaNotEnabled: OAuthError(400, "invalid_request"),
    errors.NoPendingEnrolment: OAuthError(400, "invalid_request"),
    errors.InvalidMfaSession: OAuthError(400, "invalid_grant"),
    errors.SrpVerifierMissing: OAuthError(400, "invalid_grant"),
    errors.InvalidSession: OAuthError(400, "invalid_grant"),
    # RFC 6749 4.1.2.1's code for "cannot handle the request now"; OAuth clients know it.
    errors.StorageUnavailable: OAuthError(503, "temporarily_unavailable"),
    errors.SignupRefused: OAuthError(400, "invalid_request"),
    errors.HookFailed: OAuthError(503, "temporarily_unavailable"),
}


def oauth_error_of(exc: errors.DomainError) -> OAuthError:
    """The entry of the nearest class in the table (adapters may subclass domain errors)."""
    for cls in type(exc).__mro__:
        if cls in TABLE:
            return TABLE[cls]
    return OAuthError(400, "invalid_request")


def _quoted(text: str) -> str:
    """An auth-param value: RFC 6750 allows %x20-21 / %x23-5B / %x5D-7E only."""
    return "".join(c for c in text if c in " !" or "#" <= c <= "[" or "]" <= c <= "~")


def token_error(exc: errors.DomainError) -> JSONResponse:
    """An RFC 6749 §5.2 answer for the token, introspection and revocation endpoints."""
    entry = oauth_error_of(exc)
    headers = dict(NO_STORE)
    if entry.status == 401:
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    if isinstance(exc, errors.TooManyRequests):
        headers["Retry-After"] = str(exc.details.get("retry_after", 60))
    elif isinstance(exc, errors.StorageUnavailable):
        headers["Retry-After"] = retry_after_of(exc)
    body = {"error": entry.error, "error_description": _quoted(exc.message)}
    return JSONResponse(body, status_code=entry.status, headers=headers)


def bearer_error(exc: errors.DomainError) -> Response:
    """An RFC 6750 §3 answer for a protected resource."""
    if isinstance(exc, errors.StorageUnavailable):
        return token_error(exc)  # not the token's fault: no challenge
    headers = dict(NO_STORE)
    if type(exc) is errors.Unauthorized:
        # No credentials at all: a bare challenge, no error code (RFC 6750 3.1).
        headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
        return Response(status_code=401, headers=headers)
    entry = oauth_error_of(exc)
    description = _quoted(exc.message)
    headers["WWW-Authenticate"] = (
        f'Bearer realm="{REALM}", error="{entry.error}", error_description="{description}"'
    )
    body = {"error": entry.error, "error_description": description}
    return JSONResponse(body, status_code=entry.status, headers=headers)


Endpoint = Callable[[Request], Awaitable[Response]]


def answers_oauth_errors(
    render: Callable[[errors.DomainError], Response],
) -> Callable[[Endpoint], Endpoint]:
    """Decorate an endpoint so that its domain errors leave in OAuth's wire format."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @wraps(endpoint)
        async def wrapped(request: Request) -> Response:
            try:
                return await endpoint(request)
            except errors.DomainError as exc:
                return render(exc)

        return wrapped

    return decorate


def method_not_allowed(allowed: str) -> Endpoint:
    """Other methods than `allowed` are an invalid request (RFC 6749 3.2: POST only)."""

    async def refuse(request: Request) -> Response:
        body = {
            "error": "invalid_request",
            "error_description": f"Use {allowed}; {request.method} is not supported here.",
        }
        return JSONResponse(body, status_code=405, headers={**NO_STORE, "Allow": allowed})

    return refuse
