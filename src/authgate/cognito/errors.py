"""Cognito's error answers, and the one table from authgate's domain errors to them.

botocore reads the error name from the body's `__type` (or the `x-amzn-ErrorType` header)
and raises `client.exceptions.<Name>`; the message is shown to people, so it is Cognito's
own wording where client code is known to match on it ("Incorrect username or password.").
A few domain errors mean something else depending on the operation (a throttle is a code
limit in ForgotPassword and a lockout in InitiateAuth): those live in `BY_OPERATION`, here
too, so the whole mapping is read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from authgate import errors
from authgate.api.errors import BodyTooLarge
from authgate.policy.errors import PolicyExists, PolicyInvalid, PolicyNotFound
from authgate.tokens.errors import InsufficientScope


class CognitoError(Exception):
    """An answer in Cognito's error shape: `name` without the `Exception` suffix is never
    used, so `name` is the full `__type` (e.g. "NotAuthorizedException")."""

    def __init__(
        self, name: str, message: str, status: int = 400, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Entry:
    name: str
    message: str | None = None
    """Cognito's message; None keeps the domain error's own sentence."""
    status: int = 400


NOT_AUTHORIZED = "NotAuthorizedException"
INVALID_PARAMETER = "InvalidParameterException"
WRONG_PASSWORD = "Incorrect username or password."
INVALID_SESSION = "Invalid session for the user, session is expired."

TABLE: dict[type[errors.DomainError], Entry] = {
    BodyTooLarge: Entry("SerializationException"),
    errors.InvalidRequest: Entry(INVALID_PARAMETER),
    errors.InvalidUsername: Entry(INVALID_PARAMETER),
    errors.InvalidRedirectUri: Entry(INVALID_PARAMETER),
    errors.InvalidAttribute: Entry(INVALID_PARAMETER),
    errors.InvalidPassword: Entry("InvalidPasswordException"),
    errors.InvalidCredentials: Entry(NOT_AUTHORIZED, WRONG_PASSWORD),
    errors.UserNotConfirmed: Entry("UserNotConfirmedException", "User is not confirmed."),
    errors.UserDisabled: Entry(NOT_AUTHORIZED, "User is disabled."),
    errors.PasswordChangeRequired: Entry(NOT_AUTHORIZED, "A new password is required."),
    errors.InvalidCode: Entry(
        "CodeMismatchException", "Invalid verification code provided, please try again."
    ),
    errors.InvalidClient: Entry(NOT_AUTHORIZED),
    errors.InvalidToken: Entry(NOT_AUTHORIZED, "Invalid Access Token"),
    errors.TooManyRequests: Entry("TooManyRequestsException", "Too many requests."),
    errors.NotFound: Entry("ResourceNotFoundException"),
    errors.AlreadyExists: Entry("AliasExistsException"),
    errors.Unauthorized: Entry(NOT_AUTHORIZED, "Access Token is required."),
    errors.PasskeyRejected: Entry(NOT_AUTHORIZED),
    errors.PasskeyCloned: Entry(NOT_AUTHORIZED),
    errors.SrpVerifierMissing: Entry(NOT_AUTHORIZED),
    errors.InvalidSession: Entry(NOT_AUTHORIZED, INVALID_SESSION),
    InsufficientScope: Entry(NOT_AUTHORIZED, "Access Token does not have required scopes"),
    errors.MfaDisabled: Entry(INVALID_PARAMETER),
    errors.MfaRequired: Entry(INVALID_PARAMETER),
    errors.MfaNotEnabled: Entry("SoftwareTokenMFANotFoundException"),
    errors.NoPendingEnrolment: Entry("SoftwareTokenMFANotFoundException"),
    errors.InvalidMfaSession: Entry(
        NOT_AUTHORIZED, "Invalid session for the user, session is expired."
    ),
    PolicyInvalid: Entry(INVALID_PARAMETER),
    PolicyNotFound: Entry("ResourceNotFoundException"),
    PolicyExists: Entry("ResourceExistsException"),
    errors.PasswordResetRequired: Entry(
        "PasswordResetRequiredException", "Password reset required for the user"
    ),
    # Cognito's own server-side failure; a 5xx is what botocore's retry modes retry.
    errors.StorageUnavailable: Entry("InternalErrorException", status=503),
    # What Cognito answers when a trigger refuses (PreSignUp) or fails.
    errors.SignupRefused: Entry("UserLambdaValidationException"),
    errors.HookFailed: Entry("UnexpectedLambdaException"),
}
"""Every domain error's Cognito name (checked by tests/unit/test_architecture.py)."""

