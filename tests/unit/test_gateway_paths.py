"""Path normalization: one form to match on and forward, and refusal of what is ambiguous.

SECURITY.md item 1: the gate and the upstream must never read a path differently, so every
trick that makes servers disagree is either normalized away or refused (400).
"""

from __future__ import annotations

import string
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.gateway.paths import SEGMENT_CHARS, AmbiguousPath, normalize_path

# --- what is refused -----------------------------------------------------------------------

REFUSED = {
    "dot-dot segment": "/admin/../secret",
    "dot-dot at the end": "/admin/..",
    "single dot segment": "/a/./b",
    "encoded dot-dot (lower case)": "/admin/%2e%2e/secret",
    "encoded dot-dot (upper case)": "/admin/%2E%2E/secret",
    "half-encoded dot-dot": "/admin/.%2e/secret",
    "encoded single dot": "/a/%2e/b",
    "all-dots segment": "/a/.../b",
    "encoded slash (lower case)": "/admin%2fsecret",
    "encoded slash (upper case)": "/admin%2Fsecret",
    "encoded backslash": "/admin%5csecret",
    "encoded semicolon (a path parameter once decoded)": "/admin%3bjsessionid=1/x",
    "raw backslash": "/admin\\..\\secret",
    "empty segment": "/admin//secret",
    "leading empty segment": "//admin",
    "encoded NUL": "/admin%00.html",
    "encoded control character": "/admin%0d%0aSet-Cookie:x",
    "raw control character": "/admin\tx",
    "encoded DEL": "/a%7F",
    "path parameter": "/admin;jsessionid=1",
    "path parameter on a dot-dot": "/admin/..;/secret",
    "double encoding": "/admin/%252e%252e/secret",
    "encoded percent": "/a%25",
    "overlong UTF-8 dot": "/admin/%c0%ae%c0%ae/secret",
    "overlong UTF-8 slash": "/admin%c0%afsecret",
    "encoded UTF-8": "/caf%C3%A9",
    "raw unicode": "/café",
    "unicode full stop lookalike": "/admin/\u2024\u2024/secret",
    "fullwidth solidus": "/admin\uff0fsecret",
    "truncated escape": "/a%2",
    "non-hex escape": "/a%zz",
    "unicode digits in an escape": "/a%\u0661\u0662",
    "raw space": "/a b",
    "raw question mark": "/a?b",
    "raw fragment": "/a#b",
    "relative path": "admin",
    "empty path": "",
    "asterisk form": "*",
}


@pytest.mark.parametrize("raw", list(REFUSED.values()), ids=list(REFUSED))
def test_ambiguous_paths_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(AmbiguousPath) as caught:
        normalize_path(raw)
    assert caught.value.reason


# --- what is normalized --------------------------------------------------------------------

NORMALIZED = {
    "root": ("/", "/"),
    "plain": ("/orders/42", "/orders/42"),
    "trailing slash kept": ("/orders/", "/orders/"),
    "case preserved": ("/Admin/Secret", "/Admin/Secret"),
    "encoded letters decoded": ("/%61dmin", "/admin"),
    "encoded upper-case letters keep their case": ("/%41dmin", "/Admin"),
    "encoded unreserved punctuation": ("/a%2Db%2E%5Fc%7E", "/a-b._c~"),
    "encoded colon decoded, it may stand raw": ("/things%3Adelete", "/things:delete"),
    "encoded at-sign decoded": ("/users/alice%40example.com", "/users/alice@example.com"),
    "escape of space kept": ("/a%20b", "/a%20b"),
    "escape hex upper-cased": ("/a%3fb", "/a%3Fb"),
    "dots inside a segment are fine": ("/a..b/.hidden/v1.2", "/a..b/.hidden/v1.2"),
    "sub-delimiters stay raw": ("/a!$&'()*+,=", "/a!$&'()*+,="),
}


