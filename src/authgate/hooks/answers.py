"""Reading what a hook answered: shared checks of both formats' parsers.

Unknown members are ignored (a hook may answer more than authgate reads); a member that
is present but of the wrong shape makes the whole answer malformed (`BadAnswer`), which
the caller treats as the hook failing (its `on_error`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authgate.identity.lifecycle import SignupDecision

MAX_MESSAGE = 256
"""Characters of a refusal message shown to the person signing up."""
MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_ITEMS = 100
MAX_NAME = 128
CODE_PARAMETER = "{####}"
"""Stands for the code (or temporary password) in a custom_message request and answer."""
USERNAME_PARAMETER = "{username}"


class BadAnswer(ValueError):
    """The answer is not what the hook's contract allows."""


@dataclass(frozen=True)
class Refusal:
    """The pre_signup hook refused; `message` is safe to show (bounded, one line)."""

    message: str


SignupOutcome = SignupDecision | Refusal


def one_line(value: object, limit: int, what: str) -> str:
    """A string without control characters (line breaks become spaces), cut to `limit`."""
    if not isinstance(value, str):
        raise BadAnswer(f"{what} must be a string")
    text = "".join(
        " " if unicodedata.category(c).startswith(("C", "Z")) and c != " " else c for c in value
    )
    return " ".join(text.split())[:limit]


def flag(answer: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = answer.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadAnswer(f"{key} must be true or false")
    return value


def names(answer: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """A list of short strings (claim or group names); absent or null reads as empty."""
    value = answer.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise BadAnswer(f"{key} must be a list of at most {MAX_ITEMS} names")
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_NAME for v in value):
        raise BadAnswer(f"{key} must hold names of 1 to {MAX_NAME} characters")
    return tuple(value)


def mapping(answer: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A JSON object with string keys; absent or null reads as empty."""
    value = answer.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ITEMS:
        raise BadAnswer(f"{key} must be an object of at most {MAX_ITEMS} members")
    if not all(0 < len(k) <= MAX_NAME for k in value):
        raise BadAnswer(f"{key} has a member name of the wrong length")
    return dict(value)


def section(answer: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object (Cognito's `response`); absent or null reads as empty."""
    value = answer.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadAnswer(f"{key} must be an object")
    return value


def worded(
    subject: object, body: object, code: str | None, default_subject: str
) -> tuple[str, str]:
    """A custom message's subject (absent: `default_subject`) and body, the code put in
    for its placeholder; an answer that drops the placeholder while a code is due is
    malformed (the mail would be useless)."""
    if subject is None:
        subject = default_subject
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
        raise BadAnswer(f"the message body must be a non-empty string of at most {MAX_BODY}")
    title = one_line(subject, MAX_SUBJECT, "subject")
    if not title:
        raise BadAnswer("the subject must not be empty")
    if code is not None:
        if CODE_PARAMETER not in body:
            raise BadAnswer(f"the message body must contain {CODE_PARAMETER}")
        body = body.replace(CODE_PARAMETER, code)
    return title, body
