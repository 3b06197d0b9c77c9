"""Every domain error has a Cognito name, and the mapping gives the names clients catch."""

from __future__ import annotations

import pytest

from authgate import errors
from authgate.cognito.errors import TABLE, from_domain
from authgate.policy.errors import ALL_POLICY_ERRORS


@pytest.mark.parametrize(
    "error", (*errors.ALL_DOMAIN_ERRORS, *ALL_POLICY_ERRORS), ids=lambda e: e.__name__
)
def test_every_domain_error_has_a_cognito_name(error: type[errors.DomainError]) -> None:
    assert TABLE[error].name.endswith("Exception")


def test_a_wrong_password_reads_as_cognito_words_it() -> None:
    answer = from_domain(errors.InvalidCredentials(), "InitiateAuth")

    assert (answer.name, answer.message) == (
        "NotAuthorizedException",
        "Incorrect username or password.",
    )


def test_a_throttle_is_a_lockout_at_sign_in_and_a_limit_for_codes() -> None:
    assert from_domain(errors.TooManyRequests(), "InitiateAuth").message == (
        "Password attempts exceeded"
    )
    assert from_domain(errors.TooManyRequests(), "ForgotPassword").name == (
        "LimitExceededException"
    )


@pytest.mark.parametrize("reason", ["expired", "missing", "locked", "unknown", "wrong"])
def test_a_refused_code_tells_nothing_while_existence_errors_are_prevented(reason: str) -> None:
    answer = from_domain(errors.InvalidCode(reason=reason), "ConfirmSignUp", reveal=False)

    assert answer.name == "CodeMismatchException"


def test_an_expired_code_is_told_when_existence_errors_are_not_prevented() -> None:
    answer = from_domain(errors.InvalidCode(reason="expired"), "ConfirmSignUp", reveal=True)

    assert answer.name == "ExpiredCodeException"


def test_an_unreachable_database_is_a_retryable_internal_error() -> None:
    answer = from_domain(errors.StorageUnavailable(retry_after=3), "SignUp")

    assert (answer.name, answer.status, answer.retry_after) == ("InternalErrorException", 503, 3)
