"""Attacks on the gate's pure parts: what an upstream reads, header spellings, host names.

Each property says what an attacker must never achieve, for any input Hypothesis finds.
"""

from __future__ import annotations

import string
from typing import Any, cast
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.gateway.exchange_headers import upstream_headers
from authgate.gateway.mutate import MutationContext, is_reserved, strip_client_headers
from authgate.gateway.paths import AmbiguousPath, normalize_path
from authgate.gateway.pipeline import Decision
from authgate.gateway.principal import ANONYMOUS
from authgate.gateway.request import BadGateRequest, GateRequest, host_name
from authgate.gateway.upstreams import Target

_ALPHABET = string.printable + "..//%%\\;\u00e9\uff0e\uff0f\x00"
_ESCAPES = [f"%{b:02x}" for b in range(256)] + ["%2e", "%2E", "%252e", "%c0%ae", "%ef%bc%8e"]
raw_paths = st.builds(
    lambda parts: "/" + "".join(parts),
    st.lists(st.one_of(st.text(alphabet=_ALPHABET, max_size=4), st.sampled_from(_ESCAPES))),
)


def _read_by_upstream(path: str, decodes: int) -> str:
    for _ in range(decodes):
        path = unquote(path, errors="strict")
    return path


@pytest.mark.parametrize("decodes", [1, 2, 3])
@given(raw=raw_paths)
def test_no_upstream_decoding_any_number_of_times_reads_a_traversal(raw: str, decodes: int) -> None:
    try:
        normalized = normalize_path(raw)
    except AmbiguousPath:
        return
    read = _read_by_upstream(normalized, decodes)
    segments = read[1:].split("/")
    assert not [s for s in segments if s and s.strip(".") == ""]
    assert "" not in segments[:-1]
    assert "\\" not in read and "\x00" not in read and ";" not in read
    assert read.isascii()


@pytest.mark.parametrize("raw", ["/admin./x", "/admin%20/x", "/admin.%20/x", "/admin%20./x"])
def test_segments_ending_in_dots_or_spaces_are_refused(raw: str) -> None:
    with pytest.raises(AmbiguousPath):
        normalize_path(raw)


# -- the reserved namespace in every spelling ------------------------------------------------

_SEPARATOR = st.sampled_from("-_.")


def _spelled(word: str, data: st.DataObject) -> str:
    return "".join(c.upper() if data.draw(st.booleans()) else c for c in word)


@given(st.data(), st.sampled_from(["sub", "username", "groups", "scopes", "client", "identity"]))
def test_every_spelling_of_an_identity_header_is_reserved(data: st.DataObject, name: str) -> None:
    spelled = _spelled("x", data) + data.draw(_SEPARATOR) + _spelled("authgate", data)
    assert is_reserved(spelled + data.draw(_SEPARATOR) + _spelled(name, data))


def _forwarded(sent: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    request = GateRequest("GET", "http", "api.example", "/", "", sent, "198.51.100.7")
    patch = strip_client_headers(request, ANONYMOUS, MutationContext(upstream="u"))
    decision = Decision(cast(Any, None), ANONYMOUS, patch)
    return upstream_headers(request, decision, False, Target("http://10.0.0.1:8080"), None)


@given(st.data(), st.sampled_from(["x-forwarded-for", "x-forwarded-host", "x-real-ip"]))
def test_an_untrusted_peer_cannot_send_a_forwarding_header_in_any_spelling(
    data: st.DataObject, name: str
) -> None:
    spelled = "".join(data.draw(_SEPARATOR) if c == "-" else c for c in name)
    out = _forwarded(((spelled, "203.0.113.66"),))
    assert "203.0.113.66" not in [value for _, value in out]


# -- host names ------------------------------------------------------------------------------


@given(st.text(alphabet=string.printable + "\u00e9", max_size=40))
def test_a_host_name_is_a_plain_name_or_refused(value: str) -> None:
    try:
        host = host_name(value)
    except BadGateRequest:
        return
    if host is None:
        assert value == ""
        return
    assert host == host.lower()
    assert not set(host) & set("@/\\?#,; \t")
    assert host.startswith("[") or ":" not in host


@pytest.mark.parametrize(
    "value", ["a@b", "a,b", "a b", "a/b", "a\\b", "a:1:2", "a..b", "xn--\u00e9", "a:"]
)
def test_host_values_a_proxy_could_read_otherwise_are_refused(value: str) -> None:
    with pytest.raises(BadGateRequest):
        host_name(value)
