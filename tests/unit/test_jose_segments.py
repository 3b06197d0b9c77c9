"""One segment of a compact JWS is read as one JSON object, or refused with the rule it broke."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.jose_segments import MalformedSegment, SegmentFault, json_object_segment

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fault_of(segment: str) -> SegmentFault:
    with pytest.raises(MalformedSegment) as refused:
        json_object_segment(segment)
    return refused.value.fault


def read_or_refuse(segment: str) -> dict[str, Any] | SegmentFault:
    """The object read, or the fault it was refused for: any other exception escapes."""
    try:
        return json_object_segment(segment)
    except MalformedSegment as refused:
        return refused.fault


@given(st.dictionaries(st.text(), JSON_VALUES, max_size=6))
def test_an_encoded_json_object_is_read_back(document: dict[str, Any]) -> None:
    assert json_object_segment(b64url(json.dumps(document).encode())) == document


def test_a_repeated_member_is_refused() -> None:
    assert fault_of(b64url(b'{"alg":"RS256","alg":"none"}')) is SegmentFault.REPEATED_MEMBER


def test_a_repeated_member_of_a_nested_object_is_refused() -> None:
    assert fault_of(b64url(b'{"a":{"b":1,"b":2}}')) is SegmentFault.REPEATED_MEMBER


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_json_nested_too_deep_to_parse_is_refused_not_a_crash(opening: bytes) -> None:
    assert fault_of(b64url(opening * 6000)) is SegmentFault.NOT_JSON


@pytest.mark.parametrize("segment", ["e", "e30=", "e3+9", "e3/9", "e3 0", "é30"])
def test_text_that_is_not_unpadded_base64url_is_refused(segment: str) -> None:
    assert fault_of(segment) is SegmentFault.NOT_JSON


def test_an_empty_segment_is_refused() -> None:
    assert fault_of("") is SegmentFault.NOT_JSON


def test_bytes_that_are_not_json_are_refused() -> None:
    assert fault_of(b64url(b"{alg: RS256}")) is SegmentFault.NOT_JSON


def test_json_that_is_not_utf8_is_refused() -> None:
    assert fault_of(b64url(b'{"alg":"\xff"}')) is SegmentFault.NOT_JSON


@given(JSON_VALUES.filter(lambda value: not isinstance(value, dict)))
def test_json_that_is_not_an_object_is_refused(value: object) -> None:
    assert fault_of(b64url(json.dumps(value).encode())) is SegmentFault.NOT_AN_OBJECT


@given(st.binary(max_size=64))
def test_any_bytes_are_read_as_an_object_or_refused_never_an_other_error(data: bytes) -> None:
    assert isinstance(read_or_refuse(b64url(data)), dict | SegmentFault)


@given(st.text(max_size=64))
def test_any_text_is_read_as_an_object_or_refused_never_an_other_error(segment: str) -> None:
    assert isinstance(read_or_refuse(segment), dict | SegmentFault)
