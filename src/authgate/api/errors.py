"""The one table that turns domain errors into REST answers."""

from __future__ import annotations

from starlette.responses import JSONResponse

from authgate import errors

STATUS: dict[type[errors.DomainError], int] = {
    errors.InvalidRequest: 400,
    errors.InvalidAttribute: 400,
    errors.InvalidPassword: 400,
    errors.InvalidCode: 400,
    errors.InvalidCredentials: 401,
    errors.InvalidToken: 401,
    errors.Unauthorized: 401,
    errors.InvalidClient: 401,
    errors.UserNotConfirmed: 403,
    errors.UserDisabled: 403,
    errors.PasswordChangeRequired: 403,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.TooManyRequests: 429,
}
_EXPOSED_DETAILS = ("rules", "attribute", "field")


def error_response(exc: errors.DomainError) -> JSONResponse:
    body: dict[str, object] = {"error": exc.code, "message": exc.message}
    body.update({k: exc.details[k] for k in _EXPOSED_DETAILS if k in exc.details})
    headers = {"Cache-Control": "no-store"}
    if isinstance(exc, errors.TooManyRequests):
        headers["Retry-After"] = str(exc.details.get("retry_after", 60))
    if isinstance(exc, errors.InvalidToken | errors.Unauthorized):
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{exc.message}"'
        )
    return JSONResponse(body, status_code=STATUS[type(exc)], headers=headers)


def plain_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": code, "message": message},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
