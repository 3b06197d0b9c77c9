"""Reading one segment of a JWS in compact form (RFC 7515 7.1) as a JSON object.

Wherever a JWS is vetted before PyJWT sees it (a provider's ID token, a client assertion),
its segments must be read by the same strict rules: base64url, then JSON in which no
member is repeated (another parser could keep the other value), nothing nested too deep
for the parser (a RecursionError, not a crash), and an object at the top. One reader, so
those rules cannot drift apart again; each caller maps its one exception to its own error.

A top-level module so that both `clients` and `federation` may use it.
"""

from __future__ import annotations

import base64
import json
import re
from enum import StrEnum
from typing import Any

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
"""The unpadded base64url alphabet: the decoder alone would skip foreign characters."""


class SegmentFault(StrEnum):
    """Why a segment was refused."""

    REPEATED_MEMBER = "a JSON member is repeated"
    NOT_JSON = "not base64url-encoded JSON"
    NOT_AN_OBJECT = "not a JSON object"


class MalformedSegment(Exception):
    """A segment that is not one JSON object: `fault` says which rule it broke.

    Deliberately not a ValueError, so the reader's own `except ValueError` cannot swallow
    a repeated member found in the middle of parsing.
    """

    def __init__(self, fault: SegmentFault) -> None:
        super().__init__(fault.value)
        self.fault = fault


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedSegment(SegmentFault.REPEATED_MEMBER)
    return result


def json_object_segment(segment: str) -> dict[str, Any]:
    """The JSON object a base64url segment encodes; MalformedSegment if it is not one."""
    if not _BASE64URL.fullmatch(segment):
        raise MalformedSegment(SegmentFault.NOT_JSON)
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw, object_pairs_hook=_unique_members)
    except (ValueError, RecursionError):  # RecursionError: nested too deep for the parser
        raise MalformedSegment(SegmentFault.NOT_JSON) from None
    if not isinstance(value, dict):
        raise MalformedSegment(SegmentFault.NOT_AN_OBJECT)
    return value
