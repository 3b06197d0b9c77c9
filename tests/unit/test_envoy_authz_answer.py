"""What authgate's 200 tells Envoy to set and to remove upstream, for any header patch."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from authgate.gateway.envoy_authz import HEADERS_TO_REMOVE, allowed_headers
from authgate.gateway.mutate import COOKIE, IDENTITY, REQUEST_OVERRIDES, SUB, HeaderPatch

IDENTITY_NAMES = {
    "x-authgate-sub",
    "x-authgate-username",
    "x-authgate-groups",
    "x-authgate-scopes",
    "x-authgate-client",
    "x-authgate-identity",
}
NAMES = st.sampled_from(
    sorted(IDENTITY_NAMES | REQUEST_OVERRIDES | {COOKIE, "authorization", "host", "x-other"})
)
PATCHES = st.builds(
    HeaderPatch,
    set=st.dictionaries(NAMES, st.text("abc", min_size=1, max_size=5), max_size=6),
    remove=st.frozensets(NAMES, max_size=6),
)


def removed(patch: HeaderPatch) -> set[str]:
    value = allowed_headers(patch)[HEADERS_TO_REMOVE]
    return {name.strip() for name in value.split(",") if name.strip()}


@given(PATCHES)
def test_a_header_set_for_the_upstream_is_never_also_removed(patch: HeaderPatch) -> None:
    assert not removed(patch) & set(patch.set)


@given(PATCHES)
def test_every_identity_header_and_override_not_set_is_removed(patch: HeaderPatch) -> None:
    assert (IDENTITY_NAMES | REQUEST_OVERRIDES | {COOKIE}) - set(patch.set) <= removed(patch)


@given(PATCHES)
def test_what_the_patch_removes_is_removed_but_host(patch: HeaderPatch) -> None:
    assert patch.remove - set(patch.set) - {"host"} <= removed(patch)
    assert "host" not in removed(patch)


def test_the_answer_carries_the_headers_to_set() -> None:
    answer = allowed_headers(
        HeaderPatch({SUB: "u1", IDENTITY: "jwt"}, frozenset({"authorization"}))
    )
    assert answer[SUB] == "u1" and answer[IDENTITY] == "jwt"
    assert "authorization" in removed(HeaderPatch(remove=frozenset({"authorization"})))
