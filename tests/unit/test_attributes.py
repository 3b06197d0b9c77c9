"""Attribute values the pool stores: only what can be written back out as I-JSON.

These values can reach the domain from any adapter (JSON API, hosted-page forms, an
import), so the domain refuses them itself, not only the JSON parser.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.config import AttributeDeclaration
from authgate.errors import InvalidAttribute
from authgate.identity.attributes import MAX_EXACT_INTEGER, AttributeSchema

SCHEMA = AttributeSchema(
    {
        "score": AttributeDeclaration(type="number"),
        "team": AttributeDeclaration(type="string", max_length=100),
    }
)


def stored(name: str, value: object) -> object:
    return SCHEMA.validate({name: value}, creating=True)[name]


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_a_number_attribute_that_is_not_finite_is_refused(number: float) -> None:
    with pytest.raises(InvalidAttribute) as refused:
        stored("custom:score", number)
    assert refused.value.details["attribute"] == "custom:score"


@pytest.mark.parametrize("number", [MAX_EXACT_INTEGER + 1, -(MAX_EXACT_INTEGER + 1), 10**400])
def test_an_integer_past_what_json_readers_hold_exactly_is_refused(number: int) -> None:
    with pytest.raises(InvalidAttribute):
        stored("custom:score", number)


@pytest.mark.parametrize("number", [0, -1, MAX_EXACT_INTEGER, 1.5, 1e300])
def test_finite_numbers_are_kept(number: float) -> None:
    assert stored("custom:score", number) == number


@pytest.mark.parametrize("text", ["\ud800", "team \udfff", "\udc00\ud800"])
def test_a_string_with_a_lone_surrogate_is_refused(text: str) -> None:
    with pytest.raises(InvalidAttribute):
        stored("custom:team", text)


@pytest.mark.parametrize("text", ["a\x00b", "\x1b[31m", "x\x7f", "\x85", "\x0b"])
def test_a_string_with_a_control_character_is_refused(text: str) -> None:
    with pytest.raises(InvalidAttribute):
        stored("name", text)


@pytest.mark.parametrize("text", ["Ada Lovelace", "line one\nline two", "a\tb\r\n", "Zoë 😀"])
def test_text_with_tabs_and_line_breaks_is_kept(text: str) -> None:
    assert stored("address", text) == text


@given(st.one_of(st.floats(), st.integers(), st.text(max_size=30)))
def test_whatever_is_kept_can_be_written_back_out(value: object) -> None:
    name = "custom:team" if isinstance(value, str) else "custom:score"
    try:
        kept = stored(name, value)
    except InvalidAttribute:
        return
    json.dumps(kept, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert not isinstance(kept, int) or abs(kept) <= MAX_EXACT_INTEGER
