"""Scope parameters (RFC 6749 3.3) and the user claims each scope releases (OIDC Core 5.4)."""

from __future__ import annotations

import pytest

from authgate.errors import InvalidRequest
from authgate.store.records import UserRecord
from authgate.tokens.claims import user_claims
from authgate.tokens.errors import InvalidScope
from authgate.tokens.grants import parse_scope


def test_absent_or_empty_scope_is_none() -> None:
    assert parse_scope(None) is None
    assert parse_scope("") is None


def test_scope_tokens_are_split_on_spaces_and_deduplicated() -> None:
    assert parse_scope("openid email openid orders:read") == ["openid", "email", "orders:read"]


@pytest.mark.parametrize("value", ["a  b", " a", "a ", 'a "b"', "a\\b", "a\tb", "ü"])
def test_malformed_scope_is_invalid_scope(value: str) -> None:
    with pytest.raises(InvalidScope):
        parse_scope(value)


def test_non_string_scope_is_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        parse_scope(["openid"])


USER = UserRecord(
    sub="s-1",
    username="grace",
    email="grace@example.com",
    password_hash=None,
    email_verified=True,
    attributes={
        "given_name": "Grace",
        "phone_number": "+15555550100",
        "custom:tenant": "navy",
        "custom:secret": "x",
    },
    updated_at=1700000000.5,
)


def test_openid_releases_sub_only() -> None:
    assert user_claims(USER, ["openid"], {}) == {"sub": "s-1"}


def test_profile_releases_profile_attributes_and_defaults() -> None:
    claims = user_claims(USER, ["openid", "profile"], {})
    assert claims == {
        "sub": "s-1",
        "given_name": "Grace",
        "preferred_username": "grace",
        "updated_at": 1700000000,
    }


def test_email_and_phone() -> None:
    claims = user_claims(USER, ["email", "phone"], {})
    assert claims["email"] == "grace@example.com"
    assert claims["email_verified"] is True
    assert claims["phone_number"] == "+15555550100"
    assert claims["phone_number_verified"] is False


def test_custom_attributes_only_through_their_scope() -> None:
    mapping = {"tenant": ["custom:tenant"]}
    assert user_claims(USER, ["openid", "tenant"], mapping)["custom:tenant"] == "navy"
    assert "custom:tenant" not in user_claims(USER, ["openid"], mapping)
    assert "custom:secret" not in user_claims(USER, ["openid", "tenant"], mapping)
