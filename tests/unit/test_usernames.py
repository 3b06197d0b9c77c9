"""The username rules: characters, email-shaped names, mixed scripts, skeletons."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.errors import InvalidRequest, InvalidUsername
from authgate.identity.names import check_new_username, normalize_username, username_skeleton

CYRILLIC_O = "\u043e"
ALLOWED_PUNCTUATION = set("._-@")


def accepts(name: str, own_email: str | None = None) -> bool:
    try:
        check_new_username(normalize_username(name), own_email)
    except InvalidRequest:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_an_accepted_name_without_at_holds_only_letters_digits_marks_and_dot_dash_underscore(
    name: str,
) -> None:
    if not accepts(name) or "@" in name:
        return
    for char in normalize_username(name):
        category = unicodedata.category(char)
        assert char in ALLOWED_PUNCTUATION or category[0] == "L" or category in ("Nd", "Mn", "Mc")


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(categories=["L", "Nd"]), min_size=1, max_size=10),
    st.sampled_from([" ", "\u00a0", "/", ":", "+", "!", "<", "\u2028", "\u200b", "%"]),
    st.text(alphabet=st.characters(categories=["L", "Nd"]), min_size=1, max_size=10),
)
def test_a_name_with_any_other_character_between_words_is_refused(
    left: str, separator: str, right: str
) -> None:
    assert not accepts(f"{left}{separator}{right}")


@pytest.mark.parametrize("name", ["support", "jörg.müller", "мария_1", "日本語テスト", "a-b_c.d"])
def test_single_script_names_are_accepted(name: str) -> None:
    assert accepts(name)


@pytest.mark.parametrize("name", [f"supp{CYRILLIC_O}rt", f"admin.supp{CYRILLIC_O}rt", "pаypal"])
def test_a_word_mixing_scripts_is_refused(name: str) -> None:
    with pytest.raises(InvalidUsername):
        check_new_username(normalize_username(name), None)


@pytest.mark.parametrize("name", [".", "-_-", "..."])
def test_a_name_of_punctuation_alone_is_refused(name: str) -> None:
    assert not accepts(name)


def test_a_name_with_an_at_must_be_the_own_email() -> None:
    assert accepts("Me@Example.com", own_email="me@example.com")
    assert not accepts("victim@example.com", own_email="me@example.com")
    assert not accepts("victim@example.com", own_email=None)


def test_the_own_email_as_name_may_keep_what_an_address_allows() -> None:
    assert accepts("me+tag@example.com", own_email="me+tag@example.com")


@pytest.mark.parametrize(
    ("name", "lookalike"),
    [
        ("support", f"supp{CYRILLIC_O}rt"),
        ("paypal", "paypa1"),
        ("ops", "0ps"),
        ("ape", "\u0430\u0440\u0435"),
    ],
)
def test_lookalikes_share_a_skeleton(name: str, lookalike: str) -> None:
    assert username_skeleton(name) == username_skeleton(lookalike)


def test_different_names_have_different_skeletons() -> None:
    assert username_skeleton("alice") != username_skeleton("alicia")
