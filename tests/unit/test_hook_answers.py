"""Reading hook answers, both formats: unknown members ignored, a malformed member is
BadAnswer (never another exception), and a pre_token change never touches a reserved
claim."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.hooks.answers import MAX_MESSAGE, BadAnswer, Refusal
from authgate.hooks.authgate_format import AuthgateFormat
from authgate.hooks.cognito_format import CognitoFormat
from authgate.identity.lifecycle import Migrated, SignupDecision
from authgate.identity.mail import Message
from authgate.tokens.claims_change import RESERVED_CLAIMS, ClaimsChange

FORMATS = [AuthgateFormat(), CognitoFormat("us-east-1", "us-east-1_test")]
DEFAULT = Message("a@example.com", "Your code", "Code:\n123456\n")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
answers = st.dictionaries(st.text(max_size=30), json_values, max_size=6) | st.dictionaries(
    st.sampled_from(
        [
            "allow",
            "message",
            "auto_confirm",
            "claims_add",
            "claims_suppress",
            "groups_add",
            "found",
            "password_ok",
            "attributes",
            "subject",
            "body",
            "response",
        ]
    ),
    json_values,
    max_size=6,
)
CLAIMS = {"iss": "https://a", "sub": "s", "groups": ["g"], "email": "a@example.com"}


@pytest.mark.parametrize("events", FORMATS, ids=lambda f: f.name)
@given(answer=answers)
def test_any_answer_reads_or_is_bad_answer(events: Any, answer: dict[str, Any]) -> None:
    for read in (
        lambda: events.read_pre_signup(answer),
        lambda: events.read_pre_token(answer, CLAIMS),
        lambda: events.read_user_migration(answer, "authentication"),
        lambda: events.read_custom_message(answer, "123456", DEFAULT),
    ):
        with contextlib.suppress(BadAnswer):
            read()


@given(extra=st.dictionaries(st.text(min_size=1).filter(lambda k: k != "allow"), json_values))
def test_unknown_members_are_ignored(extra: dict[str, Any]) -> None:
    answer = {**extra, "allow": True}
    known = {"message", "auto_confirm", "auto_verify_email"}

    assert AuthgateFormat().read_pre_signup({k: v for k, v in answer.items() if k not in known})


@given(message=st.text(max_size=2000))
def test_a_refusal_message_is_one_bounded_line(message: str) -> None:
    outcome = AuthgateFormat().read_pre_signup({"allow": False, "message": message})

    assert isinstance(outcome, Refusal)
    assert len(outcome.message) <= MAX_MESSAGE
    assert "\n" not in outcome.message and "\r" not in outcome.message


def test_pre_signup_answers_read_as_their_contract_says() -> None:
    events = AuthgateFormat()
    assert events.read_pre_signup({"allow": True, "auto_confirm": True}) == SignupDecision(True)
    with pytest.raises(BadAnswer):
        events.read_pre_signup({})
    cognito = CognitoFormat("us-east-1", "p")
    assert cognito.read_pre_signup(
        {"response": {"autoConfirmUser": True, "autoVerifyEmail": True}}
    ) == SignupDecision(True, True)


def test_migration_needs_found_and_the_right_password_for_a_sign_in() -> None:
    events = AuthgateFormat()
    assert events.read_user_migration({"found": True}, "authentication") is None
    assert isinstance(events.read_user_migration({"found": True}, "forgot_password"), Migrated)
    cognito = CognitoFormat("us-east-1", "p")
    with pytest.raises(BadAnswer):
        cognito.read_user_migration({"response": {}}, "authentication")
    migrated = cognito.read_user_migration(
        {"response": {"userAttributes": {"email": "a@b.example"}, "finalUserStatus": "CONFIRMED"}},
        "authentication",
    )
    assert migrated is not None and migrated.status == "confirmed"


def test_a_custom_message_must_keep_the_code_placeholder() -> None:
    events = AuthgateFormat()
    with pytest.raises(BadAnswer):
        events.read_custom_message({"body": "no code"}, "123456", DEFAULT)
    assert events.read_custom_message({"body": "c {####}"}, "123456", DEFAULT) == (
        "Your code",
        "c 123456",
    )
    assert events.read_custom_message({}, "123456", DEFAULT) is None


@given(
    add=st.dictionaries(st.sampled_from(sorted(RESERVED_CLAIMS)) | st.text(), json_values),
    suppress=st.lists(st.sampled_from(sorted(RESERVED_CLAIMS)) | st.text()),
    groups=st.lists(st.text(min_size=1)),
)
def test_a_claims_change_never_touches_a_reserved_claim(
    add: dict[str, Any], suppress: list[str], groups: list[str]
) -> None:
    claims = {name: f"original-{name}" for name in RESERVED_CLAIMS}

    changed = ClaimsChange(add, suppress, groups_add=groups).apply(claims)

    assert {k: changed[k] for k in RESERVED_CLAIMS} == claims


def test_group_changes_follow_both_group_claims() -> None:
    claims = {"groups": ["a", "b"], "cognito:groups": ["a", "b"]}

    changed = ClaimsChange(groups_add=("c",), groups_remove=("a",)).apply(claims)

    assert changed["groups"] == changed["cognito:groups"] == ["b", "c"]


def test_cognito_group_override_replaces_the_groups() -> None:
    change = CognitoFormat("us-east-1", "p").read_pre_token(
        {
            "response": {
                "claimsOverrideDetails": {"groupOverrideDetails": {"groupsToOverride": ["x"]}}
            }
        },
        {"groups": ["a"]},
    )

    assert change.apply({"groups": ["a"], "cognito:groups": ["a"]})["groups"] == ["x"]
