"""The cookie filter: authgate's own cookies never reach an upstream, in any spelling a
server could read them in, and every other cookie passes as sent and in order."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import cookie_parser

from authgate.cookie_names import OWN_COOKIES, SESSION_COOKIE
from authgate.gateway.mutate import MutationContext, strip_client_headers
from authgate.gateway.own_cookies import is_own_cookie, sets_own_cookie, upstream_cookie
from authgate.gateway.principal import ANONYMOUS
from authgate.gateway.request import GateRequest
from authgate.ui.cookies import csrf_cookie_name

# Names and values as browsers send them: no `;` or `,` (RFC 6265 cookie-octet), no `=`
# in a name, no surrounding blanks.
NAME_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
VALUE_CHARS = string.ascii_letters + string.digits + "!#$%&'()*+-./:<=>?@[]^_`{|}~\""
other_names = st.text(NAME_CHARS, min_size=1, max_size=20).filter(lambda n: not is_own_cookie(n))
values = st.text(VALUE_CHARS, max_size=30)
other_pairs = st.tuples(other_names, values).map(lambda p: f"{p[0]}={p[1]}")


@st.composite
def own_spellings(draw: st.DrawFn) -> str:
    """One of authgate's cookie names as a client could spell it for some server."""
    name = draw(st.sampled_from(["", "__Host-", "__Secure-"])) + draw(st.sampled_from(OWN_COOKIES))
    name = draw(st.sampled_from([str, str.upper, str.lower, str.title, str.swapcase]))(name)
    return draw(st.sampled_from(["", " ", "\t"])) + name + draw(st.sampled_from(["", " "]))


own_pairs = st.tuples(own_spellings(), values).map(lambda p: f"{p[0]}={p[1]}")
tagged = st.one_of(
    other_pairs.map(lambda pair: (pair, True)), own_pairs.map(lambda pair: (pair, False))
)


@st.composite
def cookie_lines(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """(Cookie header lines, the other pairs in the order sent): pairs of both kinds,
    spread over one or more lines, with odd spacing around the separators."""
    pairs = draw(st.lists(tagged, max_size=12))
    separators = st.sampled_from([";", "; ", " ;", ";  ", "\t; "])
    lines: list[str] = []
    current = ""
    for pair, _ in pairs:
        if current and draw(st.integers(0, 3)) == 0:
            lines.append(current)
            current = ""
        current = f"{current}{draw(separators)}{pair}" if current else pair
    lines.append(current)
    return lines, [pair for pair, kept in pairs if kept]


@given(cookie_lines())
def test_every_other_cookie_passes_in_order_and_none_of_ours(
    case: tuple[list[str], list[str]],
) -> None:
    lines, others = case
    forwarded = upstream_cookie(lines)
    assert forwarded == ("; ".join(others) or None)


@given(cookie_lines())
def test_no_parser_reads_one_of_ours_in_what_is_forwarded(
    case: tuple[list[str], list[str]],
) -> None:
    forwarded = upstream_cookie(case[0]) or ""
    assert not any(is_own_cookie(name) for name in cookie_parser(forwarded))
    comma_split = [part.partition("=")[0] for part in forwarded.replace(";", ",").split(",")]
    assert not any(is_own_cookie(name) for name in comma_split)


@given(cookie_lines())
def test_filtering_twice_changes_nothing(case: tuple[list[str], list[str]]) -> None:
    once = upstream_cookie(case[0])
    assert upstream_cookie([once] if once is not None else []) == once


@given(st.lists(own_pairs, min_size=1, max_size=5), st.sampled_from(["; ", ";", " ; "]))
def test_a_header_of_our_cookies_only_leaves_nothing_to_send(
    pairs: list[str], separator: str
) -> None:
    assert upstream_cookie([separator.join(pairs)]) is None


@pytest.mark.parametrize(
    "name",
    [SESSION_COOKIE, csrf_cookie_name("http://auth.example"), csrf_cookie_name("https://a.b")],
)
def test_every_cookie_the_hosted_pages_set_is_ours(name: str) -> None:
    assert is_own_cookie(name)


@pytest.mark.parametrize(
    "cookie",
    [
        'authgate_session="quoted"',
        "authgate_session",
        "a=1, authgate_session=x",
        "a=1,authgate_csrf=x",
        " __Host-authgate_csrf = x ",
    ],
)
def test_odd_spellings_of_ours_are_removed(cookie: str) -> None:
    assert upstream_cookie([f"keep=1; {cookie}"]) == "keep=1"


@pytest.mark.parametrize("name", ["authgate_sessions", "my_authgate_session", "authgate"])
def test_names_that_only_look_like_ours_pass(name: str) -> None:
    assert upstream_cookie([f"{name}=1"]) == f"{name}=1"


def test_empty_pairs_and_blank_lines_leave_nothing_to_send() -> None:
    assert upstream_cookie(["", " ; ;", "\t"]) is None


@pytest.mark.parametrize(
    "set_cookie",
    [
        "authgate_session=planted; Path=/; HttpOnly",
        "__Host-authgate_csrf=known; Path=/; Secure",
        " Authgate_Csrf =known",
        "authgate_session",
    ],
)
def test_a_set_cookie_for_one_of_ours_is_recognised(set_cookie: str) -> None:
    assert sets_own_cookie(set_cookie)


@pytest.mark.parametrize(
    "set_cookie", ["theme=authgate_session; Path=/", "x=1; Comment=authgate_csrf=y", "a=b"]
)
def test_a_set_cookie_for_another_cookie_passes(set_cookie: str) -> None:
    assert not sets_own_cookie(set_cookie)


# -- as a header patch ----------------------------------------------------------------


def patch_for(*headers: tuple[str, str]) -> tuple[dict[str, str], frozenset[str]]:
    request = GateRequest("GET", "https", "api.example", "/x", "", headers)
    patch = strip_client_headers(request, ANONYMOUS, MutationContext(upstream="u"))
    return dict(patch.set), patch.remove


def test_the_patch_sets_one_cookie_header_of_the_other_cookies() -> None:
    sets, _ = patch_for(("cookie", "a=1; authgate_session=s"), ("cookie", "b=2"))
    assert sets["cookie"] == "a=1; b=2"


def test_the_patch_removes_a_cookie_header_left_empty() -> None:
    sets, removed = patch_for(("cookie", "authgate_session=s; authgate_csrf=t"))
    assert "cookie" not in sets
    assert "cookie" in removed


def test_a_request_without_cookies_gets_no_cookie_header() -> None:
    sets, removed = patch_for(("accept", "*/*"))
    assert "cookie" not in sets
    assert "cookie" not in removed


def test_a_cookie_header_named_in_connection_stays_removed() -> None:
    sets, removed = patch_for(("connection", "cookie"), ("cookie", "a=1; authgate_session=s"))
    assert "cookie" not in sets
    assert "cookie" in removed