_CODE_LIMIT = Entry("LimitExceededException", "Attempt limit exceeded, please try after some time.")
_LOCKED_OUT = Entry(NOT_AUTHORIZED, "Password attempts exceeded")
_REFRESH = Entry(NOT_AUTHORIZED, "Invalid Refresh Token")
BY_OPERATION: dict[str, dict[type[errors.DomainError], Entry]] = {
    "SignUp": {
        errors.TooManyRequests: _CODE_LIMIT,
        errors.AlreadyExists: Entry("UsernameExistsException", "User already exists"),
    },
    "ResendConfirmationCode": {errors.TooManyRequests: _CODE_LIMIT},
    "ForgotPassword": {errors.TooManyRequests: _CODE_LIMIT},
    "ConfirmForgotPassword": {errors.TooManyRequests: _CODE_LIMIT},
    "ConfirmSignUp": {errors.TooManyRequests: _CODE_LIMIT},
    "GetUserAttributeVerificationCode": {errors.TooManyRequests: _CODE_LIMIT},
    "UpdateUserAttributes": {errors.TooManyRequests: _CODE_LIMIT},
    "VerifyUserAttribute": {errors.TooManyRequests: _CODE_LIMIT},
    "InitiateAuth": {errors.TooManyRequests: _LOCKED_OUT, errors.InvalidToken: _REFRESH},
    "AdminInitiateAuth": {errors.TooManyRequests: _LOCKED_OUT, errors.InvalidToken: _REFRESH},
    "GetTokensFromRefreshToken": {errors.InvalidToken: _REFRESH},
    "RevokeToken": {errors.InvalidToken: Entry("UnsupportedTokenTypeException")},
    "ChangePassword": {errors.TooManyRequests: _LOCKED_OUT},
    "DeleteUser": {errors.TooManyRequests: _LOCKED_OUT},
    # administrator operations (Admin*, groups)
    "AdminCreateUser": {
        errors.AlreadyExists: Entry("UsernameExistsException", "User account already exists")
    },
    "CreateGroup": {
        errors.AlreadyExists: Entry("GroupExistsException", "A group with the name already exists.")
    },
    "GetGroup": {errors.NotFound: Entry("ResourceNotFoundException", "Group not found.")},
    "UpdateGroup": {errors.NotFound: Entry("ResourceNotFoundException", "Group not found.")},
    "DeleteGroup": {errors.NotFound: Entry("ResourceNotFoundException", "Group not found.")},
    "AdminAddUserToGroup": {
        errors.NotFound: Entry("ResourceNotFoundException", "Group not found.")
    },
    "AdminRemoveUserFromGroup": {
        errors.NotFound: Entry("ResourceNotFoundException", "Group not found.")
    },
    "ListUsersInGroup": {errors.NotFound: Entry("ResourceNotFoundException", "Group not found.")},
    "AdminResetUserPassword": {errors.TooManyRequests: _CODE_LIMIT},
    "RespondToAuthChallenge": {errors.TooManyRequests: _LOCKED_OUT},
    "AdminRespondToAuthChallenge": {errors.TooManyRequests: _LOCKED_OUT},
    "VerifySoftwareToken": {
        errors.InvalidCode: Entry("EnableSoftwareTokenMFAException", "Code mismatch")
    },
}
"""Where an operation gives a domain error another meaning than TABLE's."""


def _entry(exc: errors.DomainError, operation: str) -> Entry:
    special = BY_OPERATION.get(operation, {})
    for cls in type(exc).__mro__:
        if cls in special:
            return special[cls]
        if cls in TABLE:
            return TABLE[cls]
    return Entry(INVALID_PARAMETER)


_CODE_REFUSALS = {
    "expired": Entry("ExpiredCodeException", "Invalid code provided, please request a code again."),
    "missing": Entry("ExpiredCodeException", "Invalid code provided, please request a code again."),
    "locked": Entry("TooManyFailedAttemptsException", "Too many failed attempts."),
    "unknown": Entry("UserNotFoundException", "Username/client id combination not found."),
}
"""Why a code was refused, told only with `prevent_user_existence_errors: false`: an unknown
user has no code to expire or lock, so these answers would tell accounts apart."""


def from_domain(exc: errors.DomainError, operation: str, *, reveal: bool = False) -> CognitoError:
    """The Cognito answer for a domain error raised while serving `operation`; `reveal`
    is `not cognito.prevent_user_existence_errors`."""
    reason = exc.details.get("reason")
    if reveal and isinstance(exc, errors.InvalidCode) and isinstance(reason, str):
        refusal = _CODE_REFUSALS.get(reason)
        if refusal is not None:
            return CognitoError(refusal.name, refusal.message or exc.message)
    entry = _entry(exc, operation)
    message = entry.message or exc.message
    if entry.name == "InvalidPasswordException" and "rules" in exc.details:
        message = f"Password does not conform to policy: {exc.message}"
    retry_after = exc.retry_after if isinstance(exc, errors.StorageUnavailable) else None
    return CognitoError(entry.name, message, entry.status, retry_after)


def not_authorized(message: str) -> CognitoError:
    return CognitoError(NOT_AUTHORIZED, message)


def invalid_parameter(message: str) -> CognitoError:
    return CognitoError(INVALID_PARAMETER, message)
