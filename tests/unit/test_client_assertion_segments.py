"""A client assertion whose header or claims are not one JSON object is refused as an
invalid client, saying why, before any key is looked at (clients/assertions.py)."""

from __future__ import annotations

import base64

import pytest

from authgate.clients.assertions import read_assertion
from authgate.errors import InvalidClient

HEADER = b'{"alg":"RS256","typ":"JWT"}'
CLAIMS = b'{"iss":"c1","sub":"c1","aud":"https://authgate.example","exp":1,"jti":"j"}'
SEGMENTS = {"header": 0, "claims": 1}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion_with(part: str, segment: bytes) -> str:
    segments = [b64url(HEADER), b64url(CLAIMS), "c2ln"]
    segments[SEGMENTS[part]] = b64url(segment)
    return ".".join(segments)


def test_a_well_formed_assertion_is_read() -> None:
    assert read_assertion(assertion_with("claims", CLAIMS)).client_id == "c1"


@pytest.mark.parametrize("part", SEGMENTS)
def test_a_repeated_json_member_is_refused(part: str) -> None:
    repeated = b'{"alg":"RS256","alg":"none","iss":"c1","sub":"c1"}'
    with pytest.raises(InvalidClient, match="a JSON member is repeated"):
        read_assertion(assertion_with(part, repeated))


@pytest.mark.parametrize("part", SEGMENTS)
@pytest.mark.parametrize(
    "segment",
    [b"[" * 6000, b'["RS256"]', b"{alg}", b'{"alg":"\xff"}'],
    ids=["nested-too-deep", "array", "not-json", "not-utf8"],
)
def test_a_segment_that_is_not_a_json_object_is_not_a_jwt(part: str, segment: bytes) -> None:
    with pytest.raises(InvalidClient, match="it is not a JWT"):
        read_assertion(assertion_with(part, segment))
