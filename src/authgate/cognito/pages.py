"""Pagination tokens for the List* operations: opaque to the client and tamper-evident.

A token carries the store's cursor and a MAC over it and over what the listing was (its
scope: the operation and its filter), keyed by a key derived from the admin token. A
token edited, forged, or replayed against another listing is refused rather than
followed, so a cursor can never be steered to skip the filter it was made under.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from authgate.cognito.call import Call
from authgate.cognito.errors import invalid_parameter
from authgate.cognito.params import Shape

MAX_PAGE = 60  # Cognito's largest Limit for ListUsers, ListGroups and the like
TOKEN_SHAPE = Shape(1, 131072, r"[\S]+")
_MAC_BYTES = 16


def _key(call: Call) -> bytes:
    return hashlib.sha256(
        b"authgate cognito pagination\x00" + call.services.admin_token.encode()
    ).digest()


def _mac(call: Call, cursor: str, scope: str) -> bytes:
    message = f"{call.operation}\x00{scope}\x00{cursor}".encode()
    return hmac.new(_key(call), message, hashlib.sha256).digest()[:_MAC_BYTES]


def next_token(call: Call, cursor: str, scope: str) -> str:
    """The token that continues this listing after `cursor`."""
    raw = _mac(call, cursor, scope) + cursor.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_cursor(call: Call, member: str, scope: str) -> str | None:
    """The store cursor the call's token (member `member`) stands for; None to start."""
    token = call.params.optional_text(member, TOKEN_SHAPE)
    if token is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = raw[_MAC_BYTES:].decode()
    except (ValueError, UnicodeDecodeError):
        raise invalid_parameter("Invalid pagination token.") from None
    if not hmac.compare_digest(raw[:_MAC_BYTES], _mac(call, cursor, scope)):
        raise invalid_parameter("Invalid pagination token.")
    return cursor


def limit_of(call: Call, member: str) -> int:
    found = call.params.integer(member, 0, MAX_PAGE)
    return found or MAX_PAGE
