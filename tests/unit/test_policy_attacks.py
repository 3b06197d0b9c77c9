"""Attacks on Ladon patterns: the regex written between `<` and `>` must stay in its place.

An admin (or an import of someone else's documents) writes `prefix<regex>suffix`; whatever
the regex part holds (`)`, `|`, `\\Q`, flags, anchors), the pattern may only ever match
`prefix`, then a string the part matches alone, then `suffix`, and literal text is only ever
itself. Each property is checked against that oracle for any input Hypothesis finds.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from authgate.policy import AccessRequest, Decider, PolicyInvalid, parse_document
from authgate.policy.patterns import PatternError, compile_pattern
from authgate.policy.regex import Regex, RegexError

_REGEX_CHARS = st.sampled_from(list("ab.*+?|()[]^$\\QEdw{}1,:-") + ["(?i)", "(?s)", "\\E", "\\z"])
regex_parts = st.lists(_REGEX_CHARS, min_size=1, max_size=8).map("".join)
_LITERAL_CHARS = st.sampled_from(list("ab:.*+?|()[]^$\\{}-_ >"))
literals = st.lists(_LITERAL_CHARS, max_size=6).map("".join)
middles = st.lists(st.sampled_from(list("abAB:.\n)(|")), max_size=6).map("".join)


def _alone(part: str) -> Regex | None:
    try:
        return Regex(part)
    except RegexError:
        return None


@settings(max_examples=400)
@given(literals, regex_parts, literals, middles, st.integers(-1, 7), st.booleans(), st.booleans())
@example("", "a|b", ":", "", 0, False, False)
@example("p", ".*)|(.*", "s", "x", -1, True, False)
@example("p:", "a|(?i)b", ":s", "B", -1, False, True)
def test_a_regex_part_matches_only_between_its_literal_neighbours(
    prefix: str,
    part: str,
    suffix: str,
    random_middle: str,
    piece: int,
    with_prefix: bool,
    with_suffix: bool,
) -> None:
    # A piece of the part itself is a likely match (`a|b` -> `a`); else random text.
    pieces = sorted(set(part.replace("(", "|").replace(")", "|").split("|")))
    middle = pieces[piece % len(pieces)] if piece >= 0 else random_middle
    alone = _alone(part)
    text = f"{prefix}<{part}>{suffix}"
    try:
        pattern = compile_pattern(text)
    except PatternError:
        return  # refusing is always safe
    assert alone is not None, f"{text!r} compiled though its regex part is invalid alone"
    value = (prefix if with_prefix else "") + middle + (suffix if with_suffix else "")
    expected = (
        value.startswith(prefix)
        and value.endswith(suffix)
        and len(value) >= len(prefix) + len(suffix)
        and alone.fullmatch(value[len(prefix) : len(value) - len(suffix)])
    )
    if pattern.matches(value):
        assert value.startswith(prefix) and value.endswith(suffix), (text, value)
    anchored = any(a in part for a in ("^", "$", "\\z"))  # anchors inside cannot match mid-string
    if expected and not anchored:
        assert pattern.matches(value), (text, value)


@given(literals, middles)
def test_literal_text_only_ever_matches_itself(text: str, other: str) -> None:
    if "<" in text:
        return
    pattern = compile_pattern(text) if text else None
    if pattern is None:
        return
    assert pattern.matches(text)
    assert pattern.matches(other) == (other == text)


def test_a_flag_inside_a_part_does_not_reach_the_literal_text() -> None:
    pattern = compile_pattern("<(?i)a>B")
    assert pattern.matches("AB") and pattern.matches("aB")
    assert not pattern.matches("ab")


def test_an_unterminated_quote_cannot_swallow_the_rest_of_the_pattern() -> None:
    for text in ("<\\Q>\\E<.*>", "orders:<\\Q>:<.*>", "a<\\Qb>c"):
        try:
            pattern = compile_pattern(text)
        except PatternError:
            continue
        assert not pattern.matches(text)


def test_anchors_in_a_part_cannot_make_the_match_partial() -> None:
    pattern = compile_pattern("orders:<.*$>")
    assert pattern.matches("orders:1")
    assert not pattern.matches("other:orders:1")
    assert not compile_pattern("<^orders>").matches("orders:1")


# --- control characters (issue 9 item 6) ---------------------------------------------------

CONTROL_CHARACTERS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]


def _secret_files_decider() -> Decider:
    return Decider.compile(
        [
            parse_document(
                {
                    "id": "everyone-reads",
                    "subjects": ["<.*>"],
                    "actions": ["<.*>"],
                    "resources": ["<.*>"],
                    "effect": "allow",
                }
            ),
            parse_document(
                {
                    "id": "no-secrets",
                    "subjects": ["<.*>"],
                    "actions": ["<.*>"],
                    "resources": ["files:secret<.*>"],
                    "effect": "deny",
                }
            ),
        ]
    )


@given(st.sampled_from(CONTROL_CHARACTERS), st.text("ab:/", max_size=4), st.integers(0, 20))
@example("\n", "", 12)
def test_a_control_character_never_dodges_a_deny(control: str, tail: str, at: int) -> None:
    resource = "files:secret" + tail
    resource = resource[:at] + control + resource[at:]
    decision = _secret_files_decider().decide(
        AccessRequest("alice", ("alice",), "read", resource, {})
    )
    assert not decision.allowed


@given(st.sampled_from(CONTROL_CHARACTERS), st.sampled_from(["subject", "action", "resource"]))
def test_a_question_holding_a_control_character_is_never_allowed(control: str, where: str) -> None:
    fields = {"subject": "alice", "action": "read", "resource": "files:public"}
    fields[where] += control
    decision = _secret_files_decider().decide(
        AccessRequest(
            fields["subject"], (fields["subject"],), fields["action"], fields["resource"], {}
        )
    )
    assert not decision.allowed


@given(st.sampled_from(CONTROL_CHARACTERS), st.sampled_from(["subjects", "actions", "resources"]))
def test_a_policy_pattern_with_a_control_character_is_refused(control: str, field: str) -> None:
    document = {"subjects": ["a"], "actions": ["b"], "resources": ["c"], "effect": "deny"}
    document[field] = [f"x{control}<.*>"]
    with pytest.raises(PolicyInvalid) as refused:
        parse_document(document)
    assert any(field in problem and "control" in problem for problem in refused.value.problems)
