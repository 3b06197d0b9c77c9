"""Every Ladon condition type: when it holds, when it does not, and which options it refuses.

Options are checked when the policy is written, so a typo can never become a silent allow;
at decision time a value of the wrong type simply does not hold.
"""

from __future__ import annotations

from typing import Any

import pytest

from authgate.policy import AccessRequest
from authgate.policy.conditions import CONDITION_TYPES, ConditionOptionsError, build_condition

REQUEST = AccessRequest(
    subject="alice",
    subjects=("alice", "client-1", "group:support"),
    action="read",
    resource="resources:orders:12:items:7",
)


def holds(type_name: str, options: dict[str, Any], value: object) -> bool:
    return build_condition(type_name, options).holds(value, REQUEST)


def refused(type_name: str, options: dict[str, Any]) -> str:
    with pytest.raises(ConditionOptionsError) as error:
        build_condition(type_name, options)
    return str(error.value)


def test_the_seven_ladon_types_are_known() -> None:
    assert set(CONDITION_TYPES) == {
        "StringEqualCondition",
        "StringMatchCondition",
        "CIDRCondition",
        "EqualsSubjectCondition",
        "StringPairsEqualCondition",
        "BooleanCondition",
        "ResourceContainsCondition",
    }


def test_an_unknown_type_is_refused() -> None:
    assert "unknown condition type" in refused("StringEqualsCondition", {"equals": "a"})


# --- StringEqualCondition ------------------------------------------------------------------


def test_string_equal_holds_for_the_same_string() -> None:
    assert holds("StringEqualCondition", {"equals": "eu-west"}, "eu-west")


@pytest.mark.parametrize("value", ["eu-west-1", "EU-WEST", "", None, 1, ["eu-west"]])
def test_string_equal_does_not_hold_for_anything_else(value: object) -> None:
    assert not holds("StringEqualCondition", {"equals": "eu-west"}, value)


@pytest.mark.parametrize("options", [{}, {"equals": 1}, {"equal": "a"}, {"equals": "a", "x": 1}])
def test_string_equal_refuses_bad_options(options: dict[str, Any]) -> None:
    refused("StringEqualCondition", options)


# --- StringMatchCondition ------------------------------------------------------------------


def test_string_match_holds_where_the_expression_is_found() -> None:
    assert holds("StringMatchCondition", {"matches": "^admin-[0-9]+$"}, "admin-42")


def test_string_match_is_unanchored_as_in_ladon() -> None:
    assert holds("StringMatchCondition", {"matches": "admin"}, "not-admin-really")


@pytest.mark.parametrize("value", ["admin-x", "xadmin-1", None, 42])
def test_string_match_does_not_hold_elsewhere(value: object) -> None:
    assert not holds("StringMatchCondition", {"matches": "^admin-[0-9]+$"}, value)


@pytest.mark.parametrize(
    "options", [{}, {"matches": 3}, {"matches": "(a"}, {"matches": "(a)\\1"}, {"match": "a"}]
)
def test_string_match_refuses_bad_options(options: dict[str, Any]) -> None:
    refused("StringMatchCondition", options)


def test_string_match_runs_in_linear_time() -> None:
    assert not holds("StringMatchCondition", {"matches": "^(a+)+$"}, "a" * 50_000 + "!")


# --- CIDRCondition -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "address"),
    [
        ("192.168.0.0/16", "192.168.4.2"),
        ("192.168.1.5/24", "192.168.1.200"),  # host bits are ignored, as in Ladon
        ("10.0.0.1/32", "10.0.0.1"),
        ("2001:db8::/32", "2001:db8:1::5"),
        ("10.0.0.0/8", "::ffff:10.1.2.3"),  # IPv4-mapped counts as IPv4
    ],
)
def test_cidr_holds_inside_the_network(cidr: str, address: str) -> None:
    assert holds("CIDRCondition", {"cidr": cidr}, address)


