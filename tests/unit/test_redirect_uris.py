"""Which redirect URIs a client may register: https, http to loopback, reverse-domain private
schemes; never a script scheme, in any spelling."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from authgate.clients.metadata import parse_metadata, stored_metadata
from authgate.clients.redirects import redirect_uri_problem, web_uri_problem
from authgate.errors import InvalidRedirectUri

ACCEPTED = [
    "https://app.example/callback",
    "https://app.example:8443/cb?tenant=a%20b",
    "https://xn--bcher-kva.example/cb",
    "https://192.0.2.10/cb",
    "https://[2001:db8::1]/cb",
    "http://localhost:8080/cb",
    "http://127.0.0.1/cb",
    "http://127.10.0.1:9/cb",
    "http://[::1]:5000/cb",
    "com.example.app:/oauth2redirect",
    "com.example.app://callback",
    "io.github.some-user.app:/cb",
]

SCRIPT_SCHEMES = [
    "javascript:alert(1)",
    "javascript://%0Aalert(document.domain)",
    "JavaScript://%0Aalert(1)",
    "JAVASCRIPT://x",
    " javascript://x",
    "javascript ://x",
    "java\tscript://x",
    "java\nscript://x",
    "java\x00script://x",
    "\x01javascript://x",
    "javascript\u200b://x",
    "data:text/html,<script>alert(1)</script>",
    "data://text/html;base64,PHNjcmlwdD4=",
    "vbscript://msgbox(1)",
    "VBScript://msgbox(1)",
    "file:///etc/passwd",
    "ftp://app.example/cb",
]

REFUSED = [
    "http://app.example/cb",  # http off loopback
    "http://localhost.evil.example/cb",
    "http://127.0.0.1.evil.example/cb",
    "http://127.1/cb",  # a browser's 127.0.0.1, not a host we can compare
    "http://0x7f.0.0.1/cb",
    "http://2130706433/cb",
    "https://app.example/cb#fragment",
    "https://app.example/cb#",
    "https://user@app.example/cb",
    "https://app.example@evil.example/cb",
    "https://app.example\\@evil.example/cb",
    "https://app.example\\evil.example/cb",
    "https://bücher.example/cb",  # IDN: register the xn-- form
    "https://app.example/cb\u2028",
    "https://app.example/c b",
    "https://app.example/%zz",
    "https://app.example:99999/cb",
    "https://app.example:port/cb",
    "https:///evil.example/cb",
    "https:app.example/cb",
    "https://%65vil.example/cb",
    "https://-bad-.example/cb",
    "https://app..example/cb",
    "HTTPS://app.example/cb",
    "/relative/callback",
    "//evil.example/cb",
    "app:/cb",  # a private-use scheme needs reverse-domain form
    "localhost:/cb",
    "com.example.app://user@host/cb",
    "",
    "https://" + "a" * 2048 + ".example/",
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_allowed_redirect_uri_is_accepted(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


@pytest.mark.parametrize("uri", SCRIPT_SCHEMES, ids=repr)
def test_script_and_other_schemes_are_refused_in_every_spelling(uri: str) -> None:
    assert redirect_uri_problem(uri) is not None


@pytest.mark.parametrize("uri", REFUSED, ids=repr)
def test_unsafe_or_ambiguous_redirect_uri_is_refused(uri: str) -> None:
    assert redirect_uri_problem(uri) is not None


def test_registration_refuses_a_script_redirect_uri_with_its_own_error_code() -> None:
    with pytest.raises(InvalidRedirectUri) as refused:
        parse_metadata({"redirect_uris": ["javascript://%0Aalert(1)"]})
    assert refused.value.code == "invalid_redirect_uri"
    assert refused.value.details["field"] == "redirect_uris"


def test_registration_refuses_a_script_post_logout_redirect_uri() -> None:
    with pytest.raises(InvalidRedirectUri):
        parse_metadata({"post_logout_redirect_uris": ["data://text/html,x"]})


def test_stored_client_with_a_script_uri_loads_without_it() -> None:
    metadata = stored_metadata(
        {
            "grant_types": ["authorization_code"],
            "redirect_uris": ["javascript://%0Aalert(1)", "https://app.example/cb"],
            "post_logout_redirect_uris": ["vbscript://x"],
        }
    )
    assert metadata.redirect_uris == ["https://app.example/cb"]
    assert metadata.post_logout_redirect_uris == []


def test_stored_code_client_whose_only_redirect_uri_is_bad_loads_with_none() -> None:
    metadata = stored_metadata(
        {"grant_types": ["authorization_code"], "redirect_uris": ["javascript://x"]}
    )
    assert metadata.redirect_uris == []


def test_jwks_uri_must_be_https_or_loopback_http() -> None:
    assert web_uri_problem("https://keys.example/jwks.json") is None
    assert web_uri_problem("http://127.0.0.1:8000/jwks.json") is None
    assert web_uri_problem("http://keys.example/jwks.json") is not None
    assert web_uri_problem("com.example.app:/jwks") is not None
    assert web_uri_problem("file:///etc/passwd") is not None


# -- properties ---------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_name = (
    st.lists(_label, min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda host: not host.split(".")[-1].isdigit())
)
_path = st.from_regex(r"(/[A-Za-z0-9._~!$&'()*+,;=:@-]{0,12}){0,4}", fullmatch=True)
_query_text = st.from_regex(r"\?([A-Za-z0-9=&_-]|%[0-9A-F]{2}){0,20}", fullmatch=True)
_query = st.one_of(st.just(""), _query_text)
_port = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
_loopback = st.sampled_from(["localhost", "127.0.0.1", "127.0.0.53", "[::1]"])
_private_scheme = st.lists(
    st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), min_size=2, max_size=4
).map(".".join)

good_uris = st.one_of(
    st.builds(lambda h, p, pa, q: f"https://{h}{p}{pa}{q}", _name, _port, _path, _query),
    st.builds(lambda h, p, pa, q: f"http://{h}{p}{pa}{q}", _loopback, _port, _path, _query),
    st.builds(lambda s, pa: f"{s}:/cb{pa}", _private_scheme, _path),
)


@settings(deadline=None)
@given(good_uris)
def test_generated_allowed_uris_are_accepted(uri: str) -> None:
    assert redirect_uri_problem(uri) is None, uri


_odd = st.sampled_from(
    ["\t", "\n", "\r", " ", "\x00", "\x0b", "\x7f", "\u00a0", "\u2028", "\\", "#", '"', "<", "é"]
)


@settings(deadline=None)
@given(good_uris, _odd, st.integers(0, 4096))
@example("https://app.example/cb", "\t", 0)
def test_a_whitespace_control_or_odd_character_anywhere_is_refused(
    uri: str, odd: str, at: int
) -> None:
    position = at % (len(uri) + 1)
    assert redirect_uri_problem(uri[:position] + odd + uri[position:]) is not None


_script = st.sampled_from(["javascript", "data", "vbscript", "file", "blob", "about"])


@settings(deadline=None)
@given(_script, st.lists(st.booleans(), min_size=10, max_size=10), st.text(max_size=30))
def test_a_script_scheme_in_any_case_is_refused(scheme: str, upper: list[bool], rest: str) -> None:
    cased = "".join(c.upper() if u else c for c, u in zip(scheme, upper, strict=False))
    assert redirect_uri_problem(f"{cased}:{rest}") is not None
    assert redirect_uri_problem(f"{cased}://{rest}") is not None


@settings(deadline=None)
@given(st.text(max_size=80))
@example("javascript://%0Aalert(1)")
def test_whatever_is_accepted_is_a_safe_absolute_uri(uri: str) -> None:
    if redirect_uri_problem(uri) is not None:
        return
    parts = urlsplit(uri)
    assert uri.isascii() and uri.isprintable() and " " not in uri
    assert "#" not in uri and "\\" not in uri and "@" not in parts.netloc
    assert (
        parts.scheme == "https"
        or (
            parts.scheme == "http"
            and parts.hostname in ("localhost", "127.0.0.1", "::1")
            or parts.scheme == "http"
            and (parts.hostname or "").startswith("127.")
        )
        or "." in parts.scheme
    )