@pytest.mark.parametrize(("raw", "expected"), list(NORMALIZED.values()), ids=list(NORMALIZED))
def test_paths_normalize_to_one_form(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


def test_case_is_preserved_because_paths_are_case_sensitive() -> None:
    assert normalize_path("/ADMIN") != normalize_path("/admin")


# --- properties ----------------------------------------------------------------------------

_SAFE = "".join(sorted(SEGMENT_CHARS))
safe_segments = st.text(alphabet=_SAFE, min_size=1, max_size=12).filter(
    lambda s: s.strip(".") and not s.endswith(".")
)
safe_paths = st.builds(
    lambda segments, trailing: "/" + "/".join(segments) + ("/" if trailing and segments else ""),
    st.lists(safe_segments, max_size=6),
    st.booleans(),
)
_ALPHABET = string.printable + "%%%%..//\\;é\u2024\x00"
_HEXES = [f"%{b:02x}" for b in range(256)] + [f"%{b:02X}" for b in range(256)]
raw_paths = st.builds(
    lambda parts: "/" + "".join(parts),
    st.lists(st.one_of(st.text(alphabet=_ALPHABET, max_size=4), st.sampled_from(_HEXES))),
)


@given(safe_paths)
def test_a_path_of_safe_segments_normalizes_to_itself(path: str) -> None:
    assert normalize_path(path) == path


@given(raw_paths)
def test_normalization_is_idempotent_and_leaves_nothing_ambiguous(raw: str) -> None:
    try:
        once = normalize_path(raw)
    except AmbiguousPath:
        return
    assert normalize_path(once) == once
    assert once.startswith("/")
    for bad in ("//", "\\", "/../", "/./", ";", "%2F", "%5C", "%25", "%00"):
        assert bad not in once
    assert not once.endswith(("/..", "/."))


@given(raw_paths)
def test_normalization_never_changes_what_a_decoding_upstream_reads(raw: str) -> None:
    try:
        normalized = normalize_path(raw)
    except AmbiguousPath:
        return
    assert unquote(normalized, errors="strict") == unquote(raw, errors="strict")


@given(safe_paths, st.data())
def test_any_percent_encoding_of_a_normalized_path_normalizes_back_to_it(
    path: str, data: st.DataObject
) -> None:
    encoded = "".join(
        f"%{ord(char):02{data.draw(st.sampled_from('xX'))}}"
        if char != "/" and data.draw(st.booleans())
        else char
        for char in path
    )
    assert normalize_path(encoded) == path


# --- nothing refused hides behind a dot segment ---------------------------------------------

_REFUSED_ESCAPES = [f"%{b:02x}" for b in [*range(0x20), 0x7F, *range(0x80, 0x100)]] + [
    "%2f",
    "%2F",
    "%5c",
    "%3b",
    "%25",
    "%zz",
    "%u002e",
]
_REFUSED_RAW = ["\\", ";", "\x00", "\t", " ", '"', "<", "^", "`", "{", "é", "\u2024", "\uff0f"]
_safe_text = st.text(alphabet=_SAFE, max_size=4)
refused_inside = st.builds(
    lambda before, bad, after: before + bad + after,
    _safe_text,
    st.sampled_from(_REFUSED_ESCAPES + _REFUSED_RAW),
    _safe_text,
)
refused_segments = st.one_of(
    refused_inside,
    # An escape cut short, at the segment's end: inside, a hex digit after it would make a
    # whole escape that nothing refuses.
    _safe_text.map(lambda s: s + "%2"),
    st.sampled_from(["", ".", "..", "...", "%2e", "%2E%2e"]),
    _safe_text.map(lambda s: s + "."),
    _safe_text.map(lambda s: s + "%20"),
)
dot_dots = st.sampled_from(["..", "%2e%2e", "%2E.", ".%2e", ".", "%2e"])


def refusal(raw: str) -> str:
    with pytest.raises(AmbiguousPath) as caught:
        normalize_path(raw)
    return caught.value.reason


@given(refused_segments, dot_dots)
def test_a_refused_segment_is_refused_for_itself_when_a_dot_segment_follows(
    segment: str, dots: str
) -> None:
    """`/a/S/../b` resolves to `/a/b` on an upstream that removes dot segments: whatever
    refuses S must refuse the whole path, for S's own reason, before dots are looked at."""
    assert refusal(f"/a/{segment}/{dots}/b") == refusal(f"/a/{segment}/b")
    assert refusal(f"/a/{segment}/{dots}") == refusal(f"/a/{segment}/b")


@pytest.mark.parametrize("hidden", ["%00", "%2f", "%5c", "%25", "a;b", "%c0%ae", "a.", "a%20"])
def test_a_refused_segment_followed_by_dot_dot_is_refused(hidden: str) -> None:
    assert refusal(f"/public/{hidden}/../x") == refusal(f"/public/{hidden}/x")
