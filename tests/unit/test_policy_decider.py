"""Decisions: deny overrides allow, nothing matching denies, groups count as subjects, every
decision explains itself, and the indexed decider answers exactly as a linear scan would."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.policy import (
    NO_MATCH,
    AccessDecision,
    AccessRequest,
    Decider,
    PolicyDocument,
    PolicyInvalid,
    PolicyMatch,
    parse_document,
    subjects_for,
)
from authgate.policy.conditions import build_condition

HYDRA_SUBJECT = "3094A219-52B1-4900-91F7-514C4392D8C3"
HYDRA = {
    "description": "Api readonly policy.",
    "subjects": [HYDRA_SUBJECT],
    "actions": ["read"],
    "effect": "allow",
    "resources": ["resources:orders:<.*>"],
}


def policy(pid: str, effect: str = "allow", **fields: Any) -> PolicyDocument:
    doc = {"id": pid, "subjects": ["alice"], "actions": ["read"], "resources": ["orders:<.*>"]}
    return parse_document({**doc, "effect": effect, **fields})


def ask(
    decider: Decider,
    subject: str = "alice",
    action: str = "read",
    resource: str = "orders:1",
    groups: tuple[str, ...] = (),
    client_id: str | None = None,
    **context: Any,
) -> AccessDecision:
    names = subjects_for(subject, client_id, groups)
    return decider.decide(AccessRequest(subject, names, action, resource, context))


# --- the Hydra document --------------------------------------------------------------------


def test_the_hydra_document_allows_its_subject_to_read_an_order() -> None:
    doc = parse_document(HYDRA)
    decision = ask(Decider.compile([doc]), HYDRA_SUBJECT, "read", "resources:orders:123")
    assert decision == AccessDecision(True, doc.id, (PolicyMatch(doc.id, "allow", True),))


def test_the_hydra_document_denies_another_subject() -> None:
    decision = ask(
        Decider.compile([parse_document(HYDRA)]), "someone", "read", "resources:orders:1"
    )
    assert decision == AccessDecision(False, NO_MATCH, ())


def test_the_hydra_document_denies_another_resource() -> None:
    decider = Decider.compile([parse_document(HYDRA)])
    assert ask(decider, HYDRA_SUBJECT, "read", "resources:invoices:1").reason == NO_MATCH


def test_the_hydra_document_denies_another_action() -> None:
    decider = Decider.compile([parse_document(HYDRA)])
    assert not ask(decider, HYDRA_SUBJECT, "delete", "resources:orders:1").allowed


def test_the_hydra_document_subject_is_case_sensitive() -> None:
    decider = Decider.compile([parse_document(HYDRA)])
    assert not ask(decider, HYDRA_SUBJECT.lower(), "read", "resources:orders:1").allowed


# --- the rules -----------------------------------------------------------------------------


def test_nothing_matching_is_denied_with_no_match() -> None:
    assert ask(Decider.compile([])) == AccessDecision(False, NO_MATCH, ())


def test_deny_overrides_allow() -> None:
    decider = Decider.compile([policy("a-allow"), policy("z-deny", "deny")])
    decision = ask(decider)
    assert not decision.allowed and decision.reason == "z-deny"
    assert [m.policy_id for m in decision.matches] == ["a-allow", "z-deny"]


def test_the_reason_for_an_allow_is_the_first_allowing_policy_by_id() -> None:
    decider = Decider.compile([policy("b"), policy("a"), policy("c")])
    assert ask(decider).reason == "a"


def test_the_reason_for_a_deny_is_the_first_denying_policy_by_id() -> None:
    decider = Decider.compile([policy("y", "deny"), policy("x", "deny"), policy("a")])
    assert ask(decider).reason == "x"


def test_a_deny_whose_condition_fails_does_not_deny() -> None:
    office = {"remoteIP": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}}}
    decider = Decider.compile([policy("allow"), policy("deny", "deny", conditions=office)])
    decision = ask(decider, remoteIP="192.0.2.1")
    assert decision.allowed and decision.reason == "allow"


def test_an_allow_whose_condition_fails_does_not_allow_and_says_so() -> None:
    office = {"remoteIP": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}}}
    decision = ask(Decider.compile([policy("office", conditions=office)]), remoteIP="192.0.2.1")
    assert decision == AccessDecision(False, NO_MATCH, (PolicyMatch("office", "allow", False),))


def test_an_allow_whose_condition_holds_allows() -> None:
    office = {"remoteIP": {"type": "CIDRCondition", "options": {"cidr": "10.0.0.0/8"}}}
    assert ask(Decider.compile([policy("office", conditions=office)]), remoteIP="10.1.1.1").allowed


def test_a_missing_context_field_fails_its_condition() -> None:
    flag = {"mfa": {"type": "BooleanCondition", "options": {"value": False}}}
    decision = ask(Decider.compile([policy("p", conditions=flag)]))
    assert not decision.allowed and decision.matches == (PolicyMatch("p", "allow", False),)


def test_every_condition_must_hold() -> None:
    both = {
        "mfa": {"type": "BooleanCondition", "options": {"value": True}},
        "region": {"type": "StringEqualCondition", "options": {"equals": "eu"}},
    }
    decider = Decider.compile([policy("p", conditions=both)])
    assert ask(decider, mfa=True, region="eu").allowed
    assert not ask(decider, mfa=True, region="us").allowed


def test_a_user_may_only_touch_resources_under_their_own_id() -> None:
    own = policy(
        "own",
        subjects=["<.*>"],
        resources=["users:<[^:]+>:<.*>"],
        conditions={"owner": {"type": "EqualsSubjectCondition", "options": {}}},
    )
    decider = Decider.compile([own])
    assert ask(decider, "u1", resource="users:u1:files", owner="u1").allowed
    assert not ask(decider, "u1", resource="users:u2:files", owner="u2").allowed


def test_resource_contains_checks_the_requested_resource() -> None:
    mine = {"path": {"type": "ResourceContainsCondition", "options": {}}}
    decider = Decider.compile([policy("p", conditions=mine)])
    assert ask(decider, resource="orders:12:x", path={"value": "12", "delimiter": ":"}).allowed
    assert not ask(decider, resource="orders:123", path={"value": "12", "delimiter": ":"}).allowed


# --- subjects: users, clients, groups ------------------------------------------------------


def test_a_group_policy_applies_to_members_of_the_group() -> None:
    support = policy("support", subjects=["group:support"], resources=["tickets:<.*>"])
    decider = Decider.compile([support])
    assert ask(decider, "bob", resource="tickets:9", groups=("support",)).allowed


def test_a_group_policy_does_not_apply_to_non_members() -> None:
    support = policy("support", subjects=["group:support"], resources=["tickets:<.*>"])
    decider = Decider.compile([support])
    assert not ask(decider, "bob", resource="tickets:9", groups=("sales",)).allowed


def test_a_group_deny_overrides_a_user_allow() -> None:
    decider = Decider.compile(
        [policy("user-read"), policy("no-support", "deny", subjects=["group:support"])]
    )
    assert ask(decider, groups=("support",)).reason == "no-support"


def test_a_client_policy_applies_to_the_client_acting_for_a_user() -> None:
    readonly = policy("readonly-client", subjects=["client-ro"])
    assert ask(Decider.compile([readonly]), "carol", client_id="client-ro").allowed


def test_a_regex_subject_matches_any_of_the_names() -> None:
    groups = policy("staff", subjects=["group:<staff-.*>"])
    assert ask(Decider.compile([groups]), "dave", groups=("staff-eu",)).allowed


def test_subjects_for_lists_sub_client_and_groups_once() -> None:
    assert subjects_for("u1", "c1", ["a", "b", "a"]) == ("u1", "c1", "group:a", "group:b")


def test_subjects_for_a_machine_is_its_client_id() -> None:
    assert subjects_for(None, "c1", []) == ("c1",)


def test_documents_for_lists_a_users_effective_policies() -> None:
    docs = [
        policy("mine"),
        policy("group", subjects=["group:support"]),
        policy("other", subjects=["bob"]),
        policy("everyone", subjects=["<.*>"]),
    ]
    decider = Decider.compile(docs)
    effective = decider.documents_for(subjects_for("alice", None, ["support"]))
    assert [doc.id for doc in effective] == ["everyone", "group", "mine"]


# --- safety --------------------------------------------------------------------------------


def test_duplicate_ids_are_refused_at_compile() -> None:
    with pytest.raises(PolicyInvalid):
        Decider.compile([policy("same"), policy("same", "deny")])


def test_text_that_is_not_unicode_is_denied() -> None:
    decider = Decider.compile([policy("p", subjects=["<.*>"], resources=["<.*>"])])
    assert ask(decider, resource="orders:\ud800") == AccessDecision(False, NO_MATCH, ())


def test_a_catastrophic_pattern_costs_a_decision_nothing_special() -> None:
    decider = Decider.compile([policy("p", resources=["<(a+)+b>"])])
    assert not ask(decider, resource="a" * 50_000 + "c").allowed


def test_the_decider_counts_its_policies() -> None:
    assert len(Decider.compile([policy("a"), policy("b")])) == 2


# --- the index answers as a linear scan would ----------------------------------------------

CHARS = "ab:"
REGEX_PARTS = ["<.*>", "<[ab]+>", "<a|b>", "<[^:]*>", "<a[ab]*>", "<b:?>", "<ab|b:|>", "<a|b>:<.*>"]


def reference_regex(pattern: str) -> re.Pattern[str]:
    """The pattern read independently of authgate: literal text escaped, `<...>` as regex."""
    pieces = re.split(r"(<[^<>]*>)", pattern)
    return re.compile(
        "".join(f"(?:{p[1:-1]})" if p.startswith("<") else re.escape(p) for p in pieces)
    )


def naive_decide(documents: list[PolicyDocument], request: AccessRequest) -> AccessDecision:
    """Ladon's loop over every policy, in id order, with no index at all."""
    names = {request.subject, *request.subjects}

    def any_match(patterns: list[str], values: set[str]) -> bool:
        return any(reference_regex(p).fullmatch(v) for p in patterns for v in values)

    matches: list[PolicyMatch] = []
    for doc in sorted(documents, key=lambda d: d.id):
        if not (
            any_match(doc.actions, {request.action})
            and any_match(doc.subjects, names)
            and any_match(doc.resources, {request.resource})
        ):
            continue
        held = all(
            key in request.context
            and build_condition(spec.type, spec.options).holds(request.context[key], request)
            for key, spec in doc.conditions.items()
        )
        matches.append(PolicyMatch(doc.id, doc.effect, held))
    denies = [m.policy_id for m in matches if m.conditions_held and m.effect == "deny"]
    allows = [m.policy_id for m in matches if m.conditions_held and m.effect == "allow"]
    if denies:
        return AccessDecision(False, denies[0], tuple(matches))
    if allows:
        return AccessDecision(True, allows[0], tuple(matches))
    return AccessDecision(False, NO_MATCH, tuple(matches))


