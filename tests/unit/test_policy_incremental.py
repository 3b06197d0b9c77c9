"""A decider changed one policy at a time decides exactly as one built afresh from the
policies it ends with (and as a linear scan of them), whatever the order of the changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.policy import AccessRequest, Decider, PolicyDocument
from authgate.policy.decider import CompiledPolicy
from tests.unit.test_policy_decider import documents, naive_decide, policy, requests

IDS = ["p", "q", "r", "p0", "q1", "r22", "0", "1"]

Change = tuple[str, PolicyDocument | None]  # (id, the document to put, or None to remove)


@st.composite
def changes(draw: st.DrawFn) -> list[Change]:
    made: list[Change] = []
    for _ in range(draw(st.integers(1, 16))):
        pid = draw(st.sampled_from(IDS))
        made.append((pid, draw(documents(pid)) if draw(st.integers(0, 3)) else None))
    return made


def changed(decider: Decider, made: list[Change]) -> dict[str, PolicyDocument]:
    """Apply `made` to `decider`; the policies it should hold afterwards."""
    held = {doc.id: doc for doc in decider.documents}
    for pid, document in made:
        if document is None:
            assert decider.remove(pid) is (pid in held)
            held.pop(pid, None)
        else:
            decider.put(CompiledPolicy(document))
            held[pid] = document
    return held


@settings(max_examples=200, deadline=None)
@given(changes(), changes(), st.lists(requests(), min_size=1, max_size=8))
def test_a_decider_changed_policy_by_policy_decides_as_one_built_afresh(
    first: list[Change], then: list[Change], asked: list[AccessRequest]
) -> None:
    start = [doc for _, doc in first if doc is not None]
    decider = Decider.compile({doc.id: doc for doc in start}.values())
    held = changed(decider, then)
    fresh = Decider.compile(held.values())
    assert len(decider) == len(held)
    assert decider.documents == fresh.documents
    for request in asked:
        assert (
            decider.decide(request)
            == fresh.decide(request)
            == naive_decide(list(held.values()), request)
        )


def test_a_removed_policy_no_longer_decides() -> None:
    decider = Decider.compile([policy("a"), policy("b", "deny")])
    assert decider.remove("b")
    request = AccessRequest("alice", ("alice",), "read", "orders:1", {})
    assert (decider.decide(request).allowed, decider.decide(request).reason) == (True, "a")


def test_removing_a_policy_that_is_not_there_changes_nothing() -> None:
    decider = Decider.compile([policy("a")])
    assert decider.remove("b") is False
    assert len(decider) == 1


def test_a_replaced_policy_decides_with_its_new_patterns_only() -> None:
    decider = Decider.compile([policy("a")])
    decider.put(CompiledPolicy(policy("a", resources=["invoices:<.*>"])))
    old = AccessRequest("alice", ("alice",), "read", "orders:1", {})
    new = AccessRequest("alice", ("alice",), "read", "invoices:1", {})
    assert (decider.decide(old).allowed, decider.decide(new).allowed) == (False, True)
    assert len(decider) == 1
