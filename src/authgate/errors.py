"""Typed domain errors.

Domain code raises these; each adapter maps them to its wire format in one table
(`api/errors.py` for the REST API). They carry a stable machine-readable `code` and a
human sentence, never an HTTP status.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain reports to a caller."""

    code = "error"
    message = "The request failed."

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details


class InvalidRequest(DomainError):
    code = "invalid_request"
    message = "The request is malformed."


class InvalidUsername(InvalidRequest):
    """The username breaks the username rules (characters, someone else's email, mixed scripts)."""

    code = "invalid_username"
    message = "The username is not allowed."


class InvalidAttribute(DomainError):
    code = "invalid_attribute"
    message = "An attribute is undeclared or invalid."


class InvalidPassword(DomainError):
    """The password breaks the password policy; `details["rules"]` lists the broken rules."""

    code = "invalid_password"
    message = "The password does not meet the password policy."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    message = "The username or password is incorrect."


class UserNotConfirmed(DomainError):
    code = "user_not_confirmed"
    message = "The account is not confirmed yet."


class UserDisabled(DomainError):
    code = "user_disabled"
    message = "The account is disabled."


class PasswordChangeRequired(DomainError):
    """An invited user must choose a password: repeat the login with `new_password`."""

    code = "new_password_required"
    message = "A new password is required; repeat the login with new_password."


class InvalidCode(DomainError):
    code = "invalid_code"
    message = "The code is invalid or has expired."


class InvalidClient(DomainError):
    code = "invalid_client"
    message = "The client is unknown or its credentials are wrong."


class InvalidToken(DomainError):
    code = "invalid_token"
    message = "The token is invalid, expired or revoked."


class TooManyRequests(DomainError):
    """Throttled; `details["retry_after"]` is whole seconds to wait."""

    code = "too_many_requests"
    message = "Too many attempts; try again later."


class NotFound(DomainError):
    code = "not_found"
    message = "The resource does not exist."


class AlreadyExists(DomainError):
    code = "already_exists"
    message = "The resource already exists."


class Unauthorized(DomainError):
    code = "unauthorized"
    message = "Authentication is required."


class InvalidRedirectUri(InvalidRequest):
    """A redirect URI a client may not register (RFC 7591 3.2.2 names this error)."""

    code = "invalid_redirect_uri"
    message = "A redirect URI is not allowed."


class PasskeyRejected(DomainError):
    """A passkey ceremony failed: wrong origin or RP, spent or expired challenge, no user
    verification, bad signature, unknown credential."""

    code = "invalid_passkey"
    message = "The passkey could not be verified."


class PasskeyCloned(DomainError):
    """The credential's signature counter did not increase: two authenticators hold it."""

    code = "passkey_cloned"
    message = (
        "This passkey's signature counter went backwards, so it may have been copied; "
        "sign in another way and remove it."
    )


# -- MFA ---------------------------------------------------------------------------------


class MfaDisabled(DomainError):
    """The pool's `user_pool.mfa` is off: no factor can be enrolled or used."""

    code = "mfa_disabled"
    message = "Multi-factor authentication is turned off for this user pool."


class MfaRequired(DomainError):
    """The pool requires a second factor, so the last one cannot be removed."""

    code = "mfa_required"
    message = (
        "This user pool requires a second factor: enrol a new authenticator instead, "
        "or ask an administrator to reset it."
    )


class MfaNotEnabled(DomainError):
    code = "mfa_not_enabled"
    message = "No second factor is enabled for this account."


class NoPendingEnrolment(DomainError):
    code = "no_pending_enrolment"
    message = "No authenticator is being enrolled; start the enrolment first."


class InvalidMfaSession(DomainError):
    """A sign-in challenge session that is unknown, expired, spent, ended by too many
    wrong codes, or used for what it was not issued for."""

    code = "invalid_session"
    message = "The sign-in session is invalid or has expired; sign in again."


ALL_DOMAIN_ERRORS: tuple[type[DomainError], ...] = (
    InvalidRequest,
    InvalidAttribute,
    InvalidPassword,
    InvalidCredentials,
    UserNotConfirmed,
    UserDisabled,
    PasswordChangeRequired,
    InvalidCode,
    InvalidClient,
    InvalidToken,
    TooManyRequests,
    NotFound,
    AlreadyExists,
    Unauthorized,
    InvalidUsername,
    InvalidRedirectUri,
    PasskeyRejected,
    PasskeyCloned,
    MfaDisabled,
    MfaRequired,
    MfaNotEnabled,
    NoPendingEnrolment,
    InvalidMfaSession,
)


# -- administrator-required password reset ----------------------------------------------


class PasswordResetRequired(DomainError):
    """An administrator required a reset: only a reset code (forgot password) signs in again."""

    code = "password_reset_required"
    message = "The password must be reset; ask for a reset code."


ALL_DOMAIN_ERRORS += (PasswordResetRequired,)


# -- SRP sign-in and its challenges ----------------------------------------------------------


class SrpVerifierMissing(InvalidCredentials):
    """USER_SRP_AUTH for a user the server has no SRP verifier for (imported with a legacy
    hash, or last given a password before verifiers existed). Said only where the pool
    reveals unknown users anyway; elsewhere the sign-in fails like a wrong password."""

    code = "srp_verifier_missing"
    message = (
        "This user has no SRP verifier yet: sign in once with USER_PASSWORD_AUTH "
        "(or reset the password), then USER_SRP_AUTH works."
    )


class InvalidSession(InvalidCredentials):
    """A challenge `Session` (or SECRET_BLOCK) that is unknown, spent, expired, or was
    issued to another client or for another challenge."""

    code = "invalid_session"
    message = "Invalid session for the user, session is expired."


ALL_DOMAIN_ERRORS += (SrpVerifierMissing, InvalidSession)


# -- the database is away ----------------------------------------------------------------


class StorageUnavailable(DomainError):
    """The database could not be reached, or did not answer within `database.timeout`:
    nothing was written, and the same request may succeed once it is back. `retry_after`
    is whole seconds a client should wait before trying again."""

    code = "storage_unavailable"
    message = "The database is unavailable; try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


ALL_DOMAIN_ERRORS += (StorageUnavailable,)


# -- lifecycle hooks ---------------------------------------------------------------------


class SignupRefused(DomainError):
    """The pre_signup hook refused the sign-up; the message is the hook's own (bounded)."""

    code = "signup_refused"
    message = "The sign-up was refused."


class HookFailed(DomainError):
    """A hook whose `on_error` is deny did not answer usably, so the flow stops (the
    pre_token hook: no tokens are issued)."""

    code = "hook_failed"
    message = "A lifecycle hook did not answer; try again later."


ALL_DOMAIN_ERRORS += (SignupRefused, HookFailed)
