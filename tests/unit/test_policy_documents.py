"""Policy documents and their patterns: Ladon's shape in, the same shape out, and every
unusable document refused at write time with the field and index at fault."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.policy import PolicyInvalid, document_json, parse_document
from authgate.policy.patterns import (
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS_PER_LIST,
    PatternSet,
    compile_pattern,
)
from authgate.policy.regex import Regex

HYDRA = {
    "description": "Api readonly policy.",
    "subjects": ["3094A219-52B1-4900-91F7-514C4392D8C3"],
    "actions": ["read"],
    "effect": "allow",
    "resources": ["resources:orders:<.*>"],
}


def valid(**changes: Any) -> dict[str, Any]:
    return {**HYDRA, "id": "p1", **changes}


def problems_of(data: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(PolicyInvalid) as refused:
        parse_document(data, **kwargs)
    return refused.value.problems


# --- Ladon's shape -------------------------------------------------------------------------


def test_the_hydra_document_parses_unchanged() -> None:
    doc = parse_document(HYDRA)
    out = document_json(doc)
    assert {key: out[key] for key in HYDRA} == HYDRA
    assert out["conditions"] == {} and out["meta"] is None


def test_a_document_without_id_gets_a_uuid() -> None:
    doc = parse_document(HYDRA)
    assert str(uuid.UUID(doc.id)) == doc.id


def test_two_documents_without_id_get_different_ids() -> None:
    assert parse_document(HYDRA).id != parse_document(HYDRA).id


def test_an_empty_id_is_generated_as_hydra_does() -> None:
    assert parse_document({**HYDRA, "id": ""}).id != ""


def test_a_given_id_is_kept() -> None:
    assert parse_document(valid(id="orders-read")).id == "orders-read"


def test_without_id_generation_a_missing_id_is_refused() -> None:
    assert any(p.startswith("id") for p in problems_of(HYDRA, generate_id=False))


def test_document_json_round_trips_conditions_and_meta() -> None:
    data = valid(
        conditions={
            "remoteIP": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}},
            "owner": {"type": "EqualsSubjectCondition", "options": {}},
        },
        meta={"team": ["a", 1]},
    )
    doc = parse_document(data)
    assert document_json(doc) == data
    assert parse_document(document_json(doc)) == doc


def test_condition_options_may_be_left_out_when_the_type_has_none() -> None:
    doc = parse_document(valid(conditions={"owner": {"type": "EqualsSubjectCondition"}}))
    assert document_json(doc)["conditions"]["owner"] == {
        "type": "EqualsSubjectCondition",
        "options": {},
    }


# --- refusals, each naming its field -------------------------------------------------------


def test_an_unknown_field_is_refused() -> None:
    assert problems_of(valid(effects="allow")) == ["effects: Extra inputs are not permitted"]


def test_an_effect_other_than_allow_or_deny_is_refused() -> None:
    assert [p for p in problems_of(valid(effect="Allow")) if p.startswith("effect")]


def test_a_document_that_is_not_an_object_is_refused() -> None:
    assert problems_of(["not", "an", "object"]) == ["document: must be a JSON object"]


def test_a_non_string_pattern_is_refused_with_its_index() -> None:
    assert any(p.startswith("subjects[1]") for p in problems_of(valid(subjects=["a", 7])))


def test_an_unknown_condition_type_is_refused() -> None:
    found = problems_of(valid(conditions={"x": {"type": "AlwaysTrue", "options": {}}}))
    assert len(found) == 1 and found[0].startswith("conditions.x: unknown condition type")


def test_bad_condition_options_are_refused() -> None:
    found = problems_of(valid(conditions={"ip": {"type": "CIDRCondition", "options": {}}}))
    assert len(found) == 1 and found[0].startswith("conditions.ip:")


def test_every_problem_is_reported_at_once() -> None:
    found = problems_of(valid(subjects=[], actions=["<(>"], resources=["a<b"]))
    assert [p.split(":")[0] for p in found] == ["subjects", "actions[0]", "resources[0]"]


@pytest.mark.parametrize("field", ["subjects", "actions", "resources"])
def test_an_empty_pattern_list_is_refused(field: str) -> None:
    assert problems_of(valid(**{field: []})) == [f"{field}: must list at least one pattern"]


# --- pattern-safety limits -----------------------------------------------------------------


def test_a_pattern_longer_than_the_limit_is_refused() -> None:
    long = "a" * (MAX_PATTERN_LENGTH + 1)
    assert problems_of(valid(resources=["ok", long])) == [
        f"resources[1]: longer than {MAX_PATTERN_LENGTH} characters"
    ]


def test_a_pattern_at_the_length_limit_is_accepted() -> None:
    parse_document(valid(resources=["a" * MAX_PATTERN_LENGTH]))


def test_more_patterns_than_the_limit_are_refused() -> None:
    many = [f"r{i}" for i in range(MAX_PATTERNS_PER_LIST + 1)]
    assert problems_of(valid(resources=many)) == [
        f"resources: more than {MAX_PATTERNS_PER_LIST} patterns"
    ]


@pytest.mark.parametrize("regex", ["<.{1000}>", "<\\pL{20}>"])
def test_a_regex_that_compiles_too_large_is_refused(regex: str) -> None:
    # Short to write, large to run: the bound is on RE2's compiled program, not the text.
    found = problems_of(valid(resources=[regex]))
    assert len(found) == 1 and "too complex" in found[0]


@pytest.mark.parametrize(
    "regex",
    ["<(a)\\1>", "<(?=a)a>", "<(?!a).>", "<(?<=a>)b>"],
    ids=["backref", "ahead", "neg", "behind"],
)
def test_backtracking_only_constructs_are_refused(regex: str) -> None:
    found = problems_of(valid(resources=[regex]))
    assert len(found) == 1 and found[0].startswith("resources[0]: invalid regular expression")


@pytest.mark.parametrize("text", ["a<b", "a<b>c>", "a<<b>", "<a>>"])
def test_unbalanced_delimiters_are_refused(text: str) -> None:
    assert problems_of(valid(resources=[text])) == ["resources[0]: unbalanced '<' and '>'"]


def test_a_regex_part_cannot_break_out_of_its_place() -> None:
    # `a)|(b` is no regex on its own; wrapped by naive concatenation it would widen the match.
    assert problems_of(valid(resources=["x:<a)|(b>"]))[0].startswith("resources[0]: invalid")


def test_a_catastrophic_backtracking_pattern_answers_in_linear_time() -> None:
    pattern = compile_pattern("<(a+)+b>")
    assert not pattern.matches("a" * 50_000 + "c")
    assert pattern.matches("a" * 50_000 + "b")


# --- matching ------------------------------------------------------------------------------


def test_matching_is_whole_string() -> None:
    pattern = compile_pattern("resources:orders:<[0-9]+>")
    assert pattern.matches("resources:orders:123")
    assert not pattern.matches("resources:orders:123x")
    assert not pattern.matches("xresources:orders:123")


def test_matching_is_case_sensitive() -> None:
    assert not compile_pattern("orders:<.*>").matches("Orders:1")
    assert not compile_pattern("read").matches("READ")


def test_a_regex_part_may_relax_case_for_itself() -> None:
    assert compile_pattern("orders:<(?i)abc>").matches("orders:ABC")


def test_literal_parts_are_not_regex() -> None:
    pattern = compile_pattern("a.b:<.*>")
    assert pattern.matches("a.b:x")
    assert not pattern.matches("axb:x")


def test_a_lone_closing_bracket_in_a_literal_pattern_is_literal() -> None:
    assert compile_pattern("a>b").matches("a>b")


def test_nested_delimiters_are_one_regex_part() -> None:
    assert compile_pattern("x<a<b>c>").matches("xa<b>c")


def test_dot_does_not_match_a_newline_as_in_ladon() -> None:
    assert not compile_pattern("orders:<.*>").matches("orders:1\nadmin")


LITERAL = st.text(alphabet="ab:.*+?()[]{}|^$\\ -é\n", max_size=6)
REGEXES = [
    "<.*>",
    "<[ab]+>",
    "<a|b>",
    "<[^:]*>",
    "<(?:ab)?>",
    "<[0-9]{1,3}>",
    "<ab[ab]*>",  # RE2 proves the prefix `ab`, longer than the literal text before `<`
    "<a(?:b|:)>",
    "<(?i:ab)>",
]


@st.composite
def patterns(draw: st.DrawFn) -> list[tuple[bool, str]]:
    parts: list[tuple[bool, str]] = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            parts.append((True, draw(st.sampled_from(REGEXES))[1:-1]))
        else:
            literal = draw(LITERAL)
            if literal:
                parts.append((False, literal))
    return parts


@given(patterns(), st.text(alphabet="ab:.0123é\n", max_size=10))
def test_patterns_match_as_their_regex_reading(parts: list[tuple[bool, str]], value: str) -> None:
    text = "".join(f"<{part}>" if is_regex else part for is_regex, part in parts)
    reference = "".join(f"(?:{p})" if is_regex else re.escape(p) for is_regex, p in parts)
    assert compile_pattern(text).matches(value) == bool(re.fullmatch(reference, value))


@given(st.text(max_size=20).filter(lambda s: "<" not in s))
def test_a_pattern_without_delimiters_matches_only_itself(text: str) -> None:
    pattern = compile_pattern(text)
    assert pattern.matches(text) and not pattern.matches(text + "x")


@given(LITERAL, st.text(alphabet="ab:.é", max_size=6))
def test_a_literal_prefix_then_anything_matches_every_extension(prefix: str, rest: str) -> None:
    # Escaping is exact: whatever punctuation the literal holds, it stands for itself.
    prefix = prefix.replace("\n", "")
    assert compile_pattern(prefix + "<.*>").matches(prefix + rest)


def test_a_prefix_proven_by_re2_extends_the_literal_one() -> None:
    pattern = compile_pattern("client-<4[0-9]*>")
    assert (pattern.literal_prefix, pattern.match_prefix) == ("client-", "client-4")


def test_a_case_insensitive_part_proves_no_prefix_beyond_the_literal() -> None:
    assert compile_pattern("x:<(?i)ab>").match_prefix == "x:"


def test_an_alternation_of_words_stands_for_exactly_those_words() -> None:
    pattern = compile_pattern("<read|list>:all")
    assert pattern.expansions == ("read:all", "list:all")
    assert PatternSet(["<read|list>:all"]).literals == {"read:all", "list:all"}


def test_an_alternation_before_a_regex_gives_one_index_prefix_per_word() -> None:
    pattern = compile_pattern("files:<a|bc>:<.*>")
    assert (pattern.expansions, pattern.index_prefixes) == ((), ("files:a:", "files:bc:"))


def test_an_alternation_with_other_regex_syntax_is_not_read_as_words() -> None:
    pattern = compile_pattern("<a.|b>")
    assert (pattern.expansions, pattern.index_prefixes) == ((), ("",))
    assert PatternSet(["<a.|b>"]).literals == frozenset()


@given(
    st.lists(st.text(alphabet="ab:é ", max_size=3), min_size=1, max_size=4),
    st.text(alphabet="xab:é ", max_size=5),
)
def test_the_words_of_an_alternation_are_exactly_what_it_matches(
    words: list[str], probe: str
) -> None:
    pattern = compile_pattern(f"x<{'|'.join(words)}>")
    assert set(pattern.expansions) == {f"x{word}" for word in words}
    assert pattern.matches(probe) == (probe in pattern.expansions)


EXPRESSIONS = ["a.c", "^a", "b$", "(a|b)+c", "[^:]*", "é.", "(?i)ab", ""]


@given(st.sampled_from(EXPRESSIONS), st.text(alphabet="abcé:\n", max_size=8))
def test_regex_answers_alike_through_re2_internals_and_its_public_api(
    expression: str, text: str
) -> None:
    fast, public = Regex(expression), Regex(expression)
    public._raw = None  # the fallback taken when the binding hides its RE2 object
    reference = expression.replace("$", r"\Z")  # RE2's `$` (like Go's) is the end of text
    assert fast.fullmatch(text) == public.fullmatch(text) == bool(re.fullmatch(reference, text))
    assert fast.search(text) == public.search(text) == bool(re.search(reference, text))
