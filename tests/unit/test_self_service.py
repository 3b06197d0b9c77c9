"""What the pool's self-service flows share (identity/self_service.py): the password a user
chose is a string that keeps the policy, and a mail greets by username only once the
address is verified."""

from __future__ import annotations

import pytest

from authgate.errors import InvalidPassword, InvalidRequest
from authgate.identity.passwords import PasswordPolicy
from authgate.identity.self_service import chosen_password, greeting
from authgate.store.records import UserRecord

POLICY = PasswordPolicy(min_length=8, block_common=False)


def user(*, email: str | None, verified: bool) -> UserRecord:
    return UserRecord(
        sub="s1", username="mallory", email=email, password_hash=None, email_verified=verified
    )


def test_a_password_that_keeps_the_policy_is_taken() -> None:
    assert chosen_password(POLICY, "long enough") == "long enough"


@pytest.mark.parametrize("value", [None, 12345678, b"long enough"])
def test_a_password_that_is_not_a_string_is_a_malformed_request_naming_the_field(
    value: object,
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        chosen_password(POLICY, value, "new_password")
    assert refused.value.details == {"field": "new_password"}


def test_a_password_that_breaks_the_policy_is_refused_naming_the_rule() -> None:
    with pytest.raises(InvalidPassword) as refused:
        chosen_password(POLICY, "short")
    assert refused.value.details["rules"] == ["min_length"]


def test_a_mail_to_a_verified_address_greets_by_username() -> None:
    assert greeting(user(email="m@example.com", verified=True)) == "mallory"


def test_a_mail_to_an_unverified_address_greets_by_the_address_not_a_typed_username() -> None:
    assert greeting(user(email="m@example.com", verified=False)) == "m@example.com"


def test_an_account_without_an_address_is_greeted_by_nothing() -> None:
    assert greeting(user(email=None, verified=True)) == ""