@pytest.mark.parametrize(
    ("cidr", "value"),
    [
        ("192.168.0.0/16", "192.169.0.1"),
        ("10.0.0.0/8", "2001:db8::1"),
        ("2001:db8::/32", "10.0.0.1"),
        ("10.0.0.0/8", "10.0.0.1.evil"),
        ("10.0.0.0/8", "not an ip"),
        ("10.0.0.0/8", None),
        ("10.0.0.0/8", 167772161),
    ],
)
def test_cidr_does_not_hold_outside_the_network(cidr: str, value: object) -> None:
    assert not holds("CIDRCondition", {"cidr": cidr}, value)


@pytest.mark.parametrize(
    "options", [{}, {"cidr": "10.0.0.0/33"}, {"cidr": "office"}, {"cidr": 10}, {"CIDR": "::/0"}]
)
def test_cidr_refuses_bad_options(options: dict[str, Any]) -> None:
    refused("CIDRCondition", options)


# --- EqualsSubjectCondition ----------------------------------------------------------------


def test_equals_subject_holds_for_the_primary_subject() -> None:
    assert holds("EqualsSubjectCondition", {}, "alice")


@pytest.mark.parametrize("value", ["client-1", "group:support", "Alice", None])
def test_equals_subject_does_not_hold_for_other_names(value: object) -> None:
    assert not holds("EqualsSubjectCondition", {}, value)


def test_equals_subject_refuses_options() -> None:
    refused("EqualsSubjectCondition", {"subject": "alice"})


# --- StringPairsEqualCondition -------------------------------------------------------------


@pytest.mark.parametrize("value", [[["a", "a"], ["b", "b"]], [("x", "x")], []])
def test_string_pairs_equal_holds_when_every_pair_is_equal(value: object) -> None:
    assert holds("StringPairsEqualCondition", {}, value)


@pytest.mark.parametrize(
    "value",
    [[["a", "b"]], [["a", "a"], ["a", "b"]], [["a"]], [["a", "a", "a"]], [[1, 1]], "aa", None],
)
def test_string_pairs_equal_does_not_hold_otherwise(value: object) -> None:
    assert not holds("StringPairsEqualCondition", {}, value)


def test_string_pairs_equal_refuses_options() -> None:
    refused("StringPairsEqualCondition", {"pairs": []})


# --- BooleanCondition ----------------------------------------------------------------------


@pytest.mark.parametrize("expected", [True, False])
def test_boolean_holds_for_the_same_boolean(expected: bool) -> None:
    assert holds("BooleanCondition", {"value": expected}, expected)


@pytest.mark.parametrize("value", [False, "true", 1, None])
def test_boolean_does_not_hold_for_anything_else(value: object) -> None:
    assert not holds("BooleanCondition", {"value": True}, value)


def test_boolean_false_is_not_met_by_zero() -> None:
    assert not holds("BooleanCondition", {"value": False}, 0)


@pytest.mark.parametrize("options", [{}, {"value": "true"}, {"value": 1}, {"bool": True}])
def test_boolean_refuses_bad_options(options: dict[str, Any]) -> None:
    refused("BooleanCondition", options)


# --- ResourceContainsCondition -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"value": "12", "delimiter": ":"},
        {"value": "items:7", "delimiter": ":"},
        {"value": "orders:1"},  # no delimiter: a plain substring
    ],
)
def test_resource_contains_holds_for_a_part_of_the_resource(value: object) -> None:
    assert holds("ResourceContainsCondition", {}, value)


@pytest.mark.parametrize(
    "value",
    [
        {"value": "1", "delimiter": ":"},  # `1` is not `12`: delimiters bound the part
        {"value": "invoices", "delimiter": ":"},
        {"value": "", "delimiter": ":"},
        {"value": 12, "delimiter": ":"},
        {"delimiter": ":"},
        "12",
        None,
    ],
)
def test_resource_contains_does_not_hold_otherwise(value: object) -> None:
    assert not holds("ResourceContainsCondition", {}, value)


def test_resource_contains_refuses_options() -> None:
    refused("ResourceContainsCondition", {"value": "12"})
