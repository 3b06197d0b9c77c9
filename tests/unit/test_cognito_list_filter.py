"""The ListUsers Filter parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.cognito.list_filter import (
    SEARCHABLE,
    FilterError,
    UserFilter,
    parse_filter,
    quote_value,
)

values = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
spaces = st.sampled_from(["", " ", "  ", "\t"])


@given(st.sampled_from(SEARCHABLE), st.booleans(), values, spaces, spaces)
def test_every_well_formed_filter_parses_to_what_it_says(
    attribute: str, prefix: bool, value: str, before: str, after: str
) -> None:
    text = f"{attribute}{before}{'^=' if prefix else '='}{after}{quote_value(value)}"
    assert parse_filter(text) == UserFilter(attribute, prefix, value)


@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused_as_a_filter_error(text: str) -> None:
    try:
        parsed = parse_filter(text)
    except FilterError:
        return
    assert parsed is None or parsed.attribute in SEARCHABLE


@given(st.text(alphabet=" \t", max_size=5))
def test_a_blank_filter_lists_everyone(text: str) -> None:
    assert parse_filter(text) is None


def test_the_documented_examples_parse() -> None:
    assert parse_filter('family_name = "Reddy"') == UserFilter("family_name", False, "Reddy")
    assert parse_filter('given_name ^= "Jon"') == UserFilter("given_name", True, "Jon")
    assert parse_filter('cognito:user_status = "FORCE_CHANGE_PASSWORD"') == UserFilter(
        "cognito:user_status", False, "FORCE_CHANGE_PASSWORD"
    )


@pytest.mark.parametrize(
    "text",
    [
        'custom:team = "a"',
        'email == "a"',
        'email != "a"',
        "email = a",
        'email = "a',
        'email = "a" and name = "b"',
        'email = "a"x',
        '= "a"',
        'email ~ "a"',
        "email = " + quote_value("x" * 300),
    ],
)
def test_what_cognito_does_not_accept_is_refused(text: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(text)