def small_patterns(literals: list[str]) -> st.SearchStrategy[str]:
    literal = st.sampled_from(literals) | st.text(alphabet=CHARS, max_size=3)
    regex = st.tuples(st.text(alphabet=CHARS, max_size=3), st.sampled_from(REGEX_PARTS)).map(
        lambda t: t[0] + t[1]
    )
    return literal | regex


SUBJECTS = ["alice", "bob", "c1", "group:a", "group:b"]
ACTIONS = ["read", "write", "a"]
RESOURCES = ["a", "a:b", "ab:a", "b:", ""]


@st.composite
def documents(draw: st.DrawFn, pid: str) -> PolicyDocument:
    conditions = {}
    if draw(st.booleans()):
        conditions["flag"] = {"type": "BooleanCondition", "options": {"value": True}}
    return parse_document(
        {
            "id": pid,
            "subjects": draw(st.lists(small_patterns(SUBJECTS), min_size=1, max_size=3)),
            "actions": draw(st.lists(small_patterns(ACTIONS), min_size=1, max_size=2)),
            "resources": draw(st.lists(small_patterns(RESOURCES), min_size=1, max_size=3)),
            "effect": draw(st.sampled_from(["allow", "allow", "deny"])),
            "conditions": conditions,
        }
    )


@st.composite
def policy_sets(draw: st.DrawFn) -> list[PolicyDocument]:
    count = draw(st.integers(0, 12))
    ids = draw(
        st.lists(
            st.text(alphabet="pqr0123", min_size=1, max_size=3),
            unique=True,
            min_size=count,
            max_size=count,
        )
    )
    return [draw(documents(pid)) for pid in ids]


@st.composite
def requests(draw: st.DrawFn) -> AccessRequest:
    subject = draw(st.sampled_from(SUBJECTS[:3]) | st.text(alphabet=CHARS, max_size=3))
    groups = draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=2))
    context: dict[str, Any] = {}
    if draw(st.booleans()):
        context["flag"] = draw(st.booleans())
    return AccessRequest(
        subject=subject,
        subjects=subjects_for(subject, draw(st.sampled_from([None, "c1"])), groups),
        action=draw(st.sampled_from(ACTIONS) | st.text(alphabet=CHARS, max_size=2)),
        resource=draw(st.sampled_from(RESOURCES) | st.text(alphabet=CHARS, max_size=4)),
        context=context,
    )


@settings(max_examples=200, deadline=None)
@given(policy_sets(), st.lists(requests(), min_size=1, max_size=8))
def test_the_indexed_decider_decides_as_a_linear_scan(
    docs: list[PolicyDocument], asked: list[AccessRequest]
) -> None:
    decider = Decider.compile(docs)
    for request in asked:
        assert decider.decide(request) == naive_decide(docs, request)
