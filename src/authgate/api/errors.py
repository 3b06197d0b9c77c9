"""The one table that turns domain errors into REST answers."""

from __future__ import annotations

from starlette.responses import JSONResponse

from authgate import errors
from authgate.policy.errors import PolicyExists, PolicyInvalid, PolicyNotFound
from authgate.tokens.errors import InsufficientScope

MAX_BODY_BYTES = 64 * 1024


class BodyTooLarge(errors.InvalidRequest):
    """A request body over the API's bound: refused before it is parsed."""

    code = "body_too_large"
    message = f"The request body exceeds {MAX_BODY_BYTES} bytes."


STATUS: dict[type[errors.DomainError], int] = {
    BodyTooLarge: 413,
    errors.InvalidRequest: 400,
    errors.InvalidAttribute: 400,
    errors.InvalidPassword: 400,
    errors.InvalidCode: 400,
    errors.InvalidCredentials: 401,
    errors.InvalidToken: 401,
    errors.Unauthorized: 401,
    errors.InvalidClient: 401,
    errors.UserNotConfirmed: 403,
    InsufficientScope: 403,
    errors.UserDisabled: 403,
    errors.PasswordChangeRequired: 403,
    errors.PasswordResetRequired: 403,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    PolicyInvalid: 400,
    PolicyNotFound: 404,
    PolicyExists: 409,
    errors.TooManyRequests: 429,
    errors.InvalidUsername: 400,
    errors.InvalidRedirectUri: 400,
    errors.PasskeyRejected: 400,
    errors.PasskeyCloned: 403,
    errors.MfaDisabled: 403,
    errors.MfaRequired: 409,
    errors.MfaNotEnabled: 409,
    errors.NoPendingEnrolment: 409,
    errors.InvalidMfaSession: 401,
    errors.SrpVerifierMissing: 401,
    errors.InvalidSession: 401,
    errors.StorageUnavailable: 503,
    errors.SignupRefused: 400,
    errors.HookFailed: 503,
}
_EXPOSED_DETAILS = ("rules", "attribute", "field", "problems")


def error_response(exc: errors.DomainError) -> JSONResponse:
    body: dict[str, object] = {"error": exc.code, "message": exc.message}
    body.update({k: exc.details[k] for k in _EXPOSED_DETAILS if k in exc.details})
    headers = {"Cache-Control": "no-store"}
    if isinstance(exc, errors.TooManyRequests):
        headers["Retry-After"] = str(exc.details.get("retry_after", 60))
    elif isinstance(exc, errors.StorageUnavailable):
        headers["Retry-After"] = retry_after_of(exc)
    if isinstance(exc, errors.InvalidToken):
        headers["WWW-Authenticate"] = 'Bearer realm="authgate", error="invalid_token"'
    elif isinstance(exc, errors.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="authgate"'
    elif isinstance(exc, InsufficientScope):
        headers["WWW-Authenticate"] = 'Bearer realm="authgate", error="insufficient_scope"'
    return JSONResponse(body, status_code=status_of(exc), headers=headers)


def status_of(exc: errors.DomainError) -> int:
    """The status of the nearest class in the table (adapters may subclass domain errors)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def retry_after_of(exc: errors.StorageUnavailable) -> str:
    """The Retry-After of a refusal while the database is away (seconds, default 1)."""
    return str(exc.retry_after)


def plain_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": message},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
