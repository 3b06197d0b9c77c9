"""The strict JSON parser every request body goes through: I-JSON, bounded depth."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.api import json_body
from authgate.errors import InvalidRequest

MAX_DEPTH = json_body.MAX_DEPTH
parse_json = json_body.parse_json
parse_json_object = json_body.parse_json_object

# Text any UTF-8 encoder can write and PostgreSQL can store: no surrogate, no NUL.
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def writable(value: Any) -> bool:
    """Writable back out as strict JSON text in UTF-8, and without NUL."""
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    return "\\u0000" not in text


@given(VALUES)
def test_every_writable_value_reads_back_as_itself(value: Any) -> None:
    assert parse_json(json.dumps(value).encode()) == value


@given(st.binary(max_size=200))
def test_any_bytes_give_a_writable_value_or_invalid_request(raw: bytes) -> None:
    try:
        value = parse_json(raw)
    except InvalidRequest:
        return
    assert writable(value)


@given(st.text(max_size=200))
def test_any_text_gives_a_writable_value_or_invalid_request(text: str) -> None:
    try:
        value = parse_json(text.encode("utf-8", "surrogatepass"))
    except InvalidRequest:
        return
    assert writable(value)


LONE = st.sampled_from(["\ud800", "\udfff", "a\udc00b", "\udc00\ud800"])
PLACES = st.sampled_from(
    [
        lambda value, lone: [value, lone],
        lambda value, lone: {"attributes": {"name": lone}, "other": value},
        lambda value, lone: {lone: value},
        lambda value, lone: [[{"deep": [value, lone]}]],
    ]
)


@given(VALUES, LONE, PLACES)
def test_a_lone_surrogate_anywhere_is_refused(value: Any, lone: str, place: Any) -> None:
    document = json.dumps(place(value, lone))  # escaped as \\udXXX, as a client sends it
    with pytest.raises(InvalidRequest, match="surrogate"):
        parse_json(document.encode())


def test_a_lone_surrogate_in_a_name_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_json(b'{"\\ud800": 1}')


@pytest.mark.parametrize("raw", [b'{"name": "a\\u0000b"}', b'{"\\u0000": 1}', b'["\\u0000"]'])
def test_a_nul_character_anywhere_is_refused(raw: bytes) -> None:
    """PostgreSQL cannot store NUL in text: refused before anything tries to."""
    with pytest.raises(InvalidRequest, match="NUL"):
        parse_json(raw)


def test_a_surrogate_pair_is_one_character_and_accepted() -> None:
    assert parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"])
def test_a_number_that_is_not_finite_is_refused(number: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_json(f'{{"score": {number}}}'.encode())


@given(VALUES, TEXT)
def test_a_name_twice_in_one_object_is_refused(value: Any, name: str) -> None:
    document = f'{{"x": {json.dumps(value)}, {json.dumps(name)}: 1, {json.dumps(name)}: 2}}'
    with pytest.raises(InvalidRequest, match="twice"):
        parse_json(document.encode())


def test_a_name_twice_in_a_nested_object_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_json(b'{"attributes": [{"role": "user", "role": "admin"}]}')


def test_nesting_up_to_the_bound_is_accepted() -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_nesting_past_the_bound_is_refused(opening: bytes) -> None:
    closing = b"]" if opening == b"[" else b"}"
    deep = opening * (MAX_DEPTH + 1) + b"1" + closing * (MAX_DEPTH + 1)
    with pytest.raises(InvalidRequest, match="nested"):
        parse_json(deep)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '["' + "[" * (MAX_DEPTH * 2) + '\\"' + "{" * MAX_DEPTH + '"]'
    assert parse_json(text.encode()) == ["[" * (MAX_DEPTH * 2) + '"' + "{" * MAX_DEPTH]


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="UTF-8"):
        parse_json(b'{"name": "\xed\xa0\x80"}')


def test_an_empty_body_is_an_empty_object() -> None:
    assert parse_json_object(b"") == {}


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"1", b"null"])
def test_a_body_that_is_not_an_object_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest, match="object"):
        parse_json_object(raw)
